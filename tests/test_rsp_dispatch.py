"""The dispatcher and the session against a FakeTarget (no gdb, no unicorn)."""

import pytest

from gdbstub.rsp import regs
from gdbstub.dispatch import PACKET_SIZE, Dispatcher
from gdbstub.fake import FakeTarget
from gdbstub.handlers import default_capabilities
from gdbstub.rsp.packet import Decoder, Packet, encode_packet
from gdbstub.rspsession import Session
from gdbstub.server import make_context, make_dispatcher

GDB_FEATURES = b"qSupported:multiprocess+;swbreak+;hwbreak+;vContSupported+;xmlRegisters=i386"


class Harness:
    """A Session with a FakeTarget; `ask` sends one packet and returns the reply payloads."""

    def __init__(self, slice_insns=1000, target=None):
        self.target = target or FakeTarget()
        self.ctx = make_context(self.target)
        self.dispatcher = make_dispatcher(self.ctx)
        self.session = Session(self.ctx, self.dispatcher, slice_insns=slice_insns)
        self.decoder = Decoder()

    def replies(self, raw: bytes):
        return [e.data for e in self.decoder.feed(raw) if isinstance(e, Packet)]

    def ask(self, payload: bytes):
        out = self.session.receive(encode_packet(payload, binary=True))
        r = self.replies(out)
        return r[0] if len(r) == 1 else r


@pytest.fixture
def h():
    hh = Harness()
    hh.ask(GDB_FEATURES)
    return hh


def parse_stop(reply: bytes):
    assert reply[:1] == b"T"
    sig = int(reply[1:3], 16)
    fields = {}
    for item in reply[3:].split(b";"):
        if item:
            k, _, v = item.partition(b":")
            fields[k.decode()] = v.decode()
    return sig, fields


def test_qsupported_is_built_from_registered_capabilities(h):
    reply = h.ask(b"qSupported:swbreak+").decode()
    feats = reply.split(";")
    assert feats[0] == f"PacketSize={PACKET_SIZE:x}"
    expected = [f for cap in h.dispatcher.capabilities for f in cap.features]
    assert feats[1:] == expected
    assert set(feats[1:]) == {"QStartNoAckMode+", "qXfer:features:read+", "swbreak+",
                              "hwbreak+", "vContSupported+"}


def test_qsupported_advertises_nothing_unregistered():
    ctx = make_context(FakeTarget())
    caps = [c for c in default_capabilities(ctx) if "swbreak+" not in c.features]
    d = Dispatcher(ctx, caps)
    assert d.dispatch(b"qSupported") == b";".join(
        f.encode() for f in d.supported_features())
    assert b"swbreak" not in d.dispatch(b"qSupported")
    assert d.dispatch(b"Z0,1000,1") == b""  # and the packet is unsupported


def test_unknown_packet_gets_empty_reply(h):
    assert h.ask(b"vMustReplyEmpty") == b""
    assert h.ask(b"qTStatus") == b""
    assert h.ask(b"Z2,1000,4") == b""  # watchpoints are not implemented


def test_bad_syntax_gets_E01(h):
    assert h.ask(b"m1000") == b"E01"
    assert h.ask(b"Z0,zz,1") == b"E01"
    assert h.ask(b"P8=12") == b"E01"


def test_halt_reason_and_expedited_registers(h):
    sig, f = parse_stop(h.ask(b"?"))
    assert sig == 5
    assert f["thread"] == "01"
    assert f["08"] == "00001000"  # eip 0x100000 little-endian
    assert f["04"] == "00800000"  # esp 0x8000
    assert "05" in f


def test_read_all_registers_layout(h):
    g = h.ask(b"g")
    assert len(g) == 2 * regs.G_PACKET_SIZE == 2 * (16 * 4 + 8 * 10 + 8 * 4 + 4 * 4)
    assert g[:8] == b"02b0ad2b"  # eax
    assert g[8 * 8 : 9 * 8] == b"00001000"  # eip


