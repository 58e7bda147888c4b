"""Watchpoints (Z2/Z3/Z4) in real gdb against the real stub and kernel, and
the machine-level contract under them (machine/watch.py)."""
import re
import subprocess

import pytest

from gdbharness import match_in_order, run_gdb


@pytest.fixture(scope="module")
def watch_list(kernel, gdb):
    return run_gdb(kernel, "watch kthread_create_list.next", "continue", "bt 2",
                   "print/x (unsigned)kthread_create_list.next",
                   "continue", "bt 2", "print/x (unsigned)kthread_create_list.next",
                   "info watchpoints", "delete", "info watchpoints")


def test_watch_stops_in_kthread_create_then_kthreadd(watch_list):
    match_in_order([
        "Hardware watchpoint 1: kthread_create_list.next",
        "Old value = <unreadable>",            # paging was off when gdb set it
        r"re:New value = \(struct list_head \*\) 0x........",
        r"re:kthread_create \(threadfn=0x........ <ksoftirqd>, .*",
        r"re:125\s+spin_unlock\(&kthread_create_lock\);",
        "#0  kthread_create (threadfn=0x........ <ksoftirqd>, data=0x0, ",
        "(gdb) continue",
        "Hardware watchpoint 1: kthread_create_list.next",
        r"re:Old value = \(struct list_head \*\) 0x........",
        r"re:New value = \(struct list_head \*\) 0x........ <kthread_create_list>",
        r"re:list_del_init \(entry=0x........\) at include/linux/list.h:\d+",
        "#1  kthreadd (unused=<optimized out>) at kernel/kthread.c:206",
        "\tbreakpoint already hit 2 times",
        "No watchpoints.",
    ], watch_list)


def test_watch_values_are_exact(watch_list):
    """New value is what memory holds at the stop; the next Old value is the
    previous New value (the stop came after the writing instruction)."""
    news = re.findall(r"New value = \(struct list_head \*\) (0x[0-9a-f]+)", watch_list)
    olds = re.findall(r"Old value = \(struct list_head \*\) (0x[0-9a-f]+)", watch_list)
    printed = re.findall(r"\$\d+ = (0x[0-9a-f]+)", watch_list)
    assert len(news) == 2 and printed == news, (news, printed)
    assert olds == news[:1]
    # the second write re-initialised the list head: next points at itself
    assert "<kthread_create_list>" in watch_list.split("(gdb) continue")[2].split("(gdb) bt")[0]


def test_rwatch_awatch_condition_delete(kernel, gdb):
    text = run_gdb(kernel, "break kthreadd", "continue", "delete",
                   "rwatch kthread_create_list.next", "continue", "delete",
                   "awatch kthread_create_list.prev", "continue", "continue", "delete",
                   "watch jiffies if jiffies == 5", "continue", "print jiffies",
                   "delete", "info breakpoints")
    match_in_order([
        "Hardware read watchpoint 2: kthread_create_list.next",
        r"re:Value = \(struct list_head \*\) 0x........",
        r"re:0x........ in kthreadd \(unused=<optimized out>\) at kernel/kthread.c:199",
        "Hardware access (read/write) watchpoint 3: kthread_create_list.prev",
        r"re:(Value|New value) = \(struct list_head \*\) 0x.........*",
        "Hardware watchpoint 4: jiffies",
        "Old value = 4",
        "New value = 5",
        r"re:0x........ in do_timer \(ticks=1\) at kernel/timer.c:\d+",
        "$1 = 5",
        "No breakpoints or watchpoints.",
    ], text)


def test_memory_hooks_only_while_a_watchpoint_exists(kernel):
    from machine import Machine
    from machine.history import TimeMachine
    out = subprocess.run(["nm", kernel], capture_output=True, text=True).stdout
    addr = int(re.search(r"^([0-9a-f]+) \w kthread_create_list$", out, re.M).group(1), 16)
    m = Machine(kernel)
    tm = TimeMachine(m)

    def hooks():
        return sum(w + r for _lo, _hi, w, r in m.memory_hooks)
    assert hooks() == 0
    tm.add_watchpoint("watch", addr, 4)
    assert hooks() == 1
    tm.add_watchpoint("awatch", addr, 4)
    assert hooks() == 3          # write hook for both, one read hook
    tm.remove_watchpoint("awatch", addr, 4)
    s = tm.cont(5_000_000)
    assert s.reason == "watchpoint" and s.watch == ("watch", addr)
    # stopped after the writing instruction: memory already holds the new value
    new = int.from_bytes(tm.read_memory(addr, 4), "little")
    assert new != addr and new >= 0xC0000000
    tm.remove_watchpoint("watch", addr, 4)
    assert hooks() == 0
    # exact state: the same run without the watchpoint passes through it
    icount, regs = tm.icount, tm.read_registers(["eip", "esp", "eax"])
    other = TimeMachine(Machine(kernel))
    other.cont(icount)
    assert other.read_registers(["eip", "esp", "eax"]) == regs


def test_sub_word_and_unaligned_watchpoints_fire(kernel, gdb):
    """Byte and unaligned watchpoints inside jiffies, which do_timer writes 4
    bytes at a time: the stub reports every write that overlaps them, gdb
    stops where the value changes (as QEMU does)."""
    text = run_gdb(kernel, "break kthreadd", "continue", "delete",
                   "watch *(unsigned char *)((char *)&jiffies + 1)", "continue",
                   "print jiffies", "delete",
                   "rwatch *(char *)((char *)&jiffies + 1)", "continue", "delete",
                   "awatch *(short *)((char *)&jiffies + 2)", "continue", "delete")
    match_in_order([
        "Hardware watchpoint 2: *(unsigned char *)((char *)&jiffies + 1)",
        "Old value = 0 '\\000'",
        "New value = 1 '\\001'",
        r"re:0x........ in do_timer \(ticks=1\) at kernel/timer.c:\d+",
        "$1 = 256",
        "Hardware read watchpoint 3: *(char *)((char *)&jiffies + 1)",
        "Value = 1 '\\001'",
        "Hardware access (read/write) watchpoint 4: *(short *)((char *)&jiffies + 2)",
        "Value = 0",
    ], text)
