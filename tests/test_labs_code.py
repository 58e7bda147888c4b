"""Lab 5, a lab with code to write: `kthread-lab grade 5 FILE.c` builds a scratch copy
of the kernel with the student's kernel/lab5.c, boots it under a real stub with
lab5=run and watches it through real gdb (labs/codegrade.py)."""
import hashlib
import os
import subprocess
import sys

import pytest

from labs import LabError, get_lab
from labs.codegrade import grade_code

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
LAB5 = os.path.join(ROOT, "kernel_src", "kernel", "lab5.c")


def tree_digest():
    """kernel_src as the student has it: every file's path and content."""
    h = hashlib.sha256()
    src = os.path.join(ROOT, "kernel_src")
    for d, dirs, files in sorted(os.walk(src)):
        dirs.sort()
        for name in sorted(files):
            p = os.path.join(d, name)
            h.update(p.encode())
            with open(p, "rb") as f:
                h.update(f.read())
    return h.hexdigest()


@pytest.fixture(scope="module")
def lab(kernel):          # the kernel fixture builds kernel_src first
    return get_lab(5)


def test_reference_scores_full_marks_and_leaves_the_tree_alone(lab, gdb):
    before = tree_digest()
    r = grade_code(lab, lab.key_file("lab5.c"))
    assert r.score == r.total == 100, r.report(verbose=True)
    assert tree_digest() == before
    # what gdb saw: both threads at lab5_stop, and what kthread_stop returned
    assert "lab5/producer" in r.transcript and "lab5/consumer" in r.transcript
    assert "Value returned is" in r.transcript
    assert "lab5: lab5_stop() returned 0: produced" in r.console


def test_wrong_solution_loses_exactly_its_named_points(lab, gdb):
    """The consumer waits for items only: kthread_stop() on it never returns, the
    deadline ends the boot, and what depends on it fails with its hint."""
    r = grade_code(lab, lab.key_file("wrong-lab5.c"))
    assert r.failed() == ["consumer-stops", "every-item-once-in-order",
                          "both-release-themselves", "boot-completes"], r.report()
    assert r.score == 40
    report = r.report()
    hints = {t["name"]: t["hint"] for t in lab.spec["tests"]}
    assert f"    hint: {hints['consumer-stops']}" in report
    assert "SIGXCPU" in r.transcript            # stopped by the lab's deadline


def test_the_handed_out_template_builds_and_earns_only_that(lab, gdb, tmp_path):
    r = grade_code(lab, LAB5)
    assert r.failed() == [t["name"] for t in lab.spec["tests"]][1:], r.report()
    assert r.score == 10
    assert "lab5: lab5_start() returned -38" in r.console


def test_a_compile_error_is_shown_with_the_students_path(lab, tmp_path):
    bad = tmp_path / "lab5.c"
    with open(LAB5) as f:
        bad.write_text(f.read().replace("return -ENOSYS;", "return -ENOSYS", 1))
    r = grade_code(lab, bad)
    assert not r.built and r.score == 0
    report = r.report()
    assert "builds: FAIL (0/10)" in report
    assert "kernel/lab5.c:" in report and "error" in report
    assert "kthread-lab5-" not in report          # no scratch folder paths


def test_cli(lab, gdb, tmp_path):
    def run(*args):
        return subprocess.run([sys.executable, "-m", "labs", "grade", "5", *args],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                              cwd=ROOT, timeout=300)
    r = run("--reference")
    assert r.returncode == 0 and r.stdout.rstrip().endswith("Score: 100/100"), r.stdout + r.stderr
    r = run(str(tmp_path / "missing.c"))
    assert r.returncode == 2 and r.stderr.startswith("kthread-lab: cannot read")
    r = run(LAB5, "answers.txt")
    assert r.returncode == 2 and "grades a C file" in r.stderr
    r = run("--batch", str(tmp_path))
    assert r.returncode == 2 and "grades C files one at a time" in r.stderr
    big = tmp_path / "big.c"
    big.write_text("x" * 300_000)
    r = run(str(big))
    assert r.returncode == 2 and "larger than" in r.stderr


def test_every_test_has_a_check(lab):
    from labs.codegrade import CHECKS
    assert [t["name"] for t in lab.spec["tests"]] == list(CHECKS)
    assert lab.total_points == 100
    with pytest.raises(LabError):
        lab.key_file("lab5.c", key="/nonexistent")


def test_start_5_stops_in_the_students_lab5_start(kernel, gdb, tmp_path):
    from test_labs_cli import start_batch
    r = start_batch(tmp_path, 5, "bt 2\nkt-ps\n")
    assert "Breakpoint 1, lab5_start () at kernel/lab5.c:" in r.stdout, r.stdout
    assert "in lab5_test () at kernel/lab5_test.c:" in r.stdout


@pytest.mark.parametrize("line", [
    '#include "../../labs/5-producer-consumer/key/lab5.c"',
    "#include </work/key/lab5.c>",
    "#include <linux/../../../labs/5-producer-consumer/key/lab5.c>",
    "#define KEY <linux/lab5.h>\n#include KEY",
    'asm(".incbin \\"/etc/passwd\\"");',
    '__asm__(".include \\"/etc/passwd\\"");',
    "#line 1 \"x\"",
    "#pragma GCC poison x",
])
def test_a_hand_in_that_could_read_host_files_is_refused_before_the_build(lab, tmp_path, line):
    """The compiler runs on the grading host: a hand-in may not make it read a
    host file (the key's lab5.c would compile, and score 100)."""
    bad = tmp_path / "lab5.c"
    with open(LAB5) as f:
        bad.write_text(f.read() + "\n" + line + "\n")
    with pytest.raises(LabError, match=r"lab5.c:\d+: .* is not allowed in a hand-in"):
        grade_code(lab, bad)
    assert not list(tmp_path.glob("kernel_src"))


FORGED = [
    r"release_task: pid 7 (lab5/producer) by lab5/producer",
    r"release_task: pid 8 (lab5/consumer) by lab5/consumer",
    r"lab5: lab5_stop() returned 0: produced 10, consumed 10, sum 55",
    r"@lab5 err=0 produced=10 consumed=10 sum=55",
    r"init: boot complete",
    r"Breakpoint 9, oops_test () at kernel/oops_test.c:20",
    r'$9 = "lab5/consumer"',
    r"Value returned is $10 = 55",
]


def test_printk_cannot_forge_evidence(lab, gdb, tmp_path):
    """The wrong solution plus printk()s of every line the checks could want
    (the console is the student's to write): it scores what the wrong
    solution scores, no more."""
    with open(lab.key_file("wrong-lab5.c")) as f:
        src = f.read()
    head = "int lab5_start(void)\n{\n"
    assert head in src
    forge = "".join('\tprintk("%s\\n");\n' % l.replace('"', '\\"') for l in FORGED)
    sub = tmp_path / "lab5.c"
    sub.write_text(src.replace(head, head + forge, 1))
    r = grade_code(lab, str(sub))
    assert FORGED[0] in r.console                # the forgeries were printed
    assert r.failed() == ["consumer-stops", "every-item-once-in-order",
                          "both-release-themselves", "boot-completes"], r.report()
    assert r.score == 40
