"""target extended-remote: `run` (vRun) restarts the machine from its first
instruction, `kill` then `run`, ten runs identical, breakpoints as gdb expects."""
import os
import re
import subprocess

import pytest

from gdbharness import match_in_order
from gdbstub.harness import session

EACH_RUN = ["run", "monitor icount", "print $pc", "print/x $esp", "print create->threadfn",
            "print jiffies"]


def run_extended(kernel, commands, stub_args=()):
    with session.StubProcess(kernel, stub_args, once=True) as stub:
        cmd = session.gdb_command(kernel, stub.address(), commands=commands)
        i = cmd.index(f"target remote {stub.address()}")
        cmd[i] = f"target extended-remote {stub.address()}"
        r = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                           timeout=300, stdin=subprocess.DEVNULL, cwd=session.ROOT)
    return r.stdout


@pytest.fixture(scope="module")
def first_fork_icount(kernel):
    """The machine's own instruction count at create_kthread's first instruction
    (the first fork kthreadd serves), derived without gdb: the value every `run`
    must reproduce."""
    from machine import Machine
    from machine.testkit import symbols
    path = os.path.join(session.ROOT, kernel)
    m = Machine(path)
    entry = symbols(path)["create_kthread"]
    m.add_breakpoint(entry)
    s = m.cont(200_000_000)
    assert s.reason == "breakpoint" and s.pc == entry, s
    return m.icount


def test_ten_runs_identical(kernel, gdb, first_fork_icount):
    text = run_extended(kernel, ["break create_kthread"] + EACH_RUN * 10)
    runs = text.split("+run\n")[1:]
    assert len(runs) == 10, text
    for r in runs:
        match_in_order([
            r"re:Starting program: .*vmlinux\s*",
            "Breakpoint 1, create_kthread (create=0x........) at kernel/kthread.c:85",
            f"icount {first_fork_icount}",
        ], r)

    def observed(r):   # everything gdb printed about the state, minus the prompts
        return [re.sub(r"^\$\d+ = ", "", l) for l in r.splitlines()
                if not l.startswith("+") and "+quit" not in l and "Detaching" not in l
                and "detached]" not in l]
    assert all(observed(r) == observed(runs[0]) for r in runs), runs[:2]
    assert "<ksoftirqd>" in runs[0]


def test_kill_then_run_and_breakpoints(kernel, gdb, first_fork_icount):
    text = run_extended(kernel, [
        "break create_kthread", "run", "continue", "info inferiors", "kill",
        "info breakpoints", "run", "monitor icount",
        # deleted while the program is dead: must not fire on the next run
        "kill", "delete", "break kthreadd", "run", "bt 1", "monitor icount",
        # removed while running: the next run stops only at the new one
        "tbreak do_timer", "run", "info breakpoints"])
    match_in_order([
        "Breakpoint 1, create_kthread (create=0x........) at kernel/kthread.c:85",
        "+continue",
        "Breakpoint 1, create_kthread (create=0x........) at kernel/kthread.c:85",
        "+kill",
        "[Inferior 1 (Remote target) killed]",
        "+run",
        "Breakpoint 1, create_kthread (create=0x........) at kernel/kthread.c:85",
        f"icount {first_fork_icount}",
        "+run",
        "Breakpoint 2, kthreadd (unused=0x0) at kernel/kthread.c:192",
        "#0  kthreadd (unused=0x0) at kernel/kthread.c:192",
        r"re:icount \d+",
        "+run",
        r"re:Breakpoint 2, kthreadd \(unused=0x0\) at kernel/kthread.c:192|Temporary breakpoint 3, do_timer .*",
    ], text)
    assert "create_kthread (create" not in text.split("+delete")[1], text
    counts = re.findall(r"^icount (\d+)$", text, re.M)
    assert int(counts[0]) == first_fork_icount and int(counts[1]) < first_fork_icount


def test_plain_remote_kill_still_ends_the_session(kernel, gdb):
    text, _ = session.run(commands=["break kthreadd", "continue", "kill", "info breakpoints"],
                          kernel=kernel)
    match_in_order(["Breakpoint 1, kthreadd (unused=0x0) at kernel/kthread.c:192",
                    "[Inferior 1 (Remote target) killed]"], text)
