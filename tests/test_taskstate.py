"""Task states: one decoder (gdb_scripts/kt/taskstate.py) fed the constants the
kernel build generates from its headers (kt/constants.py, from constants.py.in);
`monitor ps` (the stub) and kt-ps (gdb) agree on every task at real stops."""
import os
import re

import pytest

from gdbharness import run_gdb, section
from gdbstub.harness import session
from gdbstub.kernelaware.oskernel import taskstate

ROOT = session.ROOT
SCHED_H = os.path.join(ROOT, "kernel_src", "include", "linux", "sched.h")


def header_defines(path):
    with open(path) as f:
        return {m.group(1): int(m.group(2), 0) for m in
                re.finditer(r"^#define\s+(\w+)\s+(0x[0-9a-fA-F]+|\d+)\b", f.read(), re.M)}


def test_constants_are_the_kernel_headers():
    defines = header_defines(SCHED_H)
    names = [n[3:] for n in vars(taskstate.constants) if n.startswith("LX_")]
    assert {"TASK_RUNNING", "TASK_DEAD", "EXIT_ZOMBIE", "EXIT_DEAD", "TASK_COMM_LEN"} <= set(names)
    for name in names:
        assert getattr(taskstate.constants, "LX_" + name) == defines[name], name


@pytest.mark.parametrize("state, exit_state, on_cpu, expected", [
    (0, 0, False, ("R", "runnable")),
    (0, 0, True, ("R", "running")),
    (1, 0, False, ("S", "sleeping")),
    (1, 0, True, ("R", "running")),        # on the CPU, on its way into schedule()
    (2, 0, False, ("D", "uninterruptible")),
    (2, 0, True, ("R", "running")),
    (64, 0, False, ("X", "dead")),         # kt-ps said "X (exiting)", monitor ps "dead"
    (64, 0, True, ("X", "dead")),
    (0, 16, True, ("Z", "zombie")),
    (64, 16, False, ("Z", "zombie")),
    (0, 32, True, ("X", "dead")),          # exit_notify(): released, still on the CPU
    (64, 32, True, ("X", "dead")),
    (64, 32, False, ("X", "dead")),
    (8, 0, False, ("?", "state 8")),
    (3, 0, False, ("D", "uninterruptible")),
])
def test_decoder_every_state(state, exit_state, on_cpu, expected):
    assert taskstate.decode(state, exit_state, on_cpu) == expected
    assert taskstate.describe(state, exit_state, on_cpu) == "%s (%s)" % expected


def _exit_schedule_line():
    """do_exit()'s schedule() after `tsk->state = TASK_DEAD;`, found in the source."""
    with open(os.path.join(ROOT, "kernel_src", "kernel", "exit.c")) as f:
        lines = f.read().splitlines()
    dead = next(i for i, line in enumerate(lines) if "tsk->state = TASK_DEAD;" in line)
    return next(i for i in range(dead, len(lines)) if lines[i].strip().startswith("schedule();")) + 1


MON = re.compile(r"^([* ])\s*(\d+)\s+(?:\d+|-)\s+(\S \([^)]*\))\s+(\S+)$")
KT = re.compile(r"^([* ]) 0x[0-9a-f]{8}\s+(\d+)\s+(\S \([^)]*\))\s+(\S+)$")
STOPS = ("sleeping-on-cpu", "release", "released", "booted")


def rows(text, pattern):
    out = {}
    for line in text.splitlines():
        m = pattern.match(line)
        if m:
            out[int(m.group(2))] = (m.group(1), m.group(3), m.group(4))
    return out


@pytest.fixture(scope="module")
def stops(kernel, gdb):
    def both(name):
        return (f"echo ---{name}---\\n", "monitor ps", "echo ---kt-ps---\\n", "kt-ps",
                "echo ---end---\\n", "delete")
    text = run_gdb(kernel, "source gdb_scripts/kt.py",
                   "break __switch_to if prev->state != 0", "continue", *both(STOPS[0]),
                   "break release_task", "continue", *both(STOPS[1]),
                   f"break kernel/exit.c:{_exit_schedule_line()}", "continue", *both(STOPS[2]),
                   "break oops_test", "continue", *both(STOPS[3]))
    out = {}
    for name in STOPS:
        # the echoed output, not the echo command (which ends in a literal \\n)
        part = section(text, f"---{name}---\n", "---end---\n")
        mon, kt = part.split("---kt-ps---\n")
        out[name] = rows(mon, MON), rows(kt, KT)
    return out


@pytest.mark.parametrize("name", STOPS)
def test_monitor_ps_and_kt_ps_agree(stops, name):
    mon, kt = stops[name]
    assert len(mon) >= 3 and mon == kt


def test_the_states_at_the_stops(stops):
    # the task switching away to sleep still has the CPU: running, in both
    cur = [r for r in stops["sleeping-on-cpu"][1].values() if r[0] == "*"]
    assert [r[1] for r in cur] == ["R (running)"]
    assert stops["release"][1][6] == ("*", "X (dead)", "kthread_demo")
    # unlinked by release_task() but still current: kt-ps lists it, as monitor ps does
    assert stops["released"][1][6] == ("*", "X (dead)", "kthread_demo")
    assert 6 not in stops["booted"][1]
