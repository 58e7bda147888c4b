"""kthread-lab grade: reference solutions score full marks, wrong ones lose the named points."""
import os
import subprocess
import sys

import pytest

from labs import get_lab
from labs.grade import check_answer, check_output, grade, parse_answers

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def read(lab, name):
    with open(lab.key_file(name)) as f:
        return f.read()


def test_parse_answers():
    a = parse_answers("intro\nQ1: one\n  more\nq2) two\nQ10. ten\n")
    assert a == {"Q1": "one\n  more", "Q2": "two", "Q10": "ten"}


def test_check_output_good_missing_bad():
    test = {"output": ["a 0x12345678", "re:b \\d+"], "absent": ["^#2 "]}
    ok, rep = check_output(test, "x\na 0xc0000000\nb 12\n".splitlines())
    assert ok and rep == ["GOOD    a 0x........", "GOOD    b 12"]
    ok, rep = check_output(test, "a 0xc0000000\nc\n".splitlines())
    assert not ok and rep[0] == "GOOD    a 0x........" and rep[1] == "MISSING re:b \\d+"
    ok, rep = check_output(test, "a 0xc0000000\nb 1\n#2 x\n".splitlines())
    assert not ok and rep[-2] == "BAD     #2 x"


@pytest.mark.parametrize("text,ok", [
    ("2", True), ("pid 2", True), ("kthreadd is pid 2.", True), ("0x2", True),
    ("2 or 3", False), ("not 2", False), ("definitely not 2", False), ("3", False),
    ("", False), ("kthreadd", False)])
def test_checkable_facts_are_compared_as_values(text, ok):
    got, _ = check_answer({"answer": "Q4", "value": 2}, {"Q4": text} if text else {})
    assert got is ok


@pytest.mark.parametrize("text,ok", [
    ("2, 12, 14", True), ("seeds 14 12 2", True), ("2 12 14 and 0x2", True),
    ("2, 12", False), ("2, 12, 14, 16", False), ("2,12,14.", True),
    ("not 2, 12, 14", False), ("", False)])
def test_a_set_of_values_must_be_exactly_that_set(text, ok):
    """A list "value" (lab 6's failing seeds): the answer's numbers, as a set."""
    got, _ = check_answer({"answer": "Q1", "value": [2, 12, 14]}, {"Q1": text} if text else {})
    assert got is ok


def test_free_text_is_prescreened_then_left_for_a_person():
    test = {"answer": "Q2", "review": True, "patterns": ["return address"]}
    assert check_answer(test, {})[0] is False                                   # missing
    assert check_answer(test, {"Q2": "it aligns the stack"})[0] is False        # off-topic
    # on topic, even negated: a person decides (the pre-screen never gives marks alone)
    assert check_answer(test, {"Q2": "definitely not a return address"})[0] == "review"


@pytest.mark.parametrize("number", [1, 2, 3, 4, 6])
def test_reference_scores_full_marks(kernel, gdb, number):
    lab = get_lab(number)
    r = grade(lab, read(lab, "reference.gdb"), read(lab, "reference-answers.txt"), kernel=kernel)
    assert r.score == r.total == 100, r.report()
    assert not r.replay.timed_out


WRONG = {
    1: (30, ["start-registers", "helper-pushes-zero", "return-address-into-helper",
             "step-into-create_kthread", "unused-optimized-out",
             "Q1-optimized-out", "Q2-pushed-zero", "Q3-registers"]),
    2: (20, ["pending-request", "wake-kthreadd", "init-waits-on-done", "new-thread-completes",
             "Q1-who-waits", "Q2-wake-kthreadd", "Q4-pid"]),
    3: (5, ["runq-at-start", "stop-in-__switch_to", "prev-and-next-pids", "prev-state",
            "tasks-as-threads", "init-sleeps-bt", "new-thread-bt",
            "Q1-who-switches", "Q2-idle-not-queued", "Q4-nr_switches"]),
    4: (25, ["should_stop-is-set", "reverse-to-the-writer", "releases-itself",
             "init-gets-ECHILD", "Q1-who-stops", "Q2-exit-code-42", "Q3-it-releases-itself",
             "Q4-reverse",
             "reverse-to-the-reinit", "the-lost-complete", "Q5-who-hangs",
             "Q6-the-buggy-line"]),
    # lab 6: finds the hang and the stuck pool, but watches the list head and blames kthreadd
    6: (25, ["reverse-to-kthreadd", "the-overwrite", "the-lost-link", "which-cpus", "stale-tail",
             "Q1-failing-seeds", "Q2-why-some-seeds", "Q3-the-two-writes", "Q4-the-fix"]),
}


