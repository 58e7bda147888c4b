"""kthread-lab: teaching labs on the kthread machine, in stock gdb.

Each lab is a directory `labs/N-name/` holding what a student gets:
  handout.md            what to do and read (markdown)
  start.gdb             run by `kthread-lab start N` / the grader to reach where the lab begins
  questions.md          the questions the answers file responds to (Q1:, Q2:, ...)
  grading.json          the graded tests: name, points and the author's hint for each
and the instructor kit, `labs/N-name/key/` (not package data: a student's install
has none of it; `kthread-lab grade --key DIR` grades from a kit kept elsewhere):
  key.json              what each test checks (labs/README.md, "The key")
  reference.gdb, reference-answers.txt  the reference solution (full marks)
  wrong.gdb, wrong-answers.txt          a deliberately wrong solution (the tests grade it)
A lab whose hand-in is C code (grading.json "kind": "code", lab 5) has check.gdb
(the grader's own session) instead, and its key holds the reference and a wrong
version of that file (labs/codegrade.py).
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

    def key_dir(self, key=None):
        """The folder of this lab's instructor kit: `key` is a lab's key folder
        (holding key.json) or a kit holding `N-name/key/` or `N-name/` folders;
        None: the clone's own labs/N-name/key."""
        base = os.path.basename(self.path)
        if key is None:
            candidates = [os.path.join(self.path, "key")]
        else:
            candidates = [key, os.path.join(key, base, "key"), os.path.join(key, base)]
        for c in candidates:
            if os.path.isfile(os.path.join(c, "key.json")):
                return c
        if key is None:
            raise LabError(f"lab {self.number}'s instructor key is not installed (a student's "
                           f"install has none): grade with --key DIR (the kit's folder)")
        raise LabError(f"no key for lab {self.number} in {key}: expected {key}/key.json, "
                       f"{key}/{base}/key/key.json or {key}/{base}/key.json")

    def key_file(self, name, key=None):
        return os.path.join(self.key_dir(key), name)

    def load_key(self, key=None):
        """key.json's checks, one per test of grading.json (same names)."""
        path = self.key_file("key.json", key)
        try:
            with open(path) as f:
                checks = json.load(f)["checks"]
        except (OSError, ValueError, KeyError) as e:
            raise LabError(f"cannot read the key {path}: {e}")
        names = [t["name"] for t in self.spec["tests"]]
        missing = [n for n in names if n not in checks]
        extra = [n for n in checks if n not in names]
        if missing or extra:
            raise LabError(f"the key {path} does not match lab {self.number}'s grading.json: "
                           + "; ".join(filter(None, [
                               missing and "no check for " + ", ".join(missing),
                               extra and "checks for unknown tests " + ", ".join(extra)])))
        return checks

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
    """Lab `number`: `1`, or its folder name as `list` prints it (`1-kthreadd`)."""
    for lab in all_labs():
        if str(number) in (str(lab.number), os.path.basename(lab.path)):
            return lab
    have = ", ".join(str(lab.number) for lab in all_labs())
    raise LabError(f"no lab {number} (labs: {have}; see `kthread-lab list`)")