def test_write_all_registers_round_trip(h):
    g = bytearray(h.ask(b"g"))
    g[0:8] = b"efbeadde"
    assert h.ask(b"G" + bytes(g)) == b"OK"
    assert h.target.regs["eax"] == 0xDEADBEEF
    assert h.ask(b"g") == bytes(g)


def test_single_register_read_write(h):
    assert h.ask(b"p8") == b"00001000"
    assert h.ask(b"P0=78563412") == b"OK"
    assert h.target.regs["eax"] == 0x12345678
    st0 = regs.BY_NAME["st0"]
    assert h.ask(b"P%x=" % st0 + b"00" * 9 + b"80") == b"OK"
    assert h.target.regs["st0"] == 0x80 << 72
    assert h.ask(b"p%x" % st0) == b"00" * 9 + b"80"
    assert h.ask(b"p99") == b"E22"
    assert h.ask(b"P99=00000000") == b"E22"


def test_memory_read_write(h):
    assert h.ask(b"m1000,4") == b"00010203"
    assert h.ask(b"M1000,2:abcd") == b"OK"
    assert h.ask(b"m1000,4") == b"abcd0203"
    assert h.ask(b"X1004,4:#$}*") == b"OK"
    assert h.target.read_memory(0x1004, 4) == b"#$}*"
    assert h.ask(b"X1000,0:") == b"OK"


def test_memory_faults(h):
    assert h.ask(b"m0,4") == b"E14"
    assert h.ask(b"M0,1:00") == b"E14"
    # a read running off the end of a mapped region returns the readable prefix
    assert h.ask(b"mfffe,4") == b"0000"


