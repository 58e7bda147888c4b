"""Pure parsers: packet payload bytes -> command objects.

`parse(payload)` returns a command dataclass, `Unknown` for packets we do not
recognise (the dispatcher answers those with an empty reply, as the protocol
asks), or raises `ParseError` for a recognised packet with bad syntax (the
dispatcher answers ``E01``).  Nothing here knows about targets or sockets.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Dict, List, Optional, Tuple


class ParseError(ValueError):
    """A known packet with malformed arguments."""


# ---------------------------------------------------------------- thread ids

ALL_THREADS = -1
ANY_THREAD = 0


@dataclass(frozen=True)
class ThreadId:
    """``tid``, or ``p<pid>.<tid>`` in multiprocess syntax; -1 all, 0 any."""

    tid: int
    pid: Optional[int] = None


_HEX_DIGITS = frozenset(b"0123456789abcdefABCDEF")


def _hexint(text: bytes, what: str = "number") -> int:
    if not text:
        raise ParseError(f"empty {what}")
    # Plain hex digits only: int(..., 16) also takes "-1", "+1", "0x1", "1_0"
    # and spaces, and a negative register number would index from the end.
    if not _HEX_DIGITS.issuperset(text):
        raise ParseError(f"bad hex {what}: {text[:40]!r}")
    return int(text, 16)


def is_hex(text: bytes) -> bool:
    """Plain hex digits (or nothing)."""
    return _HEX_DIGITS.issuperset(text)


def _id(text: bytes) -> int:
    if text == b"-1":
        return ALL_THREADS
    return _hexint(text, "thread id")


def parse_thread_id(text: bytes) -> ThreadId:
    if text.startswith(b"p"):
        pid_s, dot, tid_s = text[1:].partition(b".")
        pid = _id(pid_s)
        tid = _id(tid_s) if dot else ALL_THREADS
        return ThreadId(tid, pid)
    return ThreadId(_id(text))


def _hexbytes(text: bytes) -> bytes:
    if len(text) % 2:
        raise ParseError("odd number of hex digits")
    try:
        return bytes.fromhex(text.decode("ascii"))
    except (ValueError, UnicodeDecodeError):
        raise ParseError("bad hex data") from None


def _addr_len(text: bytes) -> Tuple[int, int]:
    a, comma, n = text.partition(b",")
    if not comma:
        raise ParseError("expected addr,length")
    return _hexint(a, "address"), _hexint(n, "length")


# ------------------------------------------------------------------ commands


@dataclass(frozen=True)
class Unknown:
    data: bytes


@dataclass(frozen=True)
class QueryHaltReason:  # ?
    pass


@dataclass(frozen=True)
class ReadRegisters:  # g
    pass


@dataclass(frozen=True)
class WriteRegisters:  # G XX...
    data: bytes


@dataclass(frozen=True)
class ReadRegister:  # p n
    regnum: int


@dataclass(frozen=True)
class WriteRegister:  # P n=r...
    regnum: int
    data: bytes


@dataclass(frozen=True)
class ReadMemory:  # m addr,length
    addr: int
    length: int


@dataclass(frozen=True)
class WriteMemory:  # M addr,length:XX...  and  X addr,length:binary
    addr: int
    data: bytes
    binary: bool = False


@dataclass(frozen=True)
class Breakpoint:  # Z/z type,addr,kind[;cond...]
    insert: bool
    type: int
    addr: int
    kind: int


@dataclass(frozen=True)
class Continue:  # c [addr] / C sig[;addr]
    addr: Optional[int] = None
    signal: Optional[int] = None


@dataclass(frozen=True)
class Step:  # s [addr] / S sig[;addr]
    addr: Optional[int] = None
    signal: Optional[int] = None


@dataclass(frozen=True)
class VContAction:
    action: str  # 'c', 's', 'C', 'S', 't', 'r'
    thread: Optional[ThreadId] = None  # None: applies to every thread left
    signal: Optional[int] = None
    range: Optional[Tuple[int, int]] = None


@dataclass(frozen=True)
class VCont:
    actions: Tuple[VContAction, ...]


@dataclass(frozen=True)
class VContQuery:  # vCont?
    pass


@dataclass(frozen=True)
class QSupported:
    features: Dict[str, str] = field(default_factory=dict)  # name -> '+', '-', '?', or value


@dataclass(frozen=True)
class QXferRead:  # qXfer:object:read:annex:offset,length
    object: str
    annex: str
    offset: int
    length: int


@dataclass(frozen=True)
class SetThread:  # H op thread-id
    op: str  # 'g' or 'c'
    thread: ThreadId


@dataclass(frozen=True)
class ThreadAlive:  # T thread-id
    thread: ThreadId


@dataclass(frozen=True)
class CurrentThread:  # qC
    pass


@dataclass(frozen=True)
class QueryAttached:  # qAttached[:pid]
    pid: Optional[int] = None


@dataclass(frozen=True)
class QueryOffsets:  # qOffsets
    pass


@dataclass(frozen=True)
class ThreadInfoFirst:  # qfThreadInfo
    pass


@dataclass(frozen=True)
class ThreadInfoNext:  # qsThreadInfo
    pass


@dataclass(frozen=True)
class ThreadExtraInfo:  # qThreadExtraInfo,thread-id
    thread: ThreadId


@dataclass(frozen=True)
class Detach:  # D[;pid]
    pid: Optional[int] = None


@dataclass(frozen=True)
class Kill:  # k, vKill;pid
    pid: Optional[int] = None


@dataclass(frozen=True)
class StartNoAckMode:  # QStartNoAckMode
    pass


@dataclass(frozen=True)
class MonitorCommand:  # qRcmd,hex
    command: str


@dataclass(frozen=True)
class ExtendedMode:  # !
    pass


@dataclass(frozen=True)
class Run:  # vRun;filename[;argument]...  (each hex; kept as sent)
    args: Tuple[bytes, ...]


@dataclass(frozen=True)
class Restart:  # R XX  (the argument is ignored)
    pass


@dataclass(frozen=True)
class ReverseStep:  # bs
    pass


@dataclass(frozen=True)
class ReverseContinue:  # bc
    pass


# ------------------------------------------------------------------- parsers


def _parse_m(body: bytes):
    return ReadMemory(*_addr_len(body))


def _parse_M(body: bytes):
    head, colon, data = body.partition(b":")
    if not colon:
        raise ParseError("expected ':' in M packet")
    addr, length = _addr_len(head)
    raw = _hexbytes(data)
    if len(raw) != length:
        raise ParseError("M length does not match data")
    return WriteMemory(addr, raw)


def _parse_X(body: bytes):
    head, colon, data = body.partition(b":")
    if not colon:
        raise ParseError("expected ':' in X packet")
    addr, length = _addr_len(head)
    # The packet layer has already unescaped the binary data.
    if len(data) != length:
        raise ParseError("X length does not match data")
    return WriteMemory(addr, bytes(data), binary=True)


def _parse_g(body: bytes):
    if body:
        raise ParseError("g takes no argument")
    return ReadRegisters()


def _parse_G(body: bytes):
    return WriteRegisters(_hexbytes(body))


def _parse_p(body: bytes):
    return ReadRegister(_hexint(body, "register number"))


def _parse_P(body: bytes):
    n, eq, v = body.partition(b"=")
    if not eq:
        raise ParseError("expected n=value")
    return WriteRegister(_hexint(n, "register number"), _hexbytes(v))


def _parse_z(insert: bool):
    def parse(body: bytes):
        main = body.split(b";", 1)[0]  # conditions/commands after ';' are ignored
        parts = main.split(b",")
        if len(parts) != 3:
            raise ParseError("expected type,addr,kind")
        t, a, k = parts
        if len(t) != 1 or t not in b"01234":
            raise ParseError("bad breakpoint type")
        return Breakpoint(insert, int(t), _hexint(a, "address"), _hexint(k, "kind"))

    return parse


def _opt_addr(body: bytes) -> Optional[int]:
    return _hexint(body, "address") if body else None


def _parse_c(body: bytes):
    return Continue(_opt_addr(body))


def _parse_s(body: bytes):
    return Step(_opt_addr(body))


def _sig_addr(body: bytes) -> Tuple[int, Optional[int]]:
    sig, semi, addr = body.partition(b";")
    if len(sig) != 2:
        raise ParseError("signal must be two hex digits")
    return _hexint(sig, "signal"), (_hexint(addr, "address") if semi else None)


def _parse_C(body: bytes):
    sig, addr = _sig_addr(body)
    return Continue(addr, sig)


def _parse_S(body: bytes):
    sig, addr = _sig_addr(body)
    return Step(addr, sig)


def _parse_H(body: bytes):
    if len(body) < 2 or body[:1] not in (b"g", b"c", b"m"):
        raise ParseError("expected H{g,c}thread-id")
    return SetThread(chr(body[0]), parse_thread_id(body[1:]))


def _parse_T(body: bytes):
    return ThreadAlive(parse_thread_id(body))


def _parse_D(body: bytes):
    if not body:
        return Detach()
    if body.startswith(b";"):
        return Detach(_hexint(body[1:], "pid"))
    raise ParseError("bad D packet")


def _parse_k(body: bytes):
    return Kill()


def _parse_question(body: bytes):
    return QueryHaltReason()


def _parse_vrun(body: bytes):
    args = tuple(body.split(b";"))
    if not all(is_hex(a) for a in args):
        raise ParseError("vRun arguments are hex")
    return Run(args)


def _parse_R(body: bytes):
    if not is_hex(body):
        raise ParseError("bad R packet")
    return Restart()


def _parse_vcont(body: bytes):
    if body == b"?":
        return VContQuery()
    if not body.startswith(b";"):
        raise ParseError("vCont needs actions")
    actions: List[VContAction] = []
    for item in body[1:].split(b";"):
        act, colon, tid = item.partition(b":")
        thread = parse_thread_id(tid) if colon else None
        if not act:
            raise ParseError("empty vCont action")
        kind = chr(act[0])
        arg = act[1:]
        if kind in "cst":
            if arg:
                raise ParseError(f"vCont {kind} takes no argument")
            actions.append(VContAction(kind, thread))
        elif kind in "CS":
            if len(arg) != 2:
                raise ParseError("vCont signal must be two hex digits")
            actions.append(VContAction(kind, thread, signal=_hexint(arg, "signal")))
        elif kind == "r":
            start, end = (_hexint(x, "address") for x in _split2(arg, b","))
            actions.append(VContAction("r", thread, range=(start, end)))
        else:
            raise ParseError(f"unknown vCont action {kind!r}")
    return VCont(tuple(actions))


def _split2(text: bytes, sep: bytes) -> Tuple[bytes, bytes]:
    a, s, b = text.partition(sep)
    if not s:
        raise ParseError(f"expected {sep!r}")
    return a, b


def _parse_vkill(body: bytes):
    return Kill(_hexint(body, "pid") if body else None)


def _parse_qsupported(body: bytes):
    feats: Dict[str, str] = {}
    if body:
        if not body.startswith(b":"):
            raise ParseError("qSupported features start with ':'")
        for item in body[1:].split(b";"):
            if not item:
                continue
            text = item.decode("latin-1")
            if "=" in text:
                k, v = text.split("=", 1)
                feats[k] = v
            elif text[-1] in "+-?":
                feats[text[:-1]] = text[-1]
            else:
                raise ParseError(f"bad qSupported feature {text!r}")
    return QSupported(feats)


def _parse_qxfer(body: bytes):
    # body: object:read:annex:offset,length   (after "qXfer:")
    parts = body.split(b":")
    if len(parts) != 4:
        raise ParseError("expected qXfer:object:op:annex:offset,length")
    obj, op, annex, rng = parts
    if op != b"read":
        return Unknown(b"qXfer:" + body)
    off, length = _addr_len(rng)
    return QXferRead(obj.decode("latin-1"), annex.decode("latin-1"), off, length)


def _parse_qattached(body: bytes):
    if not body:
        return QueryAttached()
    if body.startswith(b":"):
        return QueryAttached(_hexint(body[1:], "pid"))
    raise ParseError("bad qAttached")


def _parse_extra_info(body: bytes):
    if not body.startswith(b","):
        raise ParseError("expected qThreadExtraInfo,thread-id")
    return ThreadExtraInfo(parse_thread_id(body[1:]))


def _parse_rcmd(body: bytes):
    if not body.startswith(b","):
        raise ParseError("expected qRcmd,hex")
    try:
        return MonitorCommand(_hexbytes(body[1:]).decode("utf-8"))
    except UnicodeDecodeError:
        raise ParseError("monitor command is not UTF-8") from None


def _exact(cmd):
    def parse(body: bytes):
        if body:
            return Unknown(b"")  # replaced by the caller with the full packet
        return cmd()

    return parse


# Multi-letter packets first: the longest matching prefix wins.
_PREFIXES: List[Tuple[bytes, Callable]] = [
    (b"QStartNoAckMode", _exact(StartNoAckMode)),
    (b"qSupported", _parse_qsupported),
    (b"qXfer:", _parse_qxfer),
    (b"qAttached", _parse_qattached),
    (b"qOffsets", _exact(QueryOffsets)),
    (b"qfThreadInfo", _exact(ThreadInfoFirst)),
    (b"qsThreadInfo", _exact(ThreadInfoNext)),
    (b"qThreadExtraInfo", _parse_extra_info),
    (b"qRcmd", _parse_rcmd),
    (b"qC", _exact(CurrentThread)),
    (b"vCont", _parse_vcont),
    (b"vKill;", _parse_vkill),
    (b"vRun;", _parse_vrun),
    (b"bs", _exact(ReverseStep)),
    (b"bc", _exact(ReverseContinue)),
]

_SINGLE: Dict[int, Callable] = {
    ord("?"): _parse_question,
    ord("g"): _parse_g,
    ord("G"): _parse_G,
    ord("p"): _parse_p,
    ord("P"): _parse_P,
    ord("m"): _parse_m,
    ord("M"): _parse_M,
    ord("X"): _parse_X,
    ord("Z"): _parse_z(True),
    ord("z"): _parse_z(False),
    ord("c"): _parse_c,
    ord("C"): _parse_C,
    ord("s"): _parse_s,
    ord("S"): _parse_S,
    ord("H"): _parse_H,
    ord("T"): _parse_T,
    ord("D"): _parse_D,
    ord("k"): _parse_k,
    ord("!"): _exact(ExtendedMode),
    ord("R"): _parse_R,
}


_PREFIXES_BY_FIRST: Dict[int, List[Tuple[bytes, Callable]]] = {}
for _prefix, _fn in _PREFIXES:
    _PREFIXES_BY_FIRST.setdefault(_prefix[0], []).append((_prefix, _fn))


def parse(payload: bytes):
    """Parse one packet payload.  Raises `ParseError` only for bad syntax."""
    if not payload:
        return Unknown(payload)
    for prefix, fn in _PREFIXES_BY_FIRST.get(payload[0], ()):
        if payload.startswith(prefix):
            cmd = fn(payload[len(prefix) :])
            return Unknown(payload) if isinstance(cmd, Unknown) else cmd
    first = payload[0]
    # Other multi-letter packets (qTStatus, vMustReplyEmpty, ...) are unknown.
    if first in b"qQv":
        return Unknown(payload)
    fn = _SINGLE.get(first)
    if fn is None:
        return Unknown(payload)
    cmd = fn(payload[1:])
    return Unknown(payload) if isinstance(cmd, Unknown) else cmd
