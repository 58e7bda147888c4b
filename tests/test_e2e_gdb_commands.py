"""Everyday gdb commands in real gdb, through a real stub, on the real kernel.

Each test runs one gdb session (a fresh stub on a TCP port) and asserts on what
gdb printed, addresses masked.  The kernel is deterministic, so the values
asserted here (pids, selectors, line numbers) are the same on every run.
"""
import re
import subprocess

import pytest

from gdbharness import match_in_order, run_gdb
from gdbstub.harness import session

TO_KTHREADD = ["break kthreadd", "continue"]


@pytest.fixture(scope="module")
def inspect(kernel, gdb):
    return run_gdb(kernel, *TO_KTHREADD,
                            "info registers", "x/16xw $esp", "info symbol *(unsigned *)$esp", "x/8i $pc",
                            "print current_task->pid", "print *current_task",
                            "print kthread_create_list", "info frame", "disassemble")


def test_info_registers(inspect):
    match_in_order([
        r"re:eax\s+0x0\s+0",                        # unused == NULL, in %eax (regparm)
        r"re:ebx\s+0x........\s+-?\d+",             # kernel_thread_helper calls *%ebx
        r"re:eip\s+0x........\s+0x........ <kthreadd>",
        r"re:eflags\s+0x[0-9a-f]+\s+\[ .*IF.* \]",
        r"re:cs\s+0x60\s+96",                       # __KERNEL_CS
        r"re:ss\s+0x68\s+104",                      # __KERNEL_DS
        r"re:ds\s+0x7b\s+123",                      # __USER_DS, as kernel_thread() set it
    ], inspect)


def test_examine_stack_and_code(inspect):
    match_in_order([
        r"re:0x........:(\s+0x........){4}",
        r"re:kernel_thread_helper \+ \d+ in section \.text",   # the return address
        r"re:=> 0x........ <kthreadd>:\s+push\s+%ebp",
        r"re:   0x........ <kthreadd\+1>:\s+mov\s+%esp,%ebp",
    ], inspect)


def test_print_current_task(inspect):
    match_in_order([
        "$1 = 2",                                     # kthreadd is pid 2
        r"re:\$2 = \{state = 0, .*",
        r"re:\$3 = \{next = 0x........ , prev = 0x........\}|\$3 = \{next = 0x........, prev = 0x........\}",
    ], inspect)
    assert "parent = 0x........ <init_task>" in re.sub(r"0x[0-9a-f]{5,}", "0x........", inspect)


def test_info_frame_and_disassemble(inspect):
    match_in_order([
        "Stack level 0, frame at 0x........:",
        r"re: eip = 0x........ in kthreadd \(kernel/kthread.c:192\); saved eip = 0x........",
        "Dump of assembler code for function kthreadd:",
        r"re:=> 0x........ <\+0>:\s+push\s+%ebp",
        "End of assembler dump.",
    ], inspect)


def test_stepi_nexti_tbreak_finish(kernel, gdb):
    text = run_gdb(kernel, *TO_KTHREADD, "stepi", "nexti", "stepi",
                            "tbreak create_kthread", "continue", "finish", "info breakpoints")
    match_in_order([
        r"re:0x........\s+192\s+\{",
        r"re:0x........\s+192\s+\{",
        "Temporary breakpoint 2, create_kthread (create=0x........)",
        "    at kernel/kthread.c:85",
        "kthreadd (unused=<optimized out>) at kernel/kthread.c:209",
        "209\t\t\tspin_lock(&kthread_create_lock);",
    ], text)
    # a temporary breakpoint is gone once hit
    assert not re.search(r"^2\s+breakpoint", text, re.M)


def test_until_advance_hbreak_delete(kernel, gdb):
    text = run_gdb(kernel, *TO_KTHREADD,
                            "advance 208", "until",
                            "delete", "hbreak create_kthread", "continue", "bt 1",
                            "delete", "info breakpoints")
    match_in_order([
        "kthreadd (unused=<optimized out>) at kernel/kthread.c:208",
        "208\t\t\tcreate_kthread(create);",
        "(gdb) until",
        "209\t\t\tspin_lock(&kthread_create_lock);",
        "Hardware assisted breakpoint 2 at 0x........: file kernel/kthread.c, line 85.",
        "Breakpoint 2, create_kthread (create=0x........) at kernel/kthread.c:85",
        "#0  create_kthread (create=0x........) at kernel/kthread.c:85",
        "No breakpoints or watchpoints.",
    ], text)


def test_set_var_reaches_the_guest(kernel, gdb):
    """A memory write from gdb is what the guest then computes with: the timer
    interrupt increments the jiffies value gdb wrote."""
    text = run_gdb(kernel, *TO_KTHREADD,
                            "set var jiffies = 1000000", "print jiffies",
                            "break do_timer", "continue", "continue", "finish",
                            "print jiffies - 1000000")
    match_in_order(["$1 = 1000000", r"re:\$2 = [1-9]\d*"], text)
    after = int(re.search(r"\$2 = (\d+)", text).group(1))
    assert after < 10, f"jiffies moved {after} ticks past the value gdb wrote"


def test_detach_then_reconnect(kernel, gdb):
    """After `detach` a second gdb attaches to the same machine (tests/test_detach.py:
    the guest ran on meanwhile)."""
    with session.StubProcess(kernel, once=False) as stub:
        first = subprocess.run(session.gdb_command(
            kernel, stub.address(), commands=[*TO_KTHREADD, "print jiffies", "detach"]),
            capture_output=True, text=True, timeout=120, stdin=subprocess.DEVNULL).stdout
        assert "Detaching from program" in first, first
        second = subprocess.run(session.gdb_command(
            kernel, stub.address(), commands=["print current_task->pid", "info breakpoints"]),
            capture_output=True, text=True, timeout=120, stdin=subprocess.DEVNULL).stdout
    assert "Remote debugging using" in second, second
    # The machine kept running after detach: kernel tasks, not the boot-time reset vector.
    assert "0x01000010 in ?? ()" not in second
    assert re.search(r"\$1 = \d+", second), second


def test_stdio_transport(kernel, gdb):
    """`target remote | kthread-stub --stdio`: no port at all."""
    cmd = ["gdb", "-q", "-nx", "-batch", *session.gdb_settings(), kernel,
           "-ex", f"target remote {session.stub_pipe(kernel, stderr_path=None)}",
           *sum((["-ex", c] for c in [*TO_KTHREADD, "bt"]), [])]
    text = subprocess.run(cmd, capture_output=True, text=True, timeout=120,
                          stdin=subprocess.DEVNULL, cwd=session.ROOT).stdout
    match_in_order([
        "Breakpoint 1, kthreadd (unused=0x0) at kernel/kthread.c:192",
        "#1  0x........ in kernel_thread_helper () at arch/x86/kernel/entry_32.S:1000",
    ], text)
