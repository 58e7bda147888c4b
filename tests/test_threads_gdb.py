"""Kernel tasks as threads in real gdb, through a real stub, on the real kernel.

Tasks are threads once turned on (`kthread-stub --tasks`, or `monitor tasks on`
from gdb).  The kernel is deterministic, so pids, comms and the order in which
gdb discovers threads (its own thread numbers) are the same on every run.
After boot (`init: boot complete`, then init calls oops_test()) the tasks are:
swapper (pid 0), init (1, running), kthreadd (2), ksoftirqd/0 (3), events/0 (4),
khelper (5); kthread_demo (6) has been stopped and has released itself.
"""
import re

import pytest

import gdbharness
from gdbharness import mask, match_in_order, section
from gdbstub.harness import session

TASKS = ("--tasks",)
AFTER_BOOT = ["break oops_test", "continue"]


def run_gdb(kernel, *commands, stub_args=TASKS):
    return gdbharness.run_gdb(kernel, *commands, stub_args=stub_args)


@pytest.fixture(scope="module")
def after_boot(kernel, gdb):
    return run_gdb(kernel, *AFTER_BOOT, "info threads", "thread apply all bt",
                   "echo ---sleeping---\\n", "thread 3",
                   "p $pc == kthreadd_task->thread.ip",
                   "p $sp == kthreadd_task->thread.sp",
                   "p $ebp == *(unsigned long *) kthreadd_task->thread.sp",
                   "p $eax", "p $esi",
                   "set var $eax = 1", "set var $pc = 0",
                   "p $pc == kthreadd_task->thread.ip",
                   "echo ---running---\\n", "thread 2",
                   "p current_task->pid", "set var $eax = 5", "p $eax",
                   "echo ---end---\\n")


def test_info_threads_names_every_task(after_boot):
    text = section(after_boot, "(gdb) info threads", "(gdb) thread apply all bt")
    flat = re.sub(r"\n\s+", " ", text)      # gdb wraps the frame column
    for line in (r'1\s+Thread 1 "swapper" \(pid 0, runnable\)\s+0x........ in schedule \(\)',
                 r'\* 2\s+Thread 2 "init" \(pid 1, running\)\s+oops_test \(\)',
                 r'3\s+Thread 3 "kthreadd" \(pid 2, sleeping\)\s+0x........ in schedule \(\)',
                 r'4\s+Thread 4 "ksoftirqd/0" \(pid 3, sleeping\)',
                 r'5\s+Thread 5 "events/0" \(pid 4, sleeping\)',
                 r'6\s+Thread 6 "khelper" \(pid 5, sleeping\)'):
        assert re.search(line, mask(flat)), line
    assert "kthread_demo" not in text         # released before boot completed


def test_thread_apply_all_bt_ends_every_kthread_at_kernel_thread_helper(after_boot):
    text = section(after_boot, "(gdb) thread apply all bt", "---sleeping---")
    blocks = re.split(r"\nThread \d+ \(", text)[1:]
    assert len(blocks) == 6
    kthreads = 0
    for block in blocks:
        name = block.split('"')[1]
        frames = [l for l in block.splitlines() if l.startswith("#")]
        assert frames, block
        if name == "swapper":
            assert "in schedule ()" in frames[0] and "cpu_idle ()" in frames[1]
            assert "startup_32 ()" in frames[-1]
            continue
        assert frames[-1].endswith("in kernel_thread_helper () at arch/x86/kernel/entry_32.S:1000"), block
        if name != "init":
            assert re.fullmatch(r"#0  0x[0-9a-f]{8} in schedule \(\) at kernel/sched.c:\d+", frames[0]), block
        if name in ("ksoftirqd/0", "events/0", "khelper"):
            kthreads += 1
            assert re.search(r"in kthread \(_create=0x[0-9a-f]+\) at kernel/kthread.c:\d+", frames[-2]), block
    assert kthreads == 3
    for bad in ("Backtrace stopped", "Cannot access memory", "<unavailable>", "??"):
        assert bad not in text, bad


