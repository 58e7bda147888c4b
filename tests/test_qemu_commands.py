"""The same gdb scripts on QEMU and on ours, so fidelity does not drift.

Each script runs in real gdb against qemu-system-i386 7.2 (TCG) and against our
stub on the same vmlinux; the transcripts must be the same but for the
`target remote` lines (ours starts at the multiboot entry, QEMU at the reset
vector: test_qemu_fidelity.assert_same_but_connect, docs/qemu.md).  Skipped
where qemu-system-i386 is missing (failed when $CI is set).

Covered: `finish` with return values, `until` and `advance`, `display/i $pc`
while stepping, `jump`, `return`, `set var` (no `call`: ours, like QEMU, has no
inferior calls worth comparing), `hbreak`, and `next 50` across timer ticks.
Source lines are found by their text, so kernel edits do not break the scripts.
"""
import os

import pytest

from test_qemu_fidelity import (ROOT, Qemu, assert_same_but_connect, ours_transcript,  # noqa: F401
                                qemu, run_gdb)
from gdbstub.harness import session


def line_of(path, text, after=0):
    """`path:N`: the one line of kernel_src/`path` that contains `text` (or the
    line `after` lines below it)."""
    with open(os.path.join(ROOT, "kernel_src", path)) as f:
        hits = [i for i, line in enumerate(f, 1) if text in line]
    assert len(hits) == 1, (path, text, hits)
    return f"{path}:{hits[0] + after}"


def both(kernel, commands, append=None):
    """(ours, QEMU's) transcripts of `commands`."""
    if append is None:
        ours = ours_transcript(kernel, commands=commands)
        extra = ()
    else:
        ours, _ = session.run(commands=commands, kernel=kernel, stub_args=["--append", append])
        extra = ("-append", append)
    with Qemu(kernel, extra=extra) as q:
        theirs = run_gdb(kernel, q.address(), commands=commands)
    return ours, theirs


def test_finish_prints_the_return_values(kernel, gdb, qemu):
    ours, theirs = both(kernel, [
        "break kthread_create_list_empty", "continue", "finish", "p $ + 1",
        "delete", "break kthread_should_stop", "continue", "finish"])
    assert "Run till exit from #0  kthread_create_list_empty ()" in ours, ours
    assert "Value returned is $1 = 1" in ours and "$2 = 2" in ours, ours
    assert "Value returned is $3 = 0" in ours, ours
    assert_same_but_connect(ours, theirs)


def test_until_and_advance(kernel, gdb, qemu):
    """advance to a line and to a function; until the next line runs msleep(100)
    (ten timer ticks) in between."""
    ours, theirs = both(kernel, [
        "break kernel_init", "continue",
        f"advance {line_of('init/main.c', 'msleep(100);')}",
        f"until {line_of('init/main.c', 'pid = demo->pid;')}",
        "advance kthread_stop", "bt 2", "until", "until"])
    assert "kthread_stop (k=" in ours, ours
    assert_same_but_connect(ours, theirs)


def test_display_i_pc_while_stepping(kernel, gdb, qemu):
    ours, theirs = both(kernel, [
        "break kthreadd", "continue", "display/i $pc", "stepi", "si", "nexti 3",
        "next", "step", "info display", "undisplay 1", "stepi"])
    assert "1: x/i $pc" in ours and "=> 0xc" in ours, ours
    assert_same_but_connect(ours, theirs)


def test_jump(kernel, gdb, qemu):
    """Past kthreadd's prologue, jump over set_task_comm() and ignore_signals()."""
    target = line_of("kernel/kthread.c", "ignore_signals(current);", after=1)
    ours, theirs = both(kernel, [
        "break kthreadd", "continue", "next", f"tbreak {target}", f"jump {target}",
        "bt 1", "p current->comm"])
    assert "Continuing at 0xc" in ours and "Temporary breakpoint 2, kthreadd" in ours, ours
    assert_same_but_connect(ours, theirs)


def test_return_pops_the_frame(kernel, gdb, qemu):
    """`return 0` from kthread_create_list_empty: kernel_init skips its printk."""
    ours, theirs = both(kernel, [
        "break kthread_create_list_empty", "continue", "return 0", "bt 1", "next",
        "info line *$pc"])
    assert "#0  0xc" in ours and "in kernel_init" in ours, ours
    assert "msleep(100);" in ours.split("(gdb) next", 1)[1], ours
    assert_same_but_connect(ours, theirs)


def test_set_var(kernel, gdb, qemu):
    ours, theirs = both(kernel, [
        "break kthreadd", "continue", "set var kthreadd_task->comm[0] = 'K'",
        "p kthreadd_task->comm", "set var $ebx = 0x1234", "p/x $ebx",
        "set var nr_switches = 7", "p nr_switches", "next", "p/x $ebx"])
    assert '$1 = "Kwapper' in ours and "$2 = 0x1234" in ours and "$3 = 7" in ours, ours
    assert_same_but_connect(ours, theirs)


def test_hbreak(kernel, gdb, qemu):
    ours, theirs = both(kernel, [
        "hbreak kthread_create_list_empty", "continue", "info breakpoints", "bt 1",
        "delete", "hbreak *kthread_should_stop", "continue", "bt 1"])
    assert "Hardware assisted breakpoint 1" in ours and "hw breakpoint" in ours, ours
    assert_same_but_connect(ours, theirs)


def test_next_50_across_timer_ticks(kernel, gdb, qemu):
    """A late worker (lab 4's bug option) loops on msleep_interruptible(20):
    50 `next` cross 50 timer ticks.  QEMU's PIT follows the wall clock, ours
    the instruction count: the same lines either way."""
    ours, theirs = both(kernel, ["tbreak late_worker", "continue", "next 50", "bt 1",
                                 "info line *$pc"], append="kthread_bug=lost_complete")
    assert "(gdb) next 50\n" in ours and "late_worker (unused=" in ours, ours
    assert_same_but_connect(ours, theirs)
