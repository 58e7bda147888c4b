"""Lab 6 (labs/6-smp-race): `kthread-lab seeds`, the lab's seed against the machine's
failing seeds (tests/test_kthread_race.py), and its reference replayed twice in real
gdb on 2 CPUs, byte for byte.  Grading (reference 100, equivalent 100, wrong 25) is in
tests/test_labs_grade.py with the other labs."""
import json
import re
import subprocess
import sys

from labs import get_lab
from labs.grade import grade
from test_kthread_race import FAILING, SEED, STUB_ARGS

LAB = get_lab(6)


def run_lab(*args):
    return subprocess.run([sys.executable, "-m", "labs", *args], capture_output=True,
                          text=True, timeout=600)


def key_file(name):
    with open(LAB.key_file(name)) as f:
        return f.read()


def test_the_lab_runs_the_machine_the_kernel_tests_check():
    """grading.json's machine is test_kthread_race's with its seed; the key's Q1 value is
    the failing set that test pins, and the handout names the seed."""
    args = LAB.stub_args
    i = args.index("--sched-seed")
    assert args[:i] + args[i + 2:] == STUB_ARGS and int(args[i + 1]) == SEED
    assert json.loads(key_file("key.json"))["checks"]["Q1-failing-seeds"]["value"] == FAILING
    with open(LAB.file("handout.md")) as f:
        assert f"grades your session on seed {SEED}." in " ".join(f.read().split())
    assert re.search(r"^Q1: " + ", ".join(map(str, FAILING)) + "$",
                     key_file("reference-answers.txt"), re.M)


def test_seeds_command_names_the_hanging_seeds(kernel):
    r = run_lab("seeds", "6", "--from", "13", "--to", "15")
    assert r.returncode == 0, r.stderr
    assert r.stdout.splitlines() == [
        "seed 13: boots (init: boot complete within 2,500,000 instructions)",
        "seed 14: HANGS (no 'init: boot complete' in 4,000,000 instructions)",
        "seed 15: boots (init: boot complete within 2,500,000 instructions)",
        "seeds 13..15 that hang: 14"]
    assert r.stderr.startswith("kthread-lab: lab 6: booting seeds 13..15 without gdb")


def test_seeds_command_refuses_bad_input_in_one_line():
    for args, says in [
            (("seeds", "4"), "kthread-lab: lab 4 runs on one CPU (no --cpus 2 or more in its "
                             "stub_args): --sched-seed changes nothing there\n"),
            (("seeds", "6", "--from", "5", "--to", "2"),
             "kthread-lab: --to 2 comes before --from 5\n"),
            (("seeds", "6", "--to", "/etc/passwd"),
             "argument --to: bad seed '/etc/passwd': give a non-negative integer\n"),
            (("seeds", "6", "--from", "x" * 3000), "argument --from: bad seed"),
            (("seeds", "6", "--to", "99999999999"),
             "kthread-lab: seeds 1..99999999999: at most 1000 at a time\n")]:
        r = run_lab(*args)
        assert r.returncode == 2 and r.stdout == "", (args, r)
        assert says in r.stderr and "Traceback" not in r.stderr, (args, r.stderr)


def test_the_reference_twice_gives_the_same_transcript(kernel, gdb):
    """Two CPUs, a race, three reverse-continues across CPUs: the same bytes twice."""
    runs = [grade(LAB, key_file("reference.gdb"), key_file("reference-answers.txt"),
                  kernel=kernel) for _ in range(2)]
    assert runs[0].score == 100, runs[0].report()
    assert runs[0].replay.transcript == runs[1].replay.transcript
    assert runs[0].replay.stops == runs[1].replay.stops
    text = runs[0].replay.transcript
    # the writes, as gdb showed them: kthreadd, then pool/0 on CPU 0, then pool/1 on CPU 1
    hits = re.findall(r'^Thread \d+ "([^"]+)" hit Hardware watchpoint', text, re.M)
    assert hits == ["kthreadd", "pool/0", "pool/1"], hits
