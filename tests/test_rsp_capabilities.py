"""Capabilities are declared by the target (Target.support_*), and qSupported,
vCont? and the dispatch table are derived from them (handlers/__init__.py):
what a target does not offer is neither advertised nor handled."""

import pytest

from gdbstub.dispatch import Resume
from gdbstub.fake import FakeTarget
from gdbstub.handlers.base import BaseOps
from gdbstub.rsp import commands as C
from gdbstub.server import make_context, make_dispatcher
from gdbstub.target import StopEvent
from machine.stop import Reason

OPS = ("watchpoints", "reverse", "range_step", "restart")


class Offering(FakeTarget):
    """The fake target with the optional ops named in `offers`, recording calls."""

    def __init__(self, offers=OPS):
        super().__init__()
        self.offers = set(offers)
        self.calls = []

    def _if(self, op):
        return self if op in self.offers else None

    def support_watchpoints(self):
        return self._if("watchpoints")

    def support_reverse(self):
        return self._if("reverse")

    def support_range_step(self):
        return self._if("range_step")

    def support_restart(self):
        return self._if("restart")

    def add_watchpoint(self, kind, addr, length):
        self.calls.append(("add_watchpoint", kind, addr, length))

    def remove_watchpoint(self, kind, addr, length):
        self.calls.append(("remove_watchpoint", kind, addr, length))

    def remove_breakpoint(self, addr):
        self.calls.append(("remove_breakpoint", addr))
        super().remove_breakpoint(addr)

    def reverse_step(self):
        return StopEvent(Reason.STEP, self.regs["eip"])

    def reverse_cont(self, max_segments=None):
        return StopEvent(Reason.BREAKPOINT, self.regs["eip"])

    def range_step(self, start, end):
        return StopEvent(Reason.STEP, self.regs["eip"])

    def restart(self):
        self.calls.append(("restart",))


def stub(target):
    ctx = make_context(target)
    return ctx, make_dispatcher(ctx)


def features(d):
    return d.dispatch(b"qSupported:swbreak+;hwbreak+").split(b";")


def test_a_target_without_optional_ops_advertises_and_handles_none():
    ctx, d = stub(FakeTarget())
    feats = features(d)
    assert b"ReverseStep+" not in feats and b"ReverseContinue+" not in feats
    assert {b"swbreak+", b"hwbreak+", b"vContSupported+", b"qXfer:features:read+"} <= set(feats)
    for packet in (b"bs", b"bc", b"!", b"vRun;", b"R00", b"Z2,1000,4", b"z3,1000,4"):
        assert d.dispatch(packet) == b"", packet
    assert d.dispatch(b"vCont?") == b"vCont;c;C;s;S"
    assert d.dispatch(b"vCont;r100,200") == b""
    assert d.dispatch(b"Z0,1000,1") == b"OK"
    assert not ctx.extended and not ctx.watchpoints


def test_a_target_with_every_optional_op():
    target = Offering()
    ctx, d = stub(target)
    feats = features(d)
    assert b"ReverseStep+" in feats and b"ReverseContinue+" in feats
    assert d.dispatch(b"vCont?") == b"vCont;c;C;s;S;r"
    assert isinstance(d.dispatch(b"bs"), Resume) and isinstance(d.dispatch(b"bc"), Resume)
    assert isinstance(d.dispatch(b"vCont;r1000,1010"), Resume)
    assert d.dispatch(b"Z2,1000,4") == b"OK"
    assert ctx.watchpoints == {("watch", 0x1000, 4)}
    assert d.dispatch(b"vRun;") == b""          # not in extended mode yet
    assert d.dispatch(b"!") == b"OK" and ctx.extended
    assert d.dispatch(b"vRun;").startswith(b"T05")
    assert d.dispatch(b"vRun;zz") == b"E01"      # through the parser: arguments are hex
    assert ("restart",) in target.calls


@pytest.mark.parametrize("op", OPS)
def test_each_op_brings_only_its_own_packets(op):
    ctx, d = stub(Offering({op}))
    feats = features(d)
    assert (b"ReverseStep+" in feats) == (op == "reverse")
    assert (d.dispatch(b"bs") != b"") == (op == "reverse")
    assert d.dispatch(b"vCont?").endswith(b";r") == (op == "range_step")
    assert (d.dispatch(b"Z2,1000,4") == b"OK") == (op == "watchpoints")
    assert (d.dispatch(b"!") == b"OK") == (op == "restart")


def test_every_packet_goes_through_the_parser():
    """No capability takes unparsed packets: an unknown one gets the empty
    reply from the dispatcher, the packets it knows have types of their own."""
    _, d = stub(Offering())
    assert C.Unknown not in d.table
    for typ in (C.ExtendedMode, C.Run, C.Restart, C.ReverseStep, C.ReverseContinue):
        assert typ in d.table, typ
    assert d.dispatch(b"vMustReplyEmpty") == b""


def test_kill_is_one_handler_that_knows_extended_mode():
    """No capability patches another's method: k is BaseOps.kill, which
    ends the session, or in extended mode runs the end-of-session hooks and
    answers OK.  Either way the one removal loop takes every breakpoint and
    watchpoint out."""
    target = Offering()
    ctx, d = stub(target)
    assert d.table[C.Kill].__func__ is BaseOps.kill
    ended = []
    ctx.session_end_hooks.append(ended.append)
    assert d.dispatch(b"Z0,1000,1") == b"OK" and d.dispatch(b"Z2,1004,4") == b"OK"
    assert d.dispatch(b"!") == b"OK"
    assert d.dispatch(b"k") == b"OK" and len(ended) == 1
    assert ("remove_breakpoint", 0x1000) in target.calls
    assert ("remove_watchpoint", "watch", 0x1004, 4) in target.calls
    assert not ctx.breakpoints and not ctx.watchpoints
    ctx.new_session()                          # a new gdb: plain remote again
    assert d.dispatch(b"Z0,1000,1") == b"OK"
    assert d.dispatch(b"k").reply is None      # k ends this session, no reply
    assert not ctx.breakpoints and len(ended) == 1


def test_the_session_end_removes_everything_even_when_a_removal_fails():
    target = Offering()
    ctx, d = stub(target)
    for packet in (b"Z0,1000,1", b"Z0,1001,1", b"Z3,1004,4"):
        assert d.dispatch(packet) == b"OK"

    def refuse(addr):
        target.calls.append(("remove_breakpoint", addr))
        raise RuntimeError("the machine refuses")
    target.remove_breakpoint = refuse
    said = []
    ctx.session_end_hooks.append(lambda say: say("hook ran"))
    ctx.end_session(said.append)
    assert [c[1] for c in target.calls if c[0] == "remove_breakpoint"] == [0x1000, 0x1001]
    assert ("remove_watchpoint", "rwatch", 0x1004, 4) in target.calls
    assert not ctx.breakpoints and not ctx.watchpoints and said == ["hook ran"]
