"""Hostile input, offline (FakeTarget, no unicorn, no gdb): the packet
layer's one frame limit, escapes, and the dispatcher turning every handler
exception into an error reply.  tests/test_hostile_live.py runs the same
cases against a real stub."""
import pytest

from gdbstub.rsp import packet as P


def _frame(body: bytes) -> bytes:
    return b"$" + body + b"#%02x" % P.checksum(body)


def _events(data: bytes, piece: int):
    d = P.Decoder()
    out = []
    for i in range(0, len(data), piece):
        out += d.feed(data[i:i + piece])
    return [e for e in out if not isinstance(e, P.Garbage)]


@pytest.mark.parametrize("piece", [1 << 30, 65536, 4096])
def test_frame_limit_is_the_same_in_one_read_or_many(piece):
    """525 KB in one recv used to decode (fast path); in 64 KiB pieces it was
    'frame too long'.  Now both, then the next frame decodes."""
    big = _frame(b"X1000,0:" + b"a" * (P.MAX_FRAME + 13000))
    evs = _events(big + _frame(b"g"), piece)
    assert isinstance(evs[0], P.BadPacket) and "too long" in evs[0].reason
    assert evs[-1] == P.Packet(b"g")
    assert not any(isinstance(e, P.Packet) and len(e.data) > P.MAX_FRAME for e in evs)


