"""Thread labels agree: real gdb, real stub, real kernel, tasks as threads.

gdb prints two numbers for a thread: the stub's id (`[Switching to Thread N]`,
the Target Id column of `info threads`) and its own number, given in the
order it hears of threads (`Thread N "comm" hit ...`, the Id column).  The
stub numbers tasks in that same order, per connection, so both are one N
and that N's `info threads` row is the task that stopped.  With pid + 1
they differed whenever gdb heard of a task out of pid order.
"""
import re
import subprocess

from gdbharness import run_gdb
from gdbstub.harness import session

SWITCH = re.compile(r"^\[Switching to Thread (\d+)\]$")
HIT = re.compile(r'^Thread (\d+) "([^"]*)" hit ')
ROW = re.compile(r'^([* ]) +(\d+) +Thread (\d+) "([^"]*)"')


def label_problems(text):
    """(number of hits, [problems]) of a transcript: every hit names the
    thread of the last `[Switching to Thread N]`; in every `info threads`
    table gdb's number is the stub's id and the selected row is the last
    hit's thread and comm."""
    problems, hits = [], 0
    shown = hit = None
    rows = []

    def end_table():
        if rows and hit is not None:
            sel = [r for r in rows if r[0] == "*"]
            if [(n, comm) for _, n, _, comm in sel] != [hit]:
                problems.append(f"selected row {sel} is not the last hit {hit}")
        rows.clear()

    for line in text.splitlines():
        m = ROW.match(line)
        if m:
            star, num, tid, comm = m.group(1), int(m.group(2)), int(m.group(3)), m.group(4)
            rows.append((star, num, tid, comm))
            if num != tid:
                problems.append(f"info threads row: gdb's {num} is the stub's Thread {tid}: {line}")
            continue
        if not line.startswith(" "):       # not a row's continuation nor the header
            end_table()
        m = SWITCH.match(line)
        if m:
            shown = int(m.group(1))
        m = HIT.match(line)
        if m:
            hits += 1
            hit = (int(m.group(1)), m.group(2))
            if shown is not None and hit[0] != shown:
                problems.append(f"[Switching to Thread {shown}] then {line}")
    end_table()
    return hits, problems


def _loop(n, every=5):
    cmds = []
    for i in range(n):
        cmds.append("continue")
        if i % every == every - 1:
            cmds.append("info threads")
    return cmds


def test_label_checker_sees_the_reported_disagreement():
    hits, problems = label_problems('[Switching to Thread 9]\n\nThread 8 "late/1" hit Breakpoint 1, '
                                    'late_worker (unused=0x0)\n(gdb) info threads\n'
                                    '* 8    Thread 9 "late/1" (pid 8, running) late_worker ()\n'
                                    '(gdb) ')
    assert hits == 1 and len(problems) == 2


def test_switch_to_loop_with_tasks_from_the_start(kernel, gdb):
    text = run_gdb(kernel, "break __switch_to", *_loop(60), stub_args=("--tasks",))
    hits, problems = label_problems(text)
    assert hits == 60 and problems == [], problems
    assert len(set(re.findall(r"^\[Switching to Thread (\d+)\]$", text, re.M))) >= 6


def test_switch_to_loop_with_tasks_turned_on_at_a_stop(kernel, gdb):
    """gdb hears first of the task each stop names, not of the list in pid
    order: the running task at the first stop after `monitor tasks on`."""
    text = run_gdb(kernel, "break __switch_to", "continue", "continue", "monitor tasks on",
                   *_loop(50))
    hits, problems = label_problems(text)
    assert hits >= 50 and problems == [], problems


def test_two_new_kthreads_named_by_a_stop_before_any_list(kernel, gdb):
    """The reported case (lab 4's planted bug): init starts late/0 and late/1
    while gdb waits; the stop in late/1 names it before gdb listed late/0."""
    text = run_gdb(kernel, "break late_worker", "continue", "continue", "info threads",
                   stub_args=("--tasks", "--append", "kthread_bug=lost_complete"))
    hits, problems = label_problems(text)
    assert hits == 2 and problems == [], problems
    assert re.search(r'^Thread \d+ "late/1" hit Breakpoint 1, late_worker', text, re.M), text


def test_a_second_connection_numbers_from_1_again(kernel, gdb):
    """One stub, two gdbs: the second hears first of the task on the CPU
    (init, pid 1), its thread 1, whatever the first gdb called it."""
    first_cmds = ["break oops_test", "continue", "info threads", "detach"]
    second_cmds = ["info threads", "monitor ps"]
    with session.StubProcess(kernel, ("--tasks", "--halt-on-detach"), once=False) as stub:
        first, second = (subprocess.run(
            session.gdb_command(kernel, stub.address(), commands=cmds),
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=120,
            stdin=subprocess.DEVNULL).stdout for cmds in (first_cmds, second_cmds))
    assert re.search(r'^\* 2 +Thread 2 "init" \(pid 1, running\)', first, re.M), first
    assert re.search(r'^\* 1 +Thread 1 "init" \(pid 1, running\)', second, re.M), second
    assert label_problems(first)[1] == [] and label_problems(second)[1] == []
    assert re.search(r"^\*   1       1  R \(running\) +init$", second, re.M), second


def test_extended_remote_run_numbers_from_1_again(kernel, gdb):
    """gdb numbers a new inferior's threads from 1: the first run hears of
    kthreadd before init, the second of init first."""
    from test_extended_e2e import run_extended
    text = run_extended(kernel, ["break kthreadd", "run", "info threads", "delete",
                                 "break oops_test", "run", "info threads"],
                        stub_args=("--tasks",))
    hits, problems = label_problems(text)
    assert hits == 2 and problems == [], problems
    first, second = text.split("+run\n")[1:]
    assert re.search(r'^Thread 2 "swapper" hit Breakpoint 1, kthreadd', first, re.M), first
    assert re.search(r'^  3 +Thread 3 "init"', first, re.M), first
    assert re.search(r'^Thread 2 "init" hit Breakpoint 2', second, re.M), second


def test_kt_bt_asks_the_stub_which_thread_is_which_task(kernel, gdb):
    """labs/kt_lab.py alone (it loads gdb_scripts/kt itself): in the late/0
    late/1 case gdb numbered late/1 before late/0; kt-bt still shows each
    task's own stack (the running one in late_worker, the other asleep)."""
    text = run_gdb(kernel, "break late_worker", "continue", "continue", "delete",
                   f"source {session.ROOT}/labs/kt_lab.py", "kt-bt late/0", "kt-bt late/1",
                   stub_args=("--tasks", "--append", "kthread_bug=lost_complete"))
    late0 = text[text.index('pid 7 "late/0"'):text.index("(gdb) kt-bt late/1")]
    late1 = text[text.index('* pid 8 "late/1" (running):'):]
    assert re.search(r"^#0  0x........ in schedule \(\)", late0, re.M), late0
    assert re.search(r"^#0  late_worker \(unused=0x0\)", late1, re.M), late1
