"""One gdb session: the packet protocol, the dispatcher, and the run state.

Pure with respect to I/O: `receive(bytes) -> bytes to write` and, while the
target runs, `run_slice() -> bytes to write`.  The server (server.py) moves
the bytes; tests drive a Session directly.
"""

from __future__ import annotations

import traceback
from typing import Callable, Optional

from .dispatch import Context, Dispatcher, EndSession, Frames, Reply, Resume
from .handlers.stopreply import stop_reply
from .packet import BadPacket, Garbage, Interrupt, Packet, PacketProtocol
from .rsplog import RspLog
from .target import SIGINT, StopEvent

SIGABRT = 6

DEFAULT_SLICE = 200_000


class Session:
    def __init__(self, ctx: Context, dispatcher: Dispatcher, log: Optional[RspLog] = None,
                 slice_insns: int = DEFAULT_SLICE, notify: Optional[Callable[[str], None]] = None):
        self.ctx = ctx
        self.notify = notify or (lambda text: None)
        self.dispatcher = dispatcher
        self.proto = PacketProtocol()
        self.log = log or RspLog(None)
        self.slice_insns = slice_insns
        self.running = False
        self.ended: Optional[str] = None  # why the session is over
        self._pending_no_ack = False
        # Stepping a task that is not on the CPU: run until it is (see _wait_for).
        self.wait_thread: Optional[int] = None
        self._wait_pc: Optional[int] = None
        self._internal_bp: Optional[int] = None
        self._others_run = True  # while waiting: report other tasks' breakpoints
        self._slices: Optional[Callable[[], StopEvent]] = None  # instead of cont()
        ctx.new_session()
        ctx.start_no_ack = self._request_no_ack

    def _request_no_ack(self) -> None:
        self.proto.start_no_ack()

    # -- output
    def _send(self, payload: bytes, binary: bool = False) -> bytes:
        frame = self.proto.send(payload, binary=binary)
        self.log.putpkt(frame, "" if self.proto.ack_mode else "noack mode")
        return frame

    def _stopped(self, stop: StopEvent) -> bytes:
        self.running = False
        self._slices = None
        self._end_wait()
        if stop.reason in ("fault", "triple_fault", "deadline"):
            self.notify(f"machine stopped: {stop.reason} at eip=0x{stop.pc:08x} "
                        f"(signal {stop.signal}){': ' + stop.detail if stop.detail else ''}")
        self.ctx.last_stop = stop
        return self._send(stop_reply(self.ctx, stop))

    # -- input
    def receive(self, data: bytes) -> bytes:
        events, out = self.proto.receive(data)
        buf = bytearray(out)
        for ev in events:
            if self.ended:
                break
            if isinstance(ev, Packet):
                self.log.getpkt(ev.data, "sent ack" if self.proto.ack_mode else "no ack sent")
                buf += self._handle(ev.data)
            elif isinstance(ev, Interrupt):
                self.log.interrupt()
                buf += self.interrupt()
            elif isinstance(ev, BadPacket):
                self.log.note(f"bad packet ({ev.reason}): {ev.raw[:80]!r}")
            elif isinstance(ev, Garbage):
                self.log.note(f"garbage: {ev.data[:80]!r}")
        return bytes(buf)

    def _handle(self, payload: bytes) -> bytes:
        try:
            result = self.dispatcher.dispatch(payload)
        except Exception as e:  # a bug on our side or the machine's: keep serving
            self.notify(f"internal error handling {payload[:40]!r}:\n{traceback.format_exc()}")
            return self._send(b"E." + _oneline(e))
        if isinstance(result, bytes):
            return self._send(result)
        if isinstance(result, Reply):
            frame = self._send(result.payload, binary=result.binary)
            if result.after:
                result.after()
            return frame
        if result is None:  # a packet with no reply (R)
            return b""
        if isinstance(result, Resume):
            if result.run is not None:
                return self._stopped(self._guard(result.run))
            if result.slices is not None:
                self._slices = result.slices
                self.running = True
                return b""
            if result.signal and hasattr(self.ctx.target, "deliver_signal"):
                # Deliver the caught exception; a step then stops at the handler.
                stop = self._guard(lambda: self.ctx.target.deliver_signal(result.signal, result.step))
                if stop is not None:
                    return self._stopped(stop)
            if result.step:
                return self._step(result.thread, result.others_run)
            self.running = True
            return b""
        if isinstance(result, Frames):
            return b"".join(self._send(p) for p in result.payloads)
        if isinstance(result, EndSession):
            self.ended = result.why
            self.running = False
            self._slices = None
            return self._send(result.reply) if result.reply is not None else b""
        raise TypeError(f"handler returned {result!r}")

    def interrupt(self) -> bytes:
        """Ctrl-C: stop a running target with SIGINT.  Ignored when stopped."""
        if not self.running:
            return b""
        pc = self.ctx.target.read_register("eip")
        return self._stopped(StopEvent("interrupt", pc, SIGINT))

    # -- stepping threads
    def _step(self, tid: Optional[int], others_run: bool = True) -> bytes:
        """Step `tid` (None: whoever runs).  A kernel task that is not on the
        CPU is first run to: the machine runs until the scheduler switches to
        it, and stops at its resume address.  If the step itself switches the
        task off the CPU, it completes when the task runs again.  Unless
        `others_run`, breakpoints other tasks hit meanwhile are run through."""
        threads = self.ctx.threads
        aware = hasattr(threads, "resume_pc")
        self._others_run = others_run
        if tid is not None and aware and tid != threads.current():
            return self._wait_for(tid)
        stop = self._guard(self.ctx.target.step)
        if (tid is not None and aware and stop.reason == "step"
                and threads.current() != tid and threads.is_alive(tid)):
            return self._wait_for(tid)
        return self._stopped(stop)

    def _wait_for(self, tid: int) -> bytes:
        pc = self.ctx.threads.resume_pc(tid)
        if pc is None:  # gone, or running after all
            return self._stopped(self.ctx.last_stop if tid == self.ctx.threads.current()
                                 else StopEvent("step", self.ctx.target.read_register("eip")))
        self.wait_thread, self._wait_pc = tid, pc
        if pc not in self.ctx.breakpoints:
            self.ctx.target.add_breakpoint(pc)
            self._internal_bp = pc
        self.running = True
        return b""

    def _end_wait(self) -> None:
        if self._internal_bp is not None:
            try:
                self.ctx.target.remove_breakpoint(self._internal_bp)
            except Exception:
                pass
        self.wait_thread = self._wait_pc = self._internal_bp = None

    # -- running
    def run_slice(self) -> bytes:
        """Run one slice of virtual time; return a stop reply if it stopped."""
        if not self.running:
            return b""
        stop = self._guard(self._slices or (lambda: self.ctx.target.cont(self.slice_insns)))
        if stop.slice_expired:
            return b""
        if self.wait_thread is not None and stop.reason == "breakpoint" and stop.pc == self._wait_pc:
            if self.ctx.threads.current() == self.wait_thread:
                if stop.pc not in self.ctx.breakpoints:
                    stop = StopEvent("step", stop.pc, stop.signal)
            elif stop.pc not in self.ctx.breakpoints:
                return b""  # another task resumed there: keep running
        if (self.wait_thread is not None and not self._others_run and stop.reason == "breakpoint"
                and self.ctx.threads.current() != self.wait_thread):
            return b""  # gdb resumed only wait_thread: others' breakpoints are not events
        return self._stopped(stop)

    def close(self) -> None:
        """The connection is gone: drop the stub's own breakpoint, if any."""
        self._end_wait()
        self.running = False
        self._slices = None

    def _guard(self, run) -> StopEvent:
        """Run the target; an exception from it becomes a SIGABRT stop, not a dead server."""
        try:
            return run()
        except Exception as e:
            self.notify(f"the machine raised while running:\n{traceback.format_exc()}")
            try:
                pc = self.ctx.target.read_register("eip")
            except Exception:
                pc = 0
            return StopEvent("fault", pc, SIGABRT, detail=str(e))

    def run_until_stopped(self, max_slices: int = 1000) -> bytes:
        """For tests: run slices until a stop (or give up; then stays running)."""
        for _ in range(max_slices):
            if not self.running:
                break
            out = self.run_slice()
            if out:
                return out
        return b""


def _oneline(e: Exception) -> bytes:
    text = f"{type(e).__name__}: {e}".splitlines()[0][:200]
    return bytes(c for c in text.encode("ascii", "replace") if c not in b"#$}*")