def test_large_read_fits_packet_size(h):
    # PacketSize counts payload bytes (gdb asks for PacketSize/2 bytes per m).
    r = h.ask(b"m1000,10000")
    assert 0 < len(r) <= PACKET_SIZE
    assert len(h.ask(b"m1000,%x" % (PACKET_SIZE // 2))) == PACKET_SIZE


def test_breakpoints_reach_the_target_and_are_refcounted(h):
    assert h.ask(b"Z0,100010,1") == b"OK"
    assert h.ask(b"Z1,100010,1") == b"OK"
    assert h.target.breakpoints == {0x100010}
    assert h.ask(b"z0,100010,1") == b"OK"
    assert h.target.breakpoints == {0x100010}
    assert h.ask(b"z1,100010,1") == b"OK"
    assert h.target.breakpoints == set()
    assert h.ask(b"z0,100010,1") == b"OK"  # removing twice is harmless


def test_z0_never_writes_memory(h):
    before = h.target.read_memory(0x100010, 1)
    h.ask(b"Z0,100010,1")
    assert h.target.read_memory(0x100010, 1) == before


def test_continue_to_breakpoint_reports_swbreak(h):
    h.ask(b"Z0,100010,1")
    assert h.ask(b"vCont;c") == []
    assert h.session.running
    sig, f = parse_stop(h.replies(h.session.run_until_stopped())[0])
    assert sig == 5 and "swbreak" in f and f["08"] == "10001000"
    assert not h.session.running


def test_hwbreak_reported_for_z1(h):
    h.ask(b"Z1,100020,1")
    h.ask(b"c")
    sig, f = parse_stop(h.replies(h.session.run_until_stopped())[0])
    assert "hwbreak" in f and "swbreak" not in f


def test_stop_reason_only_if_gdb_supports_it():
    hh = Harness()
    hh.ask(b"qSupported:multiprocess+")
    hh.ask(b"Z0,100010,1")
    hh.ask(b"c")
    sig, f = parse_stop(hh.replies(hh.session.run_until_stopped())[0])
    assert "swbreak" not in f


def test_continue_runs_in_slices_until_interrupted():
    hh = Harness(slice_insns=100)
    hh.ask(GDB_FEATURES)
    hh.ask(b"c")
    for _ in range(5):
        assert hh.session.run_slice() == b""
    assert hh.target.icount == 500
    out = hh.session.receive(b"\x03")
    sig, f = parse_stop(hh.replies(out)[0])
    assert sig == 2 and f["08"] == "f4011000"  # 0x1001f4
    assert not hh.session.running
    assert hh.ask(b"?").startswith(b"T02")
    assert hh.session.receive(b"\x03") == b""  # Ctrl-C when stopped: ignored


def test_step_and_vcont_step(h):
    sig, f = parse_stop(h.ask(b"s"))
    assert sig == 5 and f["08"] == "01001000"
    sig, f = parse_stop(h.ask(b"vCont;s:1;c"))
    assert f["08"] == "02001000"
    sig, f = parse_stop(h.ask(b"vCont;s:p1.1"))
    assert f["08"] == "03001000"


def test_resume_at_address(h):
    sig, f = parse_stop(h.ask(b"s100100"))
    assert f["08"] == "01011000"


def test_vcont_query_and_unsupported_actions(h):
    assert h.ask(b"vCont?") == b"vCont;c;C;s;S"
    assert h.ask(b"vCont;c:2") == b"E22"  # no such thread: nothing to resume


def test_threads(h):
    assert h.ask(b"qfThreadInfo") == b"m01"
    assert h.ask(b"qsThreadInfo") == b"l"
    assert h.ask(b"qC") == b"QC01"
    assert h.ask(b"Hg0") == b"OK"
    assert h.ask(b"Hc-1") == b"OK"
    assert h.ask(b"Hg1") == b"OK"
    assert h.ask(b"Hg2") == b"E22"
    assert h.ask(b"T1") == b"OK"
    assert h.ask(b"T2") == b"E22"
    assert bytes.fromhex(h.ask(b"qThreadExtraInfo,1").decode()) == b"CPU#0"


def test_attached_and_offsets(h):
    assert h.ask(b"qAttached") == b"1"
    assert h.ask(b"qOffsets") == b""


def test_target_xml_chunks(h):
    from gdbstub.rsp.tdesc import target_xml
    doc = target_xml()
    got = b""
    off = 0
    while True:
        r = h.ask(b"qXfer:features:read:target.xml:%x,100" % off)
        assert r[:1] in (b"m", b"l")
        got += r[1:]
        off += len(r) - 1
        if r[:1] == b"l":
            break
    assert got == doc
    assert h.ask(b"qXfer:features:read:nope.xml:0,100") == b"E22"
    assert h.ask(b"qXfer:features:read:target.xml:%x,100" % (len(doc) + 5)) == b"l"
    assert h.ask(b"qXfer:libraries:read::0,100") == b""


def monitor(h, command):
    """Output of `monitor command`: O packets, then OK (issue 4)."""
    *out, last = h.ask(b"qRcmd," + command.encode().hex().encode())
    assert last == b"OK" and all(p[:1] == b"O" for p in out)
    return b"".join(bytes.fromhex(p[1:].decode()) for p in out).decode()


def test_monitor(h):
    out = monitor(h, "help")
    assert "monitor help" in out and "icount" in out
    assert monitor(h, "icount") == "icount 0\n"
    assert "unknown monitor command" in monitor(h, "bogus")


def test_no_ack_mode_switches_after_ok():
    hh = Harness()
    out = hh.session.receive(encode_packet(b"QStartNoAckMode"))
    assert out.startswith(b"+$OK#")  # acked, and the OK is sent in ack mode
    out = hh.session.receive(encode_packet(b"qC"))
    assert out.startswith(b"$QC01#")  # no '+' any more


def test_bad_checksum_gets_nak_and_nak_gets_retransmit():
    hh = Harness()
    assert hh.session.receive(b"$qC#00") == b"-"
    first = hh.session.receive(encode_packet(b"qC"))
    assert first.startswith(b"+$QC01")
    assert hh.session.receive(b"-") == first[1:]


def test_detach_removes_breakpoints_and_ends_session(h):
    h.ask(b"Z0,100010,1")
    assert h.ask(b"D") == b"OK"
    assert h.session.ended == "detached"
    assert h.target.breakpoints == set()


def test_kill_ends_session_without_reply(h):
    assert h.ask(b"k") == []
    assert h.session.ended == "killed"


def test_garbage_never_kills_the_session(h):
    for junk in (b"\xff\xfe", b"$#", b"$}#7d", b"$m#6d", b"$" + b"*" * 10 + b"#a4", b"##$$"):
        h.session.receive(junk)
    assert h.ask(b"qC") == b"QC01"


def test_replies_are_run_length_encoded_on_the_wire(h):
    raw = h.session.receive(encode_packet(b"m1000,0"))  # empty
    h.target.write_memory(0x2000, b"\x00" * 64)
    raw = h.session.receive(encode_packet(b"m2000,40"))
    assert b"*" in raw and len(raw) < 40
    assert h.replies(raw) == [b"00" * 64]


class ExplodingTarget(FakeTarget):
    def cont(self, max_insns):
        raise RuntimeError("boom")

    def read_memory(self, addr, size):
        raise KeyError("bug")


def test_target_exceptions_never_kill_the_session():
    notes = []
    hh = Harness(target=ExplodingTarget())
    hh.session.notify = notes.append
    assert hh.ask(b"m1000,4").startswith(b"E.KeyError")
    hh.ask(b"c")
    sig, f = parse_stop(hh.replies(hh.session.run_until_stopped())[0])
    assert sig == 6
    assert any("boom" in n for n in notes)
    assert hh.ask(b"qC") == b"QC01"


def test_fault_stop_is_reported_with_its_signal():
    class Faulty(FakeTarget):
        def cont(self, max_insns):
            from gdbstub.target import StopEvent
            from machine.stop import Reason
            self.regs["eip"] = 0x1234
            return StopEvent(Reason.FAULT, 0x1234, 11, detail="page fault at 0x0")

    notes = []
    hh = Harness(target=Faulty())
    hh.session.notify = notes.append
    hh.ask(b"c")
    sig, f = parse_stop(hh.replies(hh.session.run_until_stopped())[0])
    assert sig == 11 and f["08"] == "34120000"
    assert notes and "page fault" in notes[0]


from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

_PREFIXES = [b"m", b"M", b"X", b"g", b"G", b"p", b"P", b"Z", b"z", b"H", b"T", b"vCont",
             b"qXfer:features:read:", b"qSupported:", b"qRcmd,", b"qThreadExtraInfo,", b"s", b"S",
             b"C", b"?", b"q", b"Q", b"v"]


@given(st.sampled_from(_PREFIXES), st.binary(max_size=40))
@settings(max_examples=400, deadline=None)
def test_random_packets_never_kill_the_session(prefix, tail):
    hh = Harness(slice_insns=10)
    out = hh.session.receive(encode_packet(prefix + tail, binary=True))
    assert out.startswith(b"+")  # acked; a reply or (for c/s) a stop may follow
    hh.session.running = False
    if hh.session.ended is None:
        assert hh.ask(b"qC") == b"QC01"


def test_continue_at_a_breakpoint_gdb_moved_the_pc_onto_hits_it_at_once(h):
    """gdb's `tbreak X` + `jump X` (a pc write, then c): the breakpoint at the
    new pc is hit before its instruction runs, as on QEMU; a continue from the
    pc of the last stop runs its instruction first (gdb steps over that one)."""
    entry = h.target.regs["eip"]
    assert h.ask(b"Z0,%x,1" % (entry + 8)) == b"OK"
    assert h.ask(b"P8=%s" % (entry + 8).to_bytes(4, "little").hex().encode()) == b"OK"
    sig, fields = parse_stop(h.ask(b"c"))
    assert sig == 5 and "swbreak" in fields and h.target.icount == 0
    assert h.ask(b"c") == []                          # from that stop: the machine runs
    assert h.session.running and h.target.icount == 0
