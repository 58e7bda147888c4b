"""Tasks mode never skips a stop, and never traps gdb: real gdb, real stub, real kernel.

With kernel tasks as threads the CPU still runs one instruction stream, so
`continue` must stop where it stops with tasks off, whatever thread gdb had
selected: gdb steps the thread that hit a breakpoint over it alone
(`vCont;s:T`), and the step must not run other tasks through their hits.
"""
import os
import re

import pytest

from gdbstub.harness import session

HERE = os.path.dirname(os.path.abspath(__file__))
SWITCHES = 50

# gdb Python: `break __switch_to` then SWITCHES x continue; before each one
# select another thread (by position in gdb's list), sometimes list threads
# or backtrace them all, as a user looking around would.  Prints one
# `STOP pc icount pid` line per stop.
LOOP = """
import gdb
gdb.execute("break __switch_to")
for i in range(%(n)d):
    threads = sorted(gdb.selected_inferior().threads(), key=lambda t: t.num)
    if %(select)s and i %% 5 != 4:
        threads[(i * 7) %% len(threads)].switch()
    if %(select)s and i %% 3 == 0:
        gdb.execute("info threads", to_string=True)
    if %(select)s and i %% 4 == 1:
        gdb.execute("thread apply all bt 1", to_string=True)
    gdb.execute("continue", to_string=True)
    icount = gdb.execute("monitor icount", to_string=True).split()[-1]
    gdb.write("STOP 0x%%x %%s %%d\\n" %% (int(gdb.parse_and_eval("$pc")), icount,
                                        int(gdb.parse_and_eval("current_task->pid"))))
"""


def _stops(kernel, tmp_path, name, stub_args, select):
    script = tmp_path / f"{name}.py"
    script.write_text(LOOP % {"n": SWITCHES, "select": select})
    text, _ = session.run(str(script), kernel=kernel, stub_args=stub_args)
    stops = re.findall(r"^STOP (\S+) (\d+) (\d+)$", text, re.M)
    assert len(stops) == SWITCHES, text[-2000:]
    return stops


@pytest.fixture(scope="module")
def without_tasks(kernel, gdb, tmp_path_factory):
    return _stops(kernel, tmp_path_factory.mktemp("off"), "off", (), False)


def test_stop_sequence_with_tasks_equals_without(kernel, gdb, tmp_path, without_tasks):
    """50 context switches: same pc, icount and pid at every stop, though gdb
    had another thread selected before most continues (it then steps the
    thread that hit __switch_to over it, alone, and that step switches the
    task off the CPU)."""
    with_tasks = _stops(kernel, tmp_path, "on", ("--tasks",), True)
    assert with_tasks == without_tasks
    assert len({pid for _, _, pid in without_tasks}) >= 5      # many tasks switched


def test_kt_bt_then_thread_apply_all_keeps_the_next_stop(kernel, gdb, without_tasks):
    """Tasks turned on mid-session by kt-bt at a __switch_to stop, every thread
    backtraced, then continue: the next switches are the ones without tasks."""
    text, _ = session.run(commands=[
        f"source {os.path.join(os.path.dirname(HERE), 'labs', 'kt_lab.py')}",
        "break __switch_to", "continue", "kt-bt 1", "thread apply all bt 1",
        "continue", "monitor icount", "continue", "monitor icount"], kernel=kernel)
    assert re.findall(r"^icount (\d+)$", text, re.M) == [without_tasks[1][1], without_tasks[2][1]]


def test_stepi_of_a_task_that_never_runs_stops_with_a_message(kernel, gdb):
    """After boot kthreadd sleeps for good: `thread 3`, `stepi` ends after the
    stub's bound of virtual time with a line saying why and SIGINT where the
    CPU is; stepping a task on the CPU is one instruction as ever."""
    text, _ = session.run(commands=[
        "break oops_test", "continue", "thread 3", "stepi", "p current_task->pid",
        "stepi", "p current_task->pid"], kernel=kernel, stub_args=("--tasks",))
    tail = text[text.index("(gdb) thread 3"):]
    from gdbharness import match_in_order
    match_in_order([
        "(gdb) stepi",
        'Thread 3 "kthreadd" (pid 2, sleeping) did not run within 50000000 instructions, '
        'so the step ended; the CPU runs Thread 1 "swapper" (pid 0, running)',
        'Thread 1 "swapper" received signal SIGINT, Interrupt.',
        "[Switching to Thread 1]",
        "(gdb) p current_task->pid",
        "$1 = 0",
        "(gdb) stepi",
        "(gdb) p current_task->pid",
        "$2 = 0",
    ], tail)
