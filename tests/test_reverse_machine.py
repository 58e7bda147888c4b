"""machine/history.py without gdb: exact replay (registers AND all of RAM)
through interleaved continues, steps and debugger writes; idle gaps; the
memory bound; range stepping; restart."""
import re
import subprocess
import zlib

import pytest

from machine import Machine
from machine.history import TimeMachine

REGS = ["eax", "ecx", "edx", "ebx", "esp", "ebp", "esi", "edi", "eip", "eflags",
        "cs", "ss", "ds", "es", "fs", "gs", "cr0", "cr2", "cr3"]


@pytest.fixture(scope="module")
def syms(kernel):
    out = subprocess.run(["nm", kernel], capture_output=True, text=True).stdout
    return {n: int(a, 16) for a, _, n in re.findall(r"^([0-9a-f]+) (\w) (\S+)$", out, re.M)}


def state(tm):
    return (tm.icount, tm.halted, tuple(tm.read_registers(REGS)),
            zlib.crc32(tm.m.ram), tm.pit.next_tick, len(tm.console_output))


def test_replay_is_exact_through_steps_conts_and_writes(kernel, syms):
    tm = TimeMachine(Machine(kernel), interval=150_000)
    seen = []

    def mark():
        seen.append((tm.position, state(tm)))

    tm.add_breakpoint(syms["create_kthread"])
    tm.cont(None); mark()
    for _ in range(5):
        tm.step(); mark()
    tm.remove_breakpoint(syms["create_kthread"])
    tm.cont(123_457); mark()                  # a limit stop: unserviced
    for _ in range(3):
        tm.step(); mark()
    tm.write_memory(syms["jiffies"], (1000).to_bytes(4, "little")); mark()
    tm.cont(400_000); mark()                  # ticks after the write see 1000
    assert int.from_bytes(tm.read_memory(syms["jiffies"], 4), "little") > 1000
    assert len(tm.snaps) > 3
    # a position names the state after the debugger's writes at that count
    final = {}
    for pos, st in seen:
        final[pos] = st
    assert len(final) == len(seen) - 1
    for pos, st in reversed(list(final.items())):
        tm._goto(pos)
        assert state(tm) == st, pos
    # and forward again from the oldest point gives the same future
    tm._goto(seen[0][0])
    assert tm.step() and state(tm) == seen[1][1]


def test_reverse_step_undoes_one_instruction(kernel, syms):
    tm = TimeMachine(Machine(kernel))
    tm.add_breakpoint(syms["kthreadd"])
    tm.cont(None)
    tm.remove_breakpoint(syms["kthreadd"])
    states = [state(tm)]
    for _ in range(30):
        tm.step()
        states.append(state(tm))
    for i in range(29, -1, -1):
        s = tm.reverse_step()
        assert s.reason == "step"
        assert state(tm)[:4] == states[i][:4], i


def test_reverse_step_over_an_idle_gap_lands_on_the_hlt(kernel):
    tm = TimeMachine(Machine(kernel))
    while b"init: boot complete" not in tm.console_output:
        tm.cont(1_000_000)
    tm.cont(50_000)                            # stopped while idle (halted) or in a tick
    for _ in range(200):
        if tm.halted:
            break
        tm.cont(10_000)
    assert tm.halted
    t = tm.icount
    s = tm.reverse_step()
    assert s.reason == "step"
    pc = tm.read_register("eip")
    assert tm.read_memory(pc, 1) == b"\xf4"    # the hlt itself, not a count inside the gap
    assert tm.icount < t - 1 and not tm.halted


def test_reverse_cont_without_hits_stops_at_history_begin(kernel, syms):
    tm = TimeMachine(Machine(kernel))
    tm.cont(300_000)
    s = tm.reverse_cont()
    assert s.reason == "history" and s.history == "begin" and tm.icount == 0
    assert tm.reverse_step().history == "begin" and tm.icount == 0


def test_memory_bound_drops_the_oldest_history(kernel):
    tm = TimeMachine(Machine(kernel), mem_limit=1 << 20, interval=500_000)
    while tm.icount < 5_000_000:
        tm.cont(1_000_000)
    assert tm.dropped > 0 and tm.memory_used() <= (1 << 20) or len(tm.snaps) == 1
    begin = tm.snaps[0].icount
    assert begin > 0
    s = tm.reverse_cont()
    assert s.history == "begin" and tm.icount == begin


def test_range_step_stops_when_leaving_the_range_or_at_a_breakpoint(kernel, syms):
    tm = TimeMachine(Machine(kernel))
    tm.add_breakpoint(syms["kthreadd"])
    tm.cont(None)
    tm.remove_breakpoint(syms["kthreadd"])
    start = tm.read_register("eip")
    s = tm.range_step(start, start + 3)        # push %ebp; mov %esp,%ebp
    assert s.reason == "step" and tm.read_register("eip") == start + 3
    other = TimeMachine(Machine(kernel))
    other.add_breakpoint(syms["kthreadd"])
    other.cont(None)
    other.add_breakpoint(start + 1)
    s = other.range_step(start, start + 3)
    assert s.reason == "breakpoint" and s.pc == start + 1


def test_restart_clears_history(kernel, syms):
    tm = TimeMachine(Machine(kernel))
    tm.cont(500_000)
    tm.restart()
    assert tm.icount == 0 and len(tm.snaps) == 1 and not tm.log
    assert tm.reverse_step().history == "begin"


@pytest.mark.parametrize("watch", [False, True])
def test_reverse_cont_in_slices_ends_where_one_call_ends(kernel, syms, watch):
    """reverse_cont(max_segments=1) scans one snapshot segment per call and
    reports "limit" at a snapshot boundary until it finds what one call finds
    (the stub runs it in slices so that Ctrl-C can stop it)."""
    def run(sliced):
        tm = TimeMachine(Machine(kernel))
        tm.add_breakpoint(syms["create_kthread"])
        for _ in range(4):
            tm.cont(None)                              # the boot's last request
        tm.remove_breakpoint(syms["create_kthread"])
        tm.cont(12_000_000)                            # 6 snapshot segments later
        if watch:
            tm.add_watchpoint("watch", syms["kthreadd_task"], 4)   # written once, early
        else:
            tm.add_breakpoint(syms["create_kthread"])
        limits = []
        while True:
            s = tm.reverse_cont(max_segments=1) if sliced else tm.reverse_cont()
            if s.reason != "limit":
                return (s.reason, s.pc, tm.icount, s.watch), limits
            limits.append(tm.icount)
            assert tm.icount in {snap.icount for snap in tm.snaps}

    whole, none = run(False)
    sliced, limits = run(True)
    assert none == [] and sliced == whole
    assert whole[0] in ("breakpoint", "watchpoint")
    assert len(limits) >= 5 and limits == sorted(limits, reverse=True)