@pytest.mark.parametrize("number", [1, 2, 3, 4, 6])
def test_an_equivalent_solution_with_other_commands_scores_full_marks(kernel, gdb, number):
    """key/equivalent.gdb reaches the same machine states with other commands
    (tbreak, finish, info registers, disassemble, watch -location, where, ...)."""
    lab = get_lab(number)
    r = grade(lab, read(lab, "equivalent.gdb"), read(lab, "reference-answers.txt"),
              kernel=kernel)
    assert r.score == r.total == 100, r.report(verbose=True)
    assert read(lab, "equivalent.gdb") != read(lab, "reference.gdb")


@pytest.mark.parametrize("number", [1, 2, 3, 4, 6])
def test_wrong_solution_loses_the_named_points(kernel, gdb, number):
    lab = get_lab(number)
    r = grade(lab, read(lab, "wrong.gdb"), read(lab, "wrong-answers.txt"), kernel=kernel)
    score, failed = WRONG[number]
    assert r.failed() == failed, r.report()
    assert r.score == score, r.report()
    report = r.report()
    assert f"Score: {score}/100" in report
    hints = {t["name"]: t["hint"] for t in lab.spec["tests"]}
    for name in failed:
        assert f"{name}: FAIL" in report and f"    hint: {hints[name]}" in report
    # The student's report never quotes the key; the instructor's (-v) does.
    assert "MISSING " not in report and "wanted" not in report
    secrets = [x for c in lab.load_key().values() for k in ("transcript", "patterns", "any")
               for x in c.get(k, []) if set(x) & set("\\|(^")]
    assert secrets and not [x for x in secrets if x in report]
    assert "MISSING " in r.report(verbose=True)


def test_cli_grade_reference_exit_0(kernel, gdb):
    r = subprocess.run([sys.executable, "-m", "labs", "grade", "1", "--reference"],
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT,
                       timeout=120)
    assert r.returncode == 0, r.stdout + r.stderr
    assert r.stdout.rstrip().endswith("Score: 100/100")


def test_cli_grade_student_file(kernel, gdb, tmp_path):
    lab = get_lab(2)
    cmds = tmp_path / "s.gdb"
    cmds.write_text(read(lab, "wrong.gdb"))
    ans = tmp_path / "a.txt"
    ans.write_text(read(lab, "reference-answers.txt"))
    r = subprocess.run([sys.executable, "-m", "labs", "grade", "2", str(cmds), str(ans)],
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT,
                       timeout=120)
    assert r.returncode == 1
    assert "wake-kthreadd: FAIL (0/15)" in r.stdout
    assert "Q1-who-waits: REVIEW (10/10 until a person grades the answer)" in r.stdout
    assert "Score: 45/100" in r.stdout


def test_grade_by_folder_name_and_from_a_key_kept_elsewhere(kernel, gdb, tmp_path):
    """`grade 1-kthreadd` (the name `list` prints) works; with the key moved out of
    the clone, --key KIT grades and the clone's default says where the key went."""
    import shutil
    kit = tmp_path / "kit"
    lab = get_lab("1-kthreadd")
    assert lab.number == 1
    shutil.copytree(lab.key_dir(), kit / "1-kthreadd" / "key")
    r = subprocess.run([sys.executable, "-m", "labs", "grade", "1-kthreadd", "--reference",
                        "--key", str(kit)], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       text=True, cwd=ROOT, timeout=120)
    assert r.returncode == 0 and r.stdout.rstrip().endswith("Score: 100/100"), r.stdout + r.stderr


def test_a_missing_or_mismatched_key_is_one_line(tmp_path):
    import json
    from labs import LabError
    lab = get_lab(1)
    with pytest.raises(LabError, match=r"no key for lab 1 in .*: expected"):
        lab.key_dir(str(tmp_path))
    lab.path = str(tmp_path / "1-kthreadd")          # a student's install: no key/ folder
    with pytest.raises(LabError, match="instructor key is not installed .* --key DIR"):
        lab.load_key()
    (tmp_path / "key.json").write_text(json.dumps({"checks": {"break-kthreadd": {}, "x": {}}}))
    with pytest.raises(LabError, match="does not match lab 1's grading.json: no check for "
                                       "backtrace-through-helper.*checks for unknown tests x"):
        lab.load_key(str(tmp_path))
