"""Parser tables: packet payload -> command object, and malformed packets."""

import pytest

from gdbstub.rsp import commands as C
from gdbstub.rsp.commands import ThreadId

VALID = [
    (b"?", C.QueryHaltReason()),
    (b"g", C.ReadRegisters()),
    (b"G0011", C.WriteRegisters(b"\x00\x11")),
    (b"p8", C.ReadRegister(8)),
    (b"p1f", C.ReadRegister(0x1F)),
    (b"P8=78563412", C.WriteRegister(8, b"\x78\x56\x34\x12")),
    (b"mc1000000,40", C.ReadMemory(0xC1000000, 0x40)),
    (b"M1000,2:abcd", C.WriteMemory(0x1000, b"\xab\xcd")),
    (b"X1000,3:a#}", C.WriteMemory(0x1000, b"a#}", binary=True)),
    (b"X1000,0:", C.WriteMemory(0x1000, b"", binary=True)),
    (b"Z0,c1002000,1", C.Breakpoint(True, 0, 0xC1002000, 1)),
    (b"z1,c1002000,1", C.Breakpoint(False, 1, 0xC1002000, 1)),
    (b"Z0,100,1;X3,220027", C.Breakpoint(True, 0, 0x100, 1)),  # condition ignored
    (b"c", C.Continue()),
    (b"c100", C.Continue(0x100)),
    (b"s", C.Step()),
    (b"s200", C.Step(0x200)),
    (b"C05", C.Continue(None, 5)),
    (b"S0b;300", C.Step(0x300, 11)),
    (b"vCont?", C.VContQuery()),
    (b"vCont;c", C.VCont((C.VContAction("c"),))),
    (b"vCont;s:1;c", C.VCont((C.VContAction("s", ThreadId(1)), C.VContAction("c")))),
    (b"vCont;C05:p1.-1", C.VCont((C.VContAction("C", ThreadId(-1, 1), signal=5),))),
    (b"vCont;r1000,1010:1", C.VCont((C.VContAction("r", ThreadId(1), range=(0x1000, 0x1010)),))),
    (b"qSupported", C.QSupported({})),
    (b"qSupported:multiprocess+;swbreak+;xmlRegisters=i386;foo-",
     C.QSupported({"multiprocess": "+", "swbreak": "+", "xmlRegisters": "i386", "foo": "-"})),
    (b"qXfer:features:read:target.xml:0,fff", C.QXferRead("features", "target.xml", 0, 0xFFF)),
    (b"Hg0", C.SetThread("g", ThreadId(0))),
    (b"Hc-1", C.SetThread("c", ThreadId(-1))),
    (b"Hgp1.2", C.SetThread("g", ThreadId(2, 1))),
    (b"T1", C.ThreadAlive(ThreadId(1))),
    (b"qC", C.CurrentThread()),
    (b"qAttached", C.QueryAttached()),
    (b"qAttached:1", C.QueryAttached(1)),
    (b"qOffsets", C.QueryOffsets()),
    (b"qfThreadInfo", C.ThreadInfoFirst()),
    (b"qsThreadInfo", C.ThreadInfoNext()),
    (b"qThreadExtraInfo,1", C.ThreadExtraInfo(ThreadId(1))),
    (b"D", C.Detach()),
    (b"D;1", C.Detach(1)),
    (b"k", C.Kill()),
    (b"vKill;1", C.Kill(1)),
    (b"QStartNoAckMode", C.StartNoAckMode()),
    (b"qRcmd,68656c70", C.MonitorCommand("help")),
    # extended remote and reverse execution go through the parser too
    (b"!", C.ExtendedMode()),
    (b"vRun;", C.Run((b"",))),
    (b"vRun;2f62696e;2d61", C.Run((b"2f62696e", b"2d61"))),
    (b"R", C.Restart()),
    (b"R00", C.Restart()),
    (b"bs", C.ReverseStep()),
    (b"bc", C.ReverseContinue()),
]


@pytest.mark.parametrize("payload,expected", VALID, ids=[v[0].decode("latin-1") for v in VALID])
def test_valid(payload, expected):
    assert C.parse(payload) == expected


INVALID = [
    b"m", b"m1000", b"m1000,", b"mzz,4", b"m1000,zz",
    b"M1000,2:abc", b"M1000,3:abcd", b"M1000,2", b"Mxyz,1:00",
    b"X1000,4:ab", b"X1000,1",
    b"G001", b"Gzz", b"gx",
    b"p", b"pz", b"P8", b"P8=123", b"Pq=00",
    b"Z0,100", b"Z9,100,1", b"Z0,zz,1", b"z", b"Z00,1,1",
    b"cxyz", b"sxyz", b"C5", b"Cxx", b"S0b;zz",
    b"vCont", b"vCont;", b"vCont;x", b"vCont;c5", b"vCont;C5", b"vCont;s:zz", b"vCont;r100",
    b"qSupported;x", b"qSupported:foo",
    b"qXfer:features:read:target.xml:0", b"qXfer:features:read:target.xml:zz,1",
    b"qXfer:features", b"H", b"Hx1", b"Hg", b"Hgzz", b"T", b"Tq",
    b"D1", b"D;zz", b"qAttached:zz", b"qAttachedx",
    b"qThreadExtraInfo", b"qRcmd", b"qRcmd,6", b"qRcmd,ff",
    b"vRun;zz", b"vRun;00;x", b"Rzz",
]


@pytest.mark.parametrize("payload", INVALID, ids=[v.decode("latin-1") for v in INVALID])
def test_invalid_raises_parse_error(payload):
    with pytest.raises(C.ParseError):
        C.parse(payload)


UNKNOWN = [b"", b"vMustReplyEmpty", b"qTStatus", b"qSymbol::", b"qCRC:0,4",
           b"qXfer:libraries:write:x:0,1", b"QStartNoAckModeX", b"qfThreadInfoX", b"vFile:open:",
           b"\x00\xff", b"qOffsetsX", b"i", b"!x", b"bsx", b"bcx", b"b", b"vRun"]


@pytest.mark.parametrize("payload", UNKNOWN, ids=[repr(v) for v in UNKNOWN])
def test_unknown_packets_are_unknown(payload):
    assert isinstance(C.parse(payload), C.Unknown)


def test_thread_id_syntax():
    assert C.parse_thread_id(b"-1") == ThreadId(-1)
    assert C.parse_thread_id(b"0") == ThreadId(0)
    assert C.parse_thread_id(b"p2a.1f") == ThreadId(0x1F, 0x2A)
    assert C.parse_thread_id(b"p5") == ThreadId(-1, 5)