def test_sleeping_task_registers_are_its_switch_to_context(after_boot):
    text = section(after_boot, "---sleeping---", "---running---")
    match_in_order([
        r"re:\[Switching to thread 3 \(Thread 3\)\]",
        r"re:#0  0x........ in schedule \(\) at kernel/sched.c:\d+",
        "$1 = 1",                      # eip = thread.ip
        "$2 = 1",                      # esp = thread.sp
        "$3 = 1",                      # ebp = the word switch_to pushed at thread.sp
        "$4 = <unavailable>",          # eax was not saved anywhere
        "$5 = <unavailable>",
        r"""re:Could not write register "eax"; remote failure reply 'E\.cannot write eax of thread 3 \(kthreadd, pid 2\): the task is not running.*""",
        r"""re:Could not write register "eip"; remote failure reply 'E\.cannot write eip of thread 3 .*""",
        "$6 = 1",                      # unchanged
    ], text)


def test_running_task_registers_are_writable(after_boot):
    text = section(after_boot, "---running---", "---end---")
    match_in_order([
        r"re:\[Switching to thread 2 \(Thread 2\)\]",
        "$7 = 1",                      # init is current
        "$8 = 5",
    ], text)
    assert "Could not write" not in text


def test_next_over_schedule_comes_back_in_the_same_task(kernel, gdb):
    """kthreadd sleeps in schedule() at line 202 until init queues a request;
    `next` runs the other tasks meanwhile and stops in kthreadd at line 203."""
    text = run_gdb(kernel, "break kthread.c:202", "continue", "delete",
                   "p nr_switches", "next", "p nr_switches > $1", "bt", "info threads")
    match_in_order([
        r're:Thread \d+ "kthreadd" hit Breakpoint 1, kthreadd \(unused=<optimized out>\)',
        "    at kernel/kthread.c:202",
        "202\t\t\t\tschedule();",
        r"re:\$1 = \d+",
        "(gdb) next",
        "203\t\t\t\tspin_lock(&kthread_create_lock);",
        "$2 = 1",                                       # other tasks ran meanwhile
        "#0  kthreadd (unused=<optimized out>) at kernel/kthread.c:203",
        r"re:#1  0x........ in kernel_thread_helper \(\) at arch/x86/kernel/entry_32.S:1000",
    ], text)
    after_next = text[text.index("(gdb) next"):]
    assert "[Switching to" not in after_next           # no other thread reported
    flat = re.sub(r"\n\s+", " ", after_next)
    # gdb heard of kthreadd (the stop) before init (the list after it):
    # kthreadd is gdb's thread 2 and the stub's Thread 2
    assert re.search(r'\* 2\s+Thread 2 "kthreadd" \(pid 2, running\)\s+kthreadd', flat)


def test_breakpoint_hit_by_another_task_reports_that_task(kernel, gdb):
    """Tasks turned on from gdb (`monitor tasks on`); every new kthread runs
    kthread(), so each `continue` stops in another thread.  The first stop
    names ksoftirqd/0 (pid 3) before gdb has listed init and kthreadd: it is
    Thread 2 in both gdb's words and the stub's."""
    text = run_gdb(kernel, "monitor tasks on", "info threads", "break kthread", "continue",
                   "p current_task->pid", "continue", "p current_task->pid", stub_args=())
    match_in_order([
        "kernel tasks as threads: on",
        r"re:\* 1    Thread 1 \(CPU#0\)\s+0x........ in \?\? \(\)",   # paging off: the CPU
        r"re:Breakpoint 1 at 0x........: file kernel/kthread.c, line \d+\.",
        "[Switching to Thread 2]",
        r're:Thread 2 "kthreadd" hit Breakpoint 1, kthread \(_create=0x........\)',
        "$1 = 3",
        "[Switching to Thread 5]",
        r're:Thread 5 "kthreadd" hit Breakpoint 1, kthread \(_create=0x........\)',
        "$2 = 4",
    ], text)


def test_stepping_a_sleeping_task_runs_until_it_is_scheduled(kernel, gdb):
    """After boot init runs; select swapper (runnable, not on the CPU) and
    stepi: the machine runs until swapper is switched in and stops at its
    resume address, the pc gdb showed for it; then stepping is ordinary."""
    text = run_gdb(kernel, *AFTER_BOOT, "thread 1", "p $pc == init_task.thread.ip",
                   "stepi", "p current_task->pid", "p $pc == init_task.thread.ip",
                   "next", "info threads")
    match_in_order([
        r"re:\[Switching to thread 1 \(Thread 1\)\]",
        r"re:#0  0x........ in schedule \(\) at kernel/sched.c:(\d+)",
        "$1 = 1",
        "(gdb) stepi",
        r"re:0x........ in schedule \(\) at kernel/sched.c:\d+",
        "$2 = 0",                              # swapper is now current
        "$3 = 1",                              # stopped at its saved resume address
        "(gdb) next",
    ], text)
    flat = re.sub(r"\n\s+", " ", text[text.index("(gdb) next"):])
    assert re.search(r'\* 1\s+Thread 1 "swapper" \(pid 0, running\)', flat)
    assert re.search(r'2\s+Thread 2 "init" \(pid 1, uninterruptible\)', flat)