def test_run_length_counts_are_checked_before_expanding():
    """A 512 KiB frame of runs would expand to 40 MB: refused, nothing expanded."""
    body = b"M1000,1:" + b"0*~" * (P.MAX_FRAME // 3 - 10)
    with pytest.raises(P.FrameError):
        P.rle_decode(body, P.MAX_FRAME)
    evs = P.Decoder().feed(_frame(body) + _frame(b"g"))
    assert isinstance(evs[0], P.BadPacket) and "too long" in evs[0].reason
    assert evs[-1] == P.Packet(b"g")
    # a frame whose expansion fits still decodes
    assert P.Decoder().feed(_frame(b"0* "))[0] == P.Packet(b"0000")


@pytest.mark.parametrize("body", [b"X1000,1:}", b"X1000,2:a}}}", b"qRcmd,}"])
def test_unmatched_escape_is_a_bad_packet(body):
    for piece in (1 << 30, 1):
        evs = _events(_frame(body), piece)
        assert len(evs) == 1 and isinstance(evs[0], P.BadPacket), (piece, evs)
    assert P.Decoder().feed(_frame(b"X1000,1:}]"))[0] == P.Packet(b"X1000,1:}")


# --------------------------------------------------- handler exception safety

from gdbstub.rsp import commands as C  # noqa: E402
from gdbstub.fake import FakeTarget  # noqa: E402
from gdbstub.rspsession import Session  # noqa: E402
from gdbstub.server import make_context, make_dispatcher  # noqa: E402

# One packet for each command type the dispatcher routes.
SAMPLES = {
    C.QSupported: b"qSupported:swbreak+", C.QueryHaltReason: b"?", C.ReadRegisters: b"g",
    C.WriteRegisters: b"G00", C.ReadRegister: b"p0", C.WriteRegister: b"P0=00000000",
    C.ReadMemory: b"m0,4", C.WriteMemory: b"M0,1:00", C.QueryAttached: b"qAttached",
    C.QueryOffsets: b"qOffsets", C.Detach: b"D", C.Kill: b"k",
    C.StartNoAckMode: b"QStartNoAckMode",
    C.QXferRead: b"qXfer:features:read:target.xml:0,100", C.Breakpoint: b"Z0,1000,1",
    C.Continue: b"c", C.Step: b"s", C.VCont: b"vCont;c", C.VContQuery: b"vCont?",
    C.SetThread: b"Hg0", C.ThreadAlive: b"T1", C.CurrentThread: b"qC",
    C.ThreadInfoFirst: b"qfThreadInfo", C.ThreadInfoNext: b"qsThreadInfo",
    C.ThreadExtraInfo: b"qThreadExtraInfo,1", C.MonitorCommand: b"qRcmd," + b"help".hex().encode(),
}


def _replies(out: bytes):
    return [e.data for e in P.Decoder().feed(out) if isinstance(e, P.Packet)]


def test_an_exception_in_any_handler_is_an_error_reply_logged_once():
    ctx = make_context(FakeTarget())
    d = make_dispatcher(ctx)
    assert set(d.table) == set(SAMPLES), "a new handler needs a sample packet here"
    for typ, packet in SAMPLES.items():
        assert isinstance(C.parse(packet), typ), packet
        said = []
        s = Session(ctx, d, notify=said.append)

        def boom(cmd, typ=typ):
            raise RuntimeError(f"injected into {typ.__name__}")
        real, d.table[typ] = d.table[typ], boom
        try:
            replies = _replies(s.receive(_frame(packet)))
        finally:
            d.table[typ] = real
        if typ is C.MonitorCommand:
            assert replies[-1] == b"OK"
            text = b"".join(bytes.fromhex(r[1:].decode()) for r in replies[:-1])
            assert b"internal error: RuntimeError: injected" in text
        else:
            assert replies == [b"E.RuntimeError: injected into " + typ.__name__.encode()]
        assert len([t for t in said if "injected" in t]) == 1, said
        assert not s.running and s.ended is None
        follow = b"qAttached" if typ is C.QueryHaltReason else b"?"
        assert _replies(s.receive(_frame(follow))), typ
    # the same failure again: one line, no second traceback
    said = []
    s = Session(ctx, d, notify=said.append)
    d.table[C.ReadRegisters] = lambda cmd: 1 / 0
    s.receive(_frame(b"g"))
    s.receive(_frame(b"g"))
    assert sum("Traceback" in t for t in said) == 1 and len(said) == 2


# ------------------------------------------------------------ stated limits

def test_breakpoint_limit_is_stated_not_a_memory_error():
    from gdbstub.handlers.breakpoints import MAX_BREAKPOINTS
    ctx = make_context(FakeTarget())
    d = make_dispatcher(ctx)
    said = []
    s = Session(ctx, d, notify=said.append)
    for i in range(MAX_BREAKPOINTS):
        assert d.dispatch(b"Z0,%x,1" % (0x1000 + i)) == b"OK"
    assert _replies(s.receive(_frame(b"Z0,9000,1"))) == [
        b"E.breakpoint limit reached: at most 127 breakpoints"]
    assert said == ["refused handling b'Z0,9000,1': breakpoint limit reached: "
                    "at most 127 breakpoints"]          # on the stub's stderr too
    assert d.dispatch(b"Z1,1000,1") == b"OK"          # one already there: no new slot
    assert d.dispatch(b"z0,1001,1") == b"OK" and d.dispatch(b"Z0,9000,1") == b"OK"


def test_qxfer_replies_stay_within_packet_size():
    from gdbstub.dispatch import PACKET_SIZE
    from gdbstub.handlers.threads import ThreadOps
    ctx = make_context(FakeTarget())
    ops = ThreadOps(ctx)
    ops.threads_xml = lambda: b"<threads>" + b"}" * 300_000 + b"</threads>"   # escapes double
    for offset in (0, 1, 0x10000, 0xFFFFFFFF, 1 << 40):
        r = ops.xfer_read("", offset, 0xFFFFFFFF)
        assert len(P.encode_packet(r.payload, binary=True)) <= PACKET_SIZE + 4, offset
    d = make_dispatcher(ctx)
    r = d.dispatch(b"qXfer:features:read:target.xml:ffffffffff,ffffffff")
    assert r.payload == b"l"


def _read_all(sock) -> bytes:
    out = b""
    for chunk in iter(lambda: sock.recv(4096), b""):
        out += chunk
    return out


def test_a_bug_in_the_session_loop_ends_that_session_not_the_stub(monkeypatch):
    import io
    import socket
    from gdbstub import server as S
    said = io.StringIO()
    srv = S.Server(FakeTarget(), messages=said)

    def boom(self):
        raise RuntimeError("injected into the loop")
    monkeypatch.setattr(S.Session, "run_slice", boom)
    for n in range(2):
        ours, gdb = socket.socketpair()
        gdb.sendall(_frame(b"c"))
        assert srv.serve(S._SockConn(ours)) == "internal error"
        assert _read_all(gdb) == b"+"                  # acked, then closed
        gdb.close()
    assert said.getvalue().count("Traceback") == 1 and "injected into the loop" in said.getvalue()
    monkeypatch.undo()
    ours, gdb = socket.socketpair()                  # the next session is served
    gdb.sendall(_frame(b"qAttached") + _frame(b"D"))
    assert srv.serve(S._SockConn(ours)) == "detached"
    assert b"$1#31" in _read_all(gdb)


def test_a_machine_exception_while_running_is_a_stop_logged_once():
    ctx = make_context(FakeTarget())
    said = []
    s = Session(ctx, make_dispatcher(ctx), notify=said.append)

    def broken(max_insns):
        raise RuntimeError("injected into cont")
    ctx.target.cont = broken
    for _ in range(3):
        s.receive(_frame(b"c"))
        assert _replies(s.run_until_stopped())[0].startswith(b"T06")     # SIGABRT
    assert sum("Traceback" in t for t in said) == 1
    assert len([t for t in said if t.startswith("internal error while the machine ran")]) == 3
