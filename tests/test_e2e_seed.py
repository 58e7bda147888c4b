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
from gdbstub.harness import session

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


def _line_of(text, path=os.path.join(ROOT, "kernel_src", "kernel", "kthread.c"), after=None):
    """Line number of the first line of kthread.c equal to `text` (stripped),
    after the line that starts `after` if given."""
    lines = open(path).read().splitlines()
    start = 0
    if after is not None:
        start = next(i for i, s in enumerate(lines) if s.startswith(after)) + 1
    return next(i + 1 for i in range(start, len(lines)) if lines[i].strip() == text)


def test_seed_lines_are_breakable(kernel, gdb):
    """Each line the seed stops on has code of its own: `break kernel/kthread.c:N`
    lands on line N in the seed's function, and the stub stops there.  (With an
    inline spin_lock the line had no code: gdb moved the breakpoint to line 220,
    in kthread_create_list_empty.)"""
    seed = [
        (_line_of("pid = kernel_thread(kthread, create, CLONE_FS | CLONE_FILES | SIGCHLD);"),
         "create_kthread"),
        (_line_of("if (pid < 0) {"), "create_kthread"),
        (_line_of("{", after="int kthreadd("), "kthreadd"),
        (_line_of("spin_lock(&kthread_create_lock);", after="\t\tcreate_kthread(create);"),
         "kthreadd"),
    ]
    assert [n for n, _ in seed][-1] > seed[-2][0]
    commands = ["set width 0"]
    for n, _ in seed:
        commands += [f"info line kernel/kthread.c:{n}", f"break kernel/kthread.c:{n}"]
    last, func = seed[-1]
    commands += ["delete", f"break kernel/kthread.c:{last}", "continue"]
    text, _ = session.run(commands=commands, kernel=kernel)
    assert "contains no code" not in text, text
    expected = []
    for i, (n, f) in enumerate(seed):
        expected += [f"re:Line {n} of \"kernel/kthread.c\" starts at address 0x........ <{f}(\\+\\d+)?> .*",
                     f"Breakpoint {i + 1} at 0x........: file kernel/kthread.c, line {n}."]
    expected += [f"Breakpoint {len(seed) + 1}, {func} (unused=<optimized out>) at kernel/kthread.c:{last}",
                 f"{last}\t\t\tspin_lock(&kthread_create_lock);"]
    match_in_order(expected, text)