def test_seed_session_with_tasks_steps_the_same(kernel, gdb):
    """The documented kthreadd session (gdb_scripts/kthreadd.gdb) with tasks as
    threads: every step and next stops where the golden transcript does; the
    only differences are gdb's thread lines, and the breakpoint line, which gdb
    words "Thread N "comm" hit Breakpoint 2, ..." once it has seen two threads
    (why tasks are off by default: the seed shows "Breakpoint 2, ...")."""
    import os
    from gdbharness import from_first_command, load_golden, match_lines
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    text, _ = session.run(os.path.join(root, "gdb_scripts", "kthreadd.gdb"), kernel=kernel,
                          stub_args=TASKS)
    lines = []
    for line in text.splitlines():
        if re.fullmatch(r"\[(New|Switching to) Thread \d+\]", line) or line == "":
            continue
        if line == "    at kernel/kthread.c:192" and lines[-1].endswith("(unused=0x0)"):
            lines[-1] += " at kernel/kthread.c:192"
            continue
        lines.append(re.sub(r'^Thread \d+ "[^"]+" hit ', "", line))
    golden = load_golden(os.path.join(root, "tests", "golden", "test_kthreadd.gdb.out"))
    match_lines([l for l in from_first_command(golden) if l], from_first_command(lines))
    assert 'Thread 2 "swapper" hit Breakpoint 2, kthreadd (unused=0x0)' in text  # comm not set yet


def test_registers_after_a_stop_are_the_stopped_threads(kernel, gdb):
    """gdb selects another thread (Hg), then continues; at the stop it reads
    registers without a new Hg.  They must be the stopped thread's, not the
    thread selected before (that showed `x=<unavailable>`).

    Tasks are turned on at kthreadd's breakpoint, so gdb still believes its
    thread 1 (now swapper, not on the CPU) is there and steps it over the
    breakpoint alone (vCont;s:1): nothing runs, so no other task passes a
    breakpoint unreported (reporting one made gdb 13 fail in infrun.c
    finish_step_over): the first complete() after that, ksoftirqd's (pid 3,
    in its kthread()), is the stop.
    """
    text = run_gdb(kernel, "break kthreadd", "continue", "monitor tasks on",
                   "info threads", "thread 2", "bt 1", "break complete", "continue",
                   "bt 1", "p $pc == complete", "p current_task->pid", stub_args=())
    tail = text[text.index("(gdb) break complete"):]
    for bad in ("<unavailable>", "internal-error"):
        assert bad not in tail, tail
    match_in_order([
        r're:Thread 4 "kthreadd" hit Breakpoint 2, complete \(x=0x........\)',
        r"re:#0  complete \(x=0x........\) at kernel/completion.c:\d+",
        "$1 = 1",
        "$2 = 3",
    ], tail)


def test_tasks_turned_on_mid_session_thread_1_becomes_swapper(kernel, gdb):
    """gdb stays on its thread 1, which with tasks on is swapper: after the
    flush the monitor message asks for, its registers are swapper's (not the
    CPU's), and the message names the running task, which gdb numbers when it
    lists the threads."""
    text = run_gdb(kernel, "break kthreadd", "continue", "monitor tasks on",
                   "maintenance flush register-cache", "bt 1", "info threads",
                   "thread 3", "bt 1", stub_args=())
    match_in_order([
        "kernel tasks as threads: on",
        "gdb's current thread 1 is now swapper (pid 0); the CPU runs swapper (pid 2): "
        "'info threads' lists it",
        "(gdb) bt 1",
        r"re:#0  0x........ in schedule \(\) at kernel/sched.c:\d+",
        "(gdb) info threads",
        r're:  3    Thread 3 "swapper" \(pid 2, running\)\s+kthreadd \(unused=0x0\)',
        "(gdb) bt 1",
        "#0  kthreadd (unused=0x0) at kernel/kthread.c:192",
    ], text)
