"""The documented kthreadd session (../shared/seed/kthreadd-walkthrough.md) in real gdb.

Real gdb runs gdb_scripts/kthreadd.gdb against a real kthread-stub on a real TCP
port, on the real kernel.  Two checks:
- the seed's own lines appear, in order, with addresses masked (SEED below is
  copied from the walkthrough; only the commands between differ: the seed
  elides the `next`s that walk kthreadd's loop up to `create_kthread(create);`);
- the whole transcript equals the golden one captured from real gdb and
  reviewed against the seed (tests/golden/test_kthreadd.gdb.out, which the
  pytest plugin also checks on its own pipe-connected stub; regenerate with
  `python tests/regen_golden.py` and review the diff), from the script's
  first command on (the connection lines name the TCP port here).
"""
import os

import pytest

from gdbharness import from_first_command, load_golden, match_in_order, match_lines
from gdbstub import session

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SCRIPT = os.path.join(ROOT, "gdb_scripts", "kthreadd.gdb")

SEED = [
    "Breakpoint 2, kthreadd (unused=0x0) at kernel/kthread.c:192",
    "192\t{",
    "(gdb) bt",
    "#0  kthreadd (unused=0x0) at kernel/kthread.c:192",
    "#1  0xc1003ad7 in kernel_thread_helper ()",
    "    at arch/x86/kernel/entry_32.S:1000",
    r"re:\(gdb\) .*",           # nothing after frame #1: the next prompt
    r"re:\(gdb\) (s|step)",
    "create_kthread (create=0xc706bf14) at kernel/kthread.c:89",
    "89\t\tpid = kernel_thread(kthread, create, CLONE_FS | CLONE_FILES | SIGCHLD);",
    r"re:\(gdb\) (n|next)",
    "90\t\tif (pid < 0) {",
    r"re:\(gdb\) (n|next)?",
    "kthreadd (unused=<optimized out>) at kernel/kthread.c:209",
    "209\t\t\tspin_lock(&kthread_create_lock);",
]


@pytest.fixture(scope="module")
def transcript(kernel, gdb):
    text, _ = session.run(SCRIPT, kernel=kernel)
    return text


def test_seed_lines_in_order(transcript):
    match_in_order(SEED, transcript)


def test_backtrace_ends_at_kernel_thread_helper(transcript):
    lines = transcript.splitlines()
    i = lines.index("    at arch/x86/kernel/entry_32.S:1000")
    assert lines[i + 1].startswith("(gdb) "), lines[i + 1]
    for bad in ("Backtrace stopped", "#2 ", "Cannot access memory", "warning:"):
        assert bad not in transcript, bad


def test_golden_transcript(transcript):
    golden = load_golden(os.path.join(ROOT, "tests", "golden", "test_kthreadd.gdb.out"))
    match_lines(from_first_command(golden), from_first_command(transcript))


def test_batch_mode_reproduces_the_session(kernel, gdb):
    """`gdb -batch -x gdb_scripts/kthreadd.gdb`: the same stops (batch mode never wraps lines)."""
    text, _ = session.run(SCRIPT, kernel=kernel, batch=True)
    match_in_order([
        "Breakpoint 2, kthreadd (unused=0x0) at kernel/kthread.c:192",
        "#1  0x........ in kernel_thread_helper () at arch/x86/kernel/entry_32.S:1000",
        "create_kthread (create=0x........) at kernel/kthread.c:89",
        "90\t\tif (pid < 0) {",
        "kthreadd (unused=<optimized out>) at kernel/kthread.c:209",
    ], text)
