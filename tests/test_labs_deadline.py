"""Grading deadlines: counted in guest instructions (the stub's --deadline),
with wall-clock time only as a backstop for loops in gdb itself."""
import re

from labs import get_lab
from labs.grade import grade

KT_PS = "---- grader: kt-ps at the end ----"


def test_a_continue_that_never_stops_ends_at_the_deadline_every_time(kernel, gdb):
    """No breakpoint is ever hit: the machine stops with SIGXCPU at the lab's
    deadline, at the same instruction every run; the report says TIMEOUT and
    the transcript keeps kt-ps and every task's backtrace."""
    lab = get_lab(1)
    runs = [grade(lab, "continue\nbt\nstepi\nmonitor icount\n", "", kernel=kernel,
                  deadline=5_000_000) for _ in range(2)]
    r = runs[0]
    assert r.replay.deadline_hit and not r.replay.timed_out
    assert r.score == 0
    assert r.report().splitlines()[1].startswith(
        "TIMEOUT: the machine reached the lab's deadline of 5,000,000 guest instructions")
    student = r.replay.student
    assert student.count("Program received signal SIGXCPU, CPU time limit exceeded.") == 2
    assert "icount 5000000" in student
    t = r.replay.transcript
    assert "ksoftirqd/0" in t.split(KT_PS)[-1]
    assert re.search(r"Thread \d+ \(Thread \d+ \"kthreadd\"", t.split(KT_PS)[-1])
    trace = t.split("---- grader: the last scheduling-trace events ----")[-1]
    assert re.search(r"^ *\d+ +[\d.]+ ms +\S+\[\d+\] +(switch|wake_up_process|complete)", trace, re.M), trace[:2000]
    port = re.compile(r"127\.0\.0\.1:\d+")
    assert port.sub("", runs[1].replay.transcript) == port.sub("", t)


def test_the_lab_deadline_comes_from_grading_json(kernel, gdb):
    lab = get_lab(1)
    lab.spec = dict(lab.spec, deadline=3_000_000)
    r = grade(lab, "continue\nmonitor icount\n", "", kernel=kernel)
    assert r.replay.deadline == 3_000_000 and "icount 3000000" in r.replay.student


def test_a_loop_in_gdb_is_stopped_by_the_wall_clock_backstop(kernel, gdb):
    """`while 1` never runs the machine, so only wall-clock time can end it:
    the grader interrupts gdb (SIGINT, as Ctrl-C) and the trailer still runs."""
    lab = get_lab(1)
    r = grade(lab, "while 1\nend\nbt\n", "", kernel=kernel, timeout=3)
    assert r.replay.timed_out and r.replay.interrupts == 1 and not r.replay.deadline_hit
    assert "TIMEOUT: gdb was still running after the wall-clock backstop" in r.report()
    assert "ksoftirqd/0" not in r.replay.student
    assert "---- grader: kt-ps at the end ----" in r.replay.transcript
