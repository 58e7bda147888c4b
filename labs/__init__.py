"""kthread-lab: teaching labs on the kthread machine, in stock gdb.

Each lab is a directory `labs/N-name/` holding
  handout.md            what to do and read (markdown)
  start.gdb             run by `kthread-lab start N` / the grader to reach where the lab begins
  questions.md          the questions the answers file responds to (Q1:, Q2:, ...)
  reference.gdb         the reference solution's command file (runs after start.gdb)
  reference-answers.txt the reference answers
  wrong.gdb, wrong-answers.txt  a deliberately wrong solution (the tests grade it)
  grading.json          the graded tests: points, transcript lines, answer patterns
"""
import json
import os
import re

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
LABS_DIR = os.path.dirname(os.path.abspath(__file__))
_LAB_DIR = re.compile(r"^(\d+)-([a-z0-9-]+)$")


class LabError(Exception):
    """A user-facing error: the message is printed as is."""


class Lab:
    def __init__(self, number, name, path):
        self.number = number
        self.name = name
        self.path = path
        with open(os.path.join(path, "grading.json")) as f:
            self.spec = json.load(f)
        self.title = self.spec["title"]

    def file(self, name):
        return os.path.join(self.path, name)

    @property
    def stub_args(self):
        return list(self.spec.get("stub_args", []))

    @property
    def total_points(self):
        return sum(t["points"] for t in self.spec["tests"])

    def __repr__(self):
        return f"Lab({self.number}, {self.name!r})"


def all_labs():
    labs = []
    for entry in sorted(os.listdir(LABS_DIR)):
        m = _LAB_DIR.match(entry)
        path = os.path.join(LABS_DIR, entry)
        if m and os.path.exists(os.path.join(path, "grading.json")):
            labs.append(Lab(int(m.group(1)), m.group(2), path))
    return sorted(labs, key=lambda lab: lab.number)


def get_lab(number):
    for lab in all_labs():
        if str(lab.number) == str(number):
            return lab
    have = ", ".join(str(lab.number) for lab in all_labs())
    raise LabError(f"no lab {number} (labs: {have}; see `kthread-lab list`)")
