"""Backtraces through interrupt and exception entry, in real gdb.

entry_32.S describes its frames with CFI (asm/dwarf2.h, the RING0_*_FRAME
macros), so `bt` in a handler unwinds through the pt_regs frame into the
code the CPU interrupted: gdb shows the entry frame as `<signal handler
called>` and the interrupted function at the exact interrupted line.
Without that CFI gdb printed `#3 0x00008000 in ?? ()` under do_timer and
`#2 ... in boot_command_line ()` under do_trap.
"""
import os
import re

import pytest

from gdbharness import match_in_order, run_gdb

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _line(path, needle):
    with open(os.path.join(ROOT, "kernel_src", path)) as f:
        return next(i + 1 for i, l in enumerate(f) if needle in l)


def _frames(text, after):
    bt = text.split(after, 1)[1].split("(gdb) ", 1)[0]
    return re.findall(r"^#\d+ .*", bt, re.M)


def test_bt_under_the_timer_interrupt_reaches_the_interrupted_code(kernel, gdb):
    """A tick that interrupted the idle loop (our tasks never run for a whole
    tick): do_timer <- timer_interrupt <- the entry frame <- cpu_idle, on to
    the outermost frame."""
    text = run_gdb(kernel, "set width 0", "break do_timer", "continue", "bt")
    bt = text.split("(gdb) bt\n", 1)[1]
    assert "??" not in bt, text
    frames = _frames(text, "(gdb) bt\n")
    assert frames[0].startswith("#0  do_timer ") and "timer_interrupt" in frames[1], frames
    assert frames[2] == "#2  <signal handler called>", frames
    assert re.fullmatch(r"#3  (0x\w+ in )?cpu_idle \(\) at arch/x86/kernel/process_32.c:\d+",
                        frames[3]), frames
    assert re.search(r"#\d+  (0x\w+ in )?start_kernel \(\)", bt), frames
    assert "in startup_32 () at arch/x86/kernel/head_32.S" in frames[-1], frames


@pytest.mark.parametrize("kind,needle", [("de", '"divl %2"'), ("ud", '"ud2"'),
                                         ("pf", "*(volatile int *) 0 = 1;")])
def test_bt_in_do_trap_reaches_the_faulting_line(kernel, gdb, kind, needle):
    line = _line("kernel/oops_test.c", needle)
    text = run_gdb(kernel, "set width 0", "break do_trap", "continue", "continue", "bt",
                   stub_args=["--append", f"oops={kind}"])
    assert "??" not in text.split("(gdb) bt", 1)[1], text
    match_in_order([
        r"re:Breakpoint 1, do_trap \(regs=0x........, vector=\d+\) at arch/x86/kernel/traps.c:\d+",
        r"re:#0  do_trap \(regs=0x........, vector=\d+\) at arch/x86/kernel/traps.c:\d+",
        "#1  <signal handler called>",
        rf"re:#2  (0x........ in )?oops_test \(\) at kernel/oops_test.c:{line}",
        r"re:#3  0x........ in kernel_init \(unused=<optimized out>\) at init/main.c:\d+",
        "#4  0x........ in kernel_thread_helper () at arch/x86/kernel/entry_32.S:1000",
    ], text)
