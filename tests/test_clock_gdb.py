"""Through real gdb: the same long script gives the same stops, icounts,
`jiffies` and kernel log with extra unrelated breakpoints and watchpoints
(a watched page the guest never touches leaves the clock as it was), and
with the stub running its continues in small slices (--slice), and with
the block clock (KTHREAD_CLOCK=block) instead of the engine counting."""
import random
import re

import pytest

import gdbharness


@pytest.fixture(scope="module")
def kernel():
    from machine.kbuild import ensure_kernel
    return ensure_kernel()


MAIN = ["break kthread_create", "break wake_up_process"]
# never hit: lab5_start runs only with lab5=run; the word is free RAM
EXTRA = ["break lab5_start", "watch *(int *)0xc7000100"]
BODY = (["continue", "monitor icount", "p jiffies"] * 12
        + ["delete", "break oops_test", "continue", "monitor icount", "p jiffies",
           "monitor dmesg"])


def from_first_continue(text):
    """From the first continue on; breakpoint numbers differ with the extras."""
    lines = [re.sub(r"^(Temporary breakpoint|Breakpoint) \d+", r"\1 N", l)
             for l in text.splitlines()]
    return lines[lines.index("(gdb) continue"):]


def test_same_script_same_run(kernel, monkeypatch):
    base = from_first_continue(gdbharness.run_gdb(kernel, *(MAIN + BODY)))
    hits = [l for l in base if l.startswith(("Breakpoint N, kthread_create (",
                                             "Breakpoint N, wake_up_process ("))]
    assert len(hits) == 12, base
    assert any(l.startswith("icount ") for l in base[-40:])
    assert any("init: boot complete" in l for l in base), base
    extra = gdbharness.run_gdb(kernel, *(MAIN + EXTRA + BODY))
    assert "Hardware watchpoint 4: *(int *)0xc7000100" in extra
    assert from_first_continue(extra) == base
    for n in (997, random.Random(15).randint(2, 50_000)):
        sliced = gdbharness.run_gdb(kernel, *(MAIN + BODY), stub_args=("--slice", str(n)))
        assert from_first_continue(sliced) == base, n
    # the stub with the block clock instead of the engine's inline count
    monkeypatch.setenv("KTHREAD_CLOCK", "block")
    assert from_first_continue(gdbharness.run_gdb(kernel, *(MAIN + BODY))) == base
