"""One gdb session: the packet protocol, the dispatcher, and the run state.

Pure with respect to I/O: `receive(bytes) -> bytes to write` and, while the
target runs, `run_slice() -> bytes to write`.  The server (server.py) moves
the bytes; tests drive a Session directly.
"""

from __future__ import annotations

import traceback
from typing import Callable, Optional

from machine.stop import Reason

from .dispatch import Context, Dispatcher, EndSession, Frames, Reply, Resume
from .handlers.stopreply import stop_reply
from .monitor import output_packets
from .rsp.packet import BadPacket, Garbage, Interrupt, Packet, PacketProtocol
from .rsplog import RspLog
from .target import SIGINT, StopEvent, TargetError
from .threadmodel import Wait

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
        # A step the thread model turned into a run (see _step)
        self.wait: Optional[Wait] = None
        self._stopped_at = self._cpu_pc()  # the CPU's pc when gdb last heard of a stop
        self._slices: Optional[Callable[[], StopEvent]] = None  # instead of cont()
        self._reported = dispatcher.reported_errors
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
        note = self.wait.note if self.wait is not None else None
        self._end_wait()
        if stop.reason in (Reason.FAULT, Reason.TRIPLE_FAULT, Reason.DEADLINE):
            self.notify(f"machine stopped: {stop.reason} at eip=0x{stop.pc:08x} "
                        f"(signal {stop.signal}){': ' + stop.detail if stop.detail else ''}")
        self.ctx.last_stop = stop
        if self.ctx.stop_log is not None:
            self.ctx.stop_log.record(self.ctx, stop)
        self._stopped_at = self._cpu_pc()
        out = self._send(b"O" + note.encode().hex().encode()) if note else b""
        return out + self._send(stop_reply(self.ctx, stop))

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
        """One packet -> the bytes to send.  Whatever a handler (or the
        resume that follows it) raises becomes an error reply, never an exit."""
        if self.running:
            # gdb sends nothing but Ctrl-C while the target runs (all-stop);
            # answering vRun or `monitor reset` now would make two stop replies
            return self._send(b"E.the machine is running: send Ctrl-C (0x03) first")
        try:
            return self._handle_result(self.dispatcher.dispatch(payload))
        except Exception as e:  # a bug on our side or the machine's: keep serving
            self.running = False
            self._slices = None
            self._end_wait()
            self._report(e, payload)
            if payload.startswith(b"qRcmd,"):   # gdb shows a monitor error line
                line = f"monitor: internal error: {_oneline(e).decode()}\n"
                return b"".join(self._send(p) for p in output_packets(line) + [b"OK"])
            return self._send(b"E." + _oneline(e))

    def _report(self, e: Exception, payload: Optional[bytes] = None) -> None:
        """Log an internal error once: one line each time, the traceback only
        the first time that place fails (stderr must stay small)."""
        tb = traceback.extract_tb(e.__traceback__)
        where = (type(e).__name__,) + tuple((f.filename, f.lineno) for f in tb[-1:])
        what = "while the machine ran" if payload is None else f"handling {payload[:40]!r}"
        if isinstance(e, TargetError):
            self.notify(f"refused {what}: {e}")
        elif where in self._reported:
            self.notify(f"internal error {what}: {_oneline(e).decode()}")
        else:
            self._reported.add(where)
            self.notify(f"internal error {what} "
                        f"(traceback shown once):\n{traceback.format_exc().rstrip()}")

    def _handle_result(self, result) -> bytes:
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
            self.ctx.threads.forget_departed(keep=result.thread if result.step else None)
            if result.run is not None:
                return self._stopped(self._guard(result.run))
            if result.slices is not None:
                self._slices = result.slices
                self.running = True
                return b""
            signals = self.ctx.target.support_signals()
            if result.signal and signals is not None:
                # Deliver the caught exception; a step then stops at the handler.
                stop = self._guard(lambda: signals.deliver_signal(result.signal, result.step))
                if stop is not None:
                    return self._stopped(stop)
            if result.step:
                return self._step(result.thread, result.others_run)
            pc = self._cpu_pc()
            if pc in self.ctx.breakpoints and pc not in (self._stopped_at, self.ctx.last_stop.pc):
                # gdb moved the pc onto a breakpoint (jump, set $pc): it is hit
                # before that instruction runs, as on QEMU.  (The machine runs its
                # first instruction past a breakpoint: gdb steps over the ones it
                # stopped at itself.)
                return self._stopped(StopEvent(Reason.BREAKPOINT, pc))
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

    def _cpu_pc(self) -> Optional[int]:
        try:
            return self.ctx.target.read_register("eip")
        except Exception:
            return None

    def interrupt(self) -> bytes:
        """Ctrl-C: stop a running target with SIGINT.  Ignored when stopped."""
        if not self.running:
            return b""
        pc = self.ctx.target.read_register("eip")
        alone = self.wait.interrupt_thread if self.wait is not None else None
        return self._stopped(StopEvent(Reason.INTERRUPT, pc, SIGINT, thread=alone))

    # -- stepping threads
    def _step(self, tid: Optional[int], others_run: bool = True) -> bytes:
        """Step thread `tid` (None: whoever runs).  The thread model says
        what that means; it may turn the step into a run (a `Wait`: a kernel
        task that is not on the CPU runs when the scheduler picks it)."""
        result = self.ctx.threads.step(tid, others_run,
                                       lambda: self._guard(self.ctx.target.step),
                                       self.ctx.breakpoints)
        if isinstance(result, StopEvent):
            return self._stopped(result)
        self.wait = result
        self.running = True
        return b""

    def _end_wait(self) -> None:
        if self.wait is not None:
            self.wait.end()
        self.wait = None

    # -- running
    def run_slice(self) -> bytes:
        """Run one slice of virtual time; return a stop reply if it stopped."""
        if not self.running:
            return b""
        n = self.slice_insns
        if self.wait is not None:
            n = min(n, self.wait.budget())
        stop = self._guard(self._slices or (lambda: self.ctx.target.cont(n)))
        if self.wait is not None:
            stop = self.wait.stopped(stop)
            if stop is None:
                return b""
        elif stop.slice_expired:
            return b""
        return self._stopped(stop)

    def close(self) -> None:
        """The connection is gone: end a wait (it may have planted a breakpoint)."""
        self._end_wait()
        self.running = False
        self._slices = None

    def _guard(self, run) -> StopEvent:
        """Run the target; an exception from it becomes a SIGABRT stop, not a dead server."""
        try:
            return run()
        except Exception as e:
            self._report(e)
            try:
                pc = self.ctx.target.read_register("eip")
            except Exception:
                pc = 0
            return StopEvent(Reason.FAULT, pc, SIGABRT, detail=str(e))

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
    text = str(e) if isinstance(e, TargetError) else f"{type(e).__name__}: {e}"
    text = (text.splitlines() or [""])[0][:200]
    return bytes(c for c in text.encode("ascii", "replace") if c not in b"#$}*")
