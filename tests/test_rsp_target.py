"""MachineTarget against a stand-in machine (no unicorn): the adapter's contract."""

import pytest

from gdbstub.target import (MachineTarget, StopEvent, TargetError, TargetMemoryError,
                            TargetRegisterError)
from machine.stop import Reason, Stop


class Fault(Exception):
    def __init__(self, addr):
        super().__init__(f"fault at {addr:#x}")
        self.addr = addr


class StandIn:
    REGISTER_NAMES = ("eax", "eip")
    icount = 7
    ncpus, cpu = 1, 0

    def __init__(self):
        self.mem = {a: a & 0xFF for a in range(0x1000, 0x1010)}
        self.regs = {"eax": 1, "eip": 0x1000, "cr0": 0x11, "cr2": 0, "cr3": 0, "cr4": 0}
        self.bps = set()

    def read_register(self, name):
        return self.regs[name]

    def read_registers(self, names):
        return [self.regs[n] for n in names]

    def write_register(self, name, value):
        if name not in self.regs:
            raise KeyError(name)
        self.regs[name] = value

    def read_memory(self, addr, size):
        for a in range(addr, addr + size):
            if a not in self.mem:
                raise Fault(a)
        return bytes(self.mem[a] for a in range(addr, addr + size))

    def write_memory(self, addr, data):
        for i in range(len(data)):
            if addr + i not in self.mem:
                raise Fault(addr + i)
        for i, b in enumerate(data):
            self.mem[addr + i] = b

    def add_breakpoint(self, addr):
        if len(self.bps) >= 2:
            raise ValueError("breakpoint table full")
        self.bps.add(addr)

    def remove_breakpoint(self, addr):
        self.bps.discard(addr)

    def step(self):
        return Stop(Reason.STEP, 0x1001, 5)

    def cont(self, max_insns=None):
        return Stop(Reason.FAULT, 0x1002, 11, 14, "page fault")

    def translate(self, va):
        return va if va in self.mem else None


@pytest.fixture
def t():
    return MachineTarget(StandIn(), memory_fault=Fault)


def test_memory_partial_read_and_faults(t):
    assert t.read_memory(0x100E, 2) == b"\x0e\x0f"
    assert t.read_memory(0x100E, 8) == b"\x0e\x0f"  # readable prefix
    with pytest.raises(TargetMemoryError) as e:
        t.read_memory(0x2000, 4)
    assert e.value.addr == 0x2000
    with pytest.raises(TargetMemoryError):
        t.write_memory(0x100F, b"ab")


def test_registers(t):
    assert t.read_register("eax") == 1
    t.write_register("eax", 5)
    assert t.machine.regs["eax"] == 5
    with pytest.raises(TargetRegisterError):
        t.read_register("xmm0")
    with pytest.raises(TargetRegisterError):
        t.write_register("xmm0", 1)


def test_breakpoint_table_full_is_a_target_error(t):
    t.add_breakpoint(1)
    t.add_breakpoint(2)
    with pytest.raises(TargetError):
        t.add_breakpoint(3)


def test_stops_are_translated(t):
    s = t.step()
    assert (s.reason, s.pc, s.signal) == ("step", 0x1001, 5)
    s = t.cont(100)
    assert (s.reason, s.signal, s.vector, s.detail) == ("fault", 11, 14, "page fault")
    assert not s.slice_expired


def test_stop_records_are_built_from_reasons_not_strings():
    """One Stop type with a reason enum: the stub's StopEvent is a Stop (plus
    the thread its reply names), and neither takes a string for a reason."""
    for make in (Stop, StopEvent):
        with pytest.raises(TypeError, match="Reason"):
            make("step", 0)
    stop = Stop(Reason.WATCHPOINT, 0x10, 5, None, "", ("watch", 0x20))
    ev = StopEvent.from_stop(stop)
    assert isinstance(ev, Stop) and ev.thread is None
    assert (ev.reason, ev.pc, ev.signal, ev.watch) == (Reason.WATCHPOINT, 0x10, 5, ("watch", 0x20))


@pytest.mark.parametrize("reason", [Reason.LIMIT, Reason.STOP_REQUESTED, Reason.HALTED])
def test_only_the_end_of_a_slice_keeps_the_stub_running(reason):
    """LIMIT meant three things (detail told them apart); each has its own
    reason now and only the slice running out is not a stop for gdb."""
    assert StopEvent(reason, 0).slice_expired == (reason == Reason.LIMIT)


def test_monitor_commands(t):
    assert t.monitor("icount") == "icount 7\n"
    assert "cr0 0x00000011" in t.monitor("cr")
    assert t.monitor("translate 0x1000") == "0x00001000 -> 0x00001000\n"
    assert t.monitor("translate 0x5000").endswith("unmapped\n")
    assert t.monitor("frobnicate") is None


def test_register_cache_is_invalidated_by_running_and_writes(t):
    gen = t.generation
    assert t.read_register("eax") == 1
    t.machine.regs["eax"] = 99  # behind the adapter's back: still cached
    assert t.read_register("eax") == 1
    t.step()
    assert t.generation > gen and t.read_register("eax") == 99
    t.write_register("eip", 0x1004)
    assert t.read_registers(["eax", "eip"]) == [99, 0x1004]
    t.machine.regs["eax"] = 7
    t.cont(10)
    assert t.read_register("eax") == 7


def test_g_reply_follows_register_changes():
    from gdbstub.server import make_context, make_dispatcher

    class Full(StandIn):
        def __init__(self):
            super().__init__()
            from gdbstub.rsp import regs
            for r in regs.REGISTERS:
                self.regs.setdefault(r.machine_name, 0)

    target = MachineTarget(Full(), memory_fault=Fault)
    ctx = make_context(target)
    d = make_dispatcher(ctx)
    g1 = d.dispatch(b"g")
    assert d.dispatch(b"g") == g1
    assert d.dispatch(b"P0=05000000") == b"OK"
    g2 = d.dispatch(b"g")
    assert g2 != g1 and g2.startswith(b"05000000")
    target.machine.regs["eax"] = 6
    target.step()
    assert d.dispatch(b"g").startswith(b"06000000")
