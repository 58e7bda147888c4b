"""Command dispatch: parsed command -> the capability that handles it.

Handlers are grouped by capability (gdbstub/handlers/*), in the manner of the
Rust `gdbstub` crate's extension traits.  Each capability declares the command
types it handles and the ``qSupported`` features it implements; the
``qSupported`` reply is built only from what is registered, so nothing is
advertised that is not implemented.

A handler returns one of:
  * ``bytes``            a reply payload (``b""`` is the empty "unsupported" reply)
  * `Reply`              a payload with options (binary escaping, an action after sending)
  * `Resume`             start the target (step or continue); the stop reply comes later
  * `Frames`             several packets in a row (``O`` console output, then the reply)
  * `EndSession`         reply (or not) then close the connection (D, k)
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Dict, List, Optional, Set, Tuple

from .monitor import MonitorRegistry
from .rsp import commands as C
from .rsp.packet import PACKET_SIZE, XFER_MAX
from .target import (Refused, StopEvent, Target, TargetError, TargetMemoryError,
                     TargetRegisterError)
from .threadmodel import SingleThread, ThreadModel, ThreadNotRunning

E_SYNTAX = b"E01"  # malformed packet
E_INVALID = b"E22"  # EINVAL, as QEMU: bad register number, unknown thread, bad annex
E_FAULT = b"E14"  # EFAULT, as QEMU: memory not accessible


@dataclass
class Reply:
    payload: bytes
    binary: bool = False
    after: Optional[Callable[[], None]] = None  # run after the frame is sent


@dataclass
class Resume:
    step: bool
    # Step this thread (a kernel task).  If it is not on the CPU, the machine
    # first runs until the scheduler switches to it (see kernelaware/stepwait.py).
    thread: Optional[int] = None
    # The other threads run too (vCont;s:T;c).  False (vCont;s:T alone, as
    # gdb steps a thread over a breakpoint): gdb believes them stopped, so
    # they do not run (kernelaware/stepwait.py off_cpu).
    others_run: bool = True
    signal: int = 0  # C/S/vCont;C sig: deliver the caught exception first (0: don't)
    # run the target now with this (range step, reverse step);
    # it returns the StopEvent to report
    run: Optional[Callable[[], StopEvent]] = None
    # run the target with this instead of cont() until it returns a stop that
    # is not a slice's end (reverse continue): the session polls for Ctrl-C
    # between calls, as between slices of a forward continue
    slices: Optional[Callable[[], StopEvent]] = None


@dataclass
class Frames:
    """Packets sent back to back, e.g. ``O`` output packets then ``OK`` (qRcmd)."""

    payloads: List[bytes]


@dataclass
class EndSession:
    reply: Optional[bytes]  # None: send nothing (k)
    why: str = ""


@dataclass
class Context:
    """State shared by the handlers of one server (survives reconnects)."""

    target: Target
    threads: ThreadModel
    last_stop: StopEvent
    # per-session state, reset by `new_session`
    gdb_features: Dict[str, str] = field(default_factory=dict)
    general_thread: int = 0
    continue_thread: int = 0
    # breakpoints: addr -> set of Z types installed there
    breakpoints: Dict[int, Set[int]] = field(default_factory=dict)
    # watchpoints gdb inserted: (kind, addr, length) (handlers/watch.py)
    watchpoints: Set[Tuple[str, int, int]] = field(default_factory=set)
    extended: bool = False  # `!`: extended-remote (handlers/extended.py)
    thread_cursor: int = 0
    thread_list: List[int] = field(default_factory=list)  # snapshot for qs/qfThreadInfo
    start_no_ack: Optional[Callable[[], None]] = None
    stop_log: Optional[object] = None   # gdbstub/stoplog.py (--stop-log): records each stop
    connection: int = 0     # counts sessions: a thread id means another task in the next one
    # What each layer does when gdb, or its program (kill in extended mode),
    # is gone: hook(say), say(text) telling the user (kernelaware/: write
    # the scheduling trace so far)
    session_end_hooks: List[Callable[[Callable[[str], None]], None]] = field(default_factory=list)
    # `monitor` commands layers add to the stub's (monitor.py; kernelaware/: ps, trace...)
    monitor_commands: MonitorRegistry = field(default_factory=MonitorRegistry)

    def new_session(self) -> None:
        self.connection += 1
        self.threads.new_inferior()   # gdb numbers threads from 1 again
        self.gdb_features = {}
        self.general_thread = 0
        self.continue_thread = 0
        self.thread_cursor = 0
        self.extended = False
        self.remove_all_breakpoints()   # a new gdb assumes none is inserted

    def remove_all_breakpoints(self) -> None:
        """The one removal loop: every breakpoint and watchpoint gdb inserted
        (detach, kill, end of session, a new gdb).  A removal that fails does
        not keep the others in place (at the end of a session there is
        nobody left to tell)."""
        for addr in list(self.breakpoints):
            try:
                self.target.remove_breakpoint(addr)
            except Exception:
                pass
        self.breakpoints.clear()
        watch = self.target.support_watchpoints()
        for kind, addr, length in list(self.watchpoints):
            try:
                watch.remove_watchpoint(kind, addr, length)
            except Exception:
                pass
        self.watchpoints.clear()

    def end_session(self, say: Callable[[str], None]) -> None:
        """gdb (or, in extended mode, its program) is gone."""
        self.remove_all_breakpoints()
        for hook in self.session_end_hooks:
            hook(say)

    def gdb_supports(self, feature: str) -> bool:
        return self.gdb_features.get(feature) == "+"


class Capability:
    """A group of handlers.  Subclasses fill `features` and `handlers()`."""

    features: tuple = ()

    def handlers(self) -> Dict[type, Callable]:
        raise NotImplementedError


class Dispatcher:
    def __init__(self, ctx: Context, capabilities: List[Capability]):
        self.ctx = ctx
        self.capabilities = capabilities
        # where an internal error was reported with its traceback: once per
        # server, across sessions (rspsession.py)
        self.reported_errors: Set[str] = set()
        self.table: Dict[type, Callable] = {C.QSupported: self._qsupported}
        for cap in capabilities:
            for typ, fn in cap.handlers().items():
                if typ in self.table:
                    raise ValueError(f"{typ.__name__} handled twice")
                self.table[typ] = fn

    def supported_features(self) -> List[str]:
        feats = [f"PacketSize={PACKET_SIZE:x}"]
        for cap in self.capabilities:
            feats += list(cap.features)
        return feats

    def _qsupported(self, cmd: C.QSupported):
        self.ctx.gdb_features = dict(cmd.features)
        return ";".join(self.supported_features()).encode()

    def dispatch(self, payload: bytes):
        """Payload -> handler result.  Never raises for protocol-level problems;
        a `Refused` (a stated limit) goes to the session, which replies
        ``E.<message>`` and says it on stderr."""
        try:
            cmd = C.parse(payload)
        except C.ParseError:
            return E_SYNTAX
        fn = self.table.get(type(cmd))
        if fn is None:
            return b""
        try:
            return fn(cmd)
        except C.ParseError:
            return E_SYNTAX
        except ThreadNotRunning as e:
            text = str(e).encode("ascii", "replace")
            return b"E." + bytes(c for c in text if c not in b"#$}*")
        except TargetMemoryError:
            return E_FAULT
        except TargetRegisterError:
            return E_INVALID
        except Refused:
            raise           # the session replies E.<message> and logs it
        except TargetError:
            return E_INVALID
