"""kthread-lab grade N --batch DIR: a course's submissions, graded in parallel,
the same bytes on every run; answer formats, duplicates, swapped arguments."""
import csv
import json
import os
import subprocess
import sys

import pytest

from labs import batch, get_lab

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "bench"))
from bench_batch import generate  # noqa: E402


def run_lab(*args, cwd=ROOT, timeout=900):
    return subprocess.run([sys.executable, "-m", "labs", *args], stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, text=True, cwd=cwd, timeout=timeout,
                          env=dict(os.environ, PYTHONPATH=ROOT))


def _read_all(folder):
    out = {}
    for name in sorted(os.listdir(folder)):
        with open(os.path.join(folder, name), "rb") as f:
            out[name] = f.read()
    return out


def test_fifty_submissions_twice_give_the_same_bytes(kernel, gdb, tmp_path):
    lab = get_lab(1)
    subs = tmp_path / "subs"
    subs.mkdir()
    generate(lab, str(subs), 50)
    runs = []
    for out in ("out1", "out2"):
        r = run_lab("grade", "1", "--batch", str(subs), "--out", str(tmp_path / out))
        assert r.returncode == 0, r.stdout + r.stderr
        assert r.stdout.startswith("50 submissions graded into "), r.stdout
        runs.append(_read_all(tmp_path / out))
    files = runs[0]
    assert len([n for n in files if n.endswith(".json")]) == 50
    assert len([n for n in files if n.endswith(".transcript.txt")]) == 50
    assert "scores.csv" in files and "review.csv" in files
    assert runs[0] == runs[1]

    with open(tmp_path / "out1" / "scores.csv") as f:
        rows = {r["id"]: r for r in csv.DictReader(f)}
    assert len(rows) == 50
    by_kind = {}
    for sid, row in rows.items():
        by_kind.setdefault(sid.split("-", 1)[1], set()).add((row["score"], row["status"]))
    assert by_kind["reference"] == {("100", "graded")}
    assert by_kind["equivalent"] == {("100", "graded")}       # **Q1.** answers too
    assert by_kind["numbered"] == {("100", "graded")}         # 1. answers
    assert by_kind["wrong"] == {("30", "graded")}
    assert by_kind["mixed"] == {("75", "graded")}             # right commands, wrong answers
    assert by_kind["forged"] == {("30", "graded")}            # only the answers count
    assert by_kind["refused"] == {("0", "rejected")}
    assert by_kind["hang"] == {("0", "deadline")}
    assert by_kind["empty"] == {("0", "rejected")}
    assert rows["s06-refused"]["message"].endswith(
        "`shell` runs host commands; not allowed in a graded submission")
    assert rows["s08-empty"]["message"] == "expected one .gdb command file, found 0"
    assert rows["s00-reference"]["Q1-optimized-out"] == "10"
    rec = json.loads(files["s01-wrong.json"])
    assert rec["score"] == 30 and rec["status"] == "graded"
    failed = {t["name"]: t["hint"] for t in rec["tests"] if t["status"] == "fail"}
    assert failed["start-registers"].startswith("At kthreadd's first line")
    with open(tmp_path / "out1" / "review.csv") as f:
        review = list(csv.DictReader(f))
    assert {r["question"] for r in review if r["id"] == "s00-reference"} == {"Q1", "Q2", "Q3"}


def test_a_submission_that_crashes_the_grader_does_not_stop_the_batch(tmp_path, monkeypatch):
    lab = get_lab(1)
    for sid in ("a", "b", "c"):
        (tmp_path / "subs" / sid).mkdir(parents=True)
        (tmp_path / "subs" / sid / "lab.gdb").write_text("bt\n")

    class FakeResult:
        score, notes, tests = 0, [], []
        replay = type("R", (), {"deadline_hit": False, "timed_out": False,
                                "transcript": "t\n"})()

        def to_review(self):
            return []

    def fake_grade(lab, commands, answers, **kw):
        if commands == "crash\n":
            raise RuntimeError("the grader tripped")
        return FakeResult()
    (tmp_path / "subs" / "b" / "lab.gdb").write_text("crash\n")
    monkeypatch.setattr(batch, "grade", fake_grade)
    records = batch.run(lab, str(tmp_path / "subs"), str(tmp_path / "out"), kernel="k")
    assert [(r["id"], r["status"]) for r in records] == [
        ("a", "graded"), ("b", "error"), ("c", "graded")]
    assert records[1]["message"] == "RuntimeError: the grader tripped"
    assert sorted(os.listdir(tmp_path / "out")) == [
        "a.json", "a.transcript.txt", "b.json", "b.transcript.txt", "c.json",
        "c.transcript.txt", "review.csv", "scores.csv"]


def test_single_grading_exit_code_and_timeout_transcripts_of_their_own(kernel, gdb, tmp_path):
    sub = tmp_path / "hang.gdb"
    sub.write_text("continue\n")
    names = set()
    for _ in range(2):
        r = run_lab("grade", "1", str(sub), "--deadline", "3M", cwd=str(tmp_path))
        assert r.returncode == 1, r.stdout + r.stderr
        saved = [n for n in os.listdir(tmp_path) if n.startswith("lab1-timeout-")]
        names |= set(saved)
        assert f"saved in {sorted(saved)[-1]}" in r.stdout or any(
            f"saved in {n}" in r.stdout for n in saved)
    assert len(names) == 2          # two graders never write the same file


def test_duplicates_and_swapped_arguments_are_named(kernel, gdb, tmp_path):
    lab = get_lab(1)
    with open(lab.key_file("reference.gdb")) as f:
        ref = f.read()
    cmds, ans = tmp_path / "lab1.gdb", tmp_path / "answers.txt"
    cmds.write_text(ref)
    ans.write_text("Q4: 2\nQ4: 3\n")
    r = run_lab("grade", "1", str(ans), str(cmds))
    assert r.returncode == 2
    assert r.stderr == (f"kthread-lab: the files look swapped: {ans} holds answers (Q1: ...) "
                        f"and {cmds} gdb commands; the command file comes first: "
                        f"kthread-lab grade N {cmds} {ans}\n")
    r = run_lab("grade", "1-kthreadd", str(cmds), str(ans))
    assert "NOTE: Q4 is answered twice (lines 1 and 2): the first answer is graded" in r.stdout
    assert "Q4-pid: OK (5/5)" in r.stdout
