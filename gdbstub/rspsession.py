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
from .monitor import output_packets
from .rsp.packet import BadPacket, Garbage, Interrupt, Packet, PacketProtocol
from .rsplog import RspLog
from .target import SIGINT, StopEvent, TargetError

SIGABRT = 6

DEFAULT_SLICE = 200_000

# A step of a task that is not on the CPU waits for the scheduler to run it;
# after this much virtual time (5 s at 10 M instructions/s, 500 timer ticks)
# it stops instead: the task sleeps for good (kthreadd with no requests).
STEP_WAIT_LIMIT = 50_000_000


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
        # Stepping a task that is not on the CPU: run until it is (see _off_cpu).
        self.wait_thread: Optional[int] = None
        self._wait_pc: Optional[int] = None
        self._internal_bp: Optional[int] = None
        self._wait_limit: Optional[int] = None  # icount at which the wait gives up
        self._others_run = True  # while waiting: report other tasks' breakpoints
        self._note: Optional[str] = None  # console text (O packet) sent before the next stop
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
        self._end_wait()
        if stop.reason in ("fault", "triple_fault", "deadline"):
            self.notify(f"machine stopped: {stop.reason} at eip=0x{stop.pc:08x} "
                        f"(signal {stop.signal}){': ' + stop.detail if stop.detail else ''}")
        self.ctx.last_stop = stop
        if self.ctx.stop_log is not None:
            self.ctx.stop_log.record(self.ctx, stop)
        self._stopped_at = self._cpu_pc()
        note, self._note = self._note, None
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
                return self._stopped(StopEvent("breakpoint", pc))
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
        # While gdb steps one task alone, only that task may report a stop.
        alone = self.wait_thread if self.wait_thread is not None and not self._others_run else None
        return self._stopped(StopEvent("interrupt", pc, SIGINT, thread=alone))

    # -- stepping threads
    def _step(self, tid: Optional[int], others_run: bool = True) -> bytes:
        """Step `tid` (None: whoever runs).  A kernel task on the CPU steps one
        instruction; one that is not (or that this instruction switched off
        the CPU) is handled by _off_cpu."""
        threads = self.ctx.threads
        aware = threads.tasks_known
        self._others_run = others_run
        if tid is not None and aware and tid != threads.running():
            return self._off_cpu(tid)
        before = threads.task(tid) if tid is not None and aware else None
        stop = self._guard(self.ctx.target.step)
        if tid is not None and aware and stop.reason == "step" and threads.running() != tid:
            if before is not None and not threads.is_alive(tid):
                # It had released itself (EXIT_DEAD, unlinked) and this was
                # its last switch: still gdb's thread until gdb resumes.
                threads.keep_departed(tid, before.addr)
            if threads.is_alive(tid):
                return self._off_cpu(tid)
        return self._stopped(stop)

    def _off_cpu(self, tid: int) -> bytes:
        """A step of task `tid`, which is not on the CPU.

        Resumed alone (``vCont;s:T``: gdb steps T over a breakpoint, or
        scheduler-locking), the step ends at once, naming T at its resume
        address: T cannot run without the other tasks, and gdb believes them
        stopped, so running them would pass their breakpoints unreported (a
        stop named for another thread makes gdb 13 fail an assertion in
        infrun.c finish_step_over).  Exception: a gdb breakpoint at that very
        address (gdb would take the stop for a hit, and its next step-over of
        T would end there again): then the machine runs until T reaches it.

        Resumed with the others (``vCont;s:T;c``): the machine runs until the
        scheduler switches to T and stops at its resume address, or at any
        breakpoint first, or after STEP_WAIT_LIMIT instructions (a task that
        sleeps for good) with SIGINT and a message."""
        pc = self.ctx.threads.resume_pc(tid)
        if pc is None:  # gone, or running after all
            return self._stopped(self.ctx.last_stop if tid == self.ctx.threads.running()
                                 else StopEvent("step", self.ctx.target.read_register("eip")))
        if not self._others_run and pc not in self.ctx.breakpoints:
            return self._stopped(StopEvent("step", pc, thread=tid))
        self.wait_thread, self._wait_pc = tid, pc
        self._wait_limit = self.ctx.target.icount + STEP_WAIT_LIMIT
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
        self.wait_thread = self._wait_pc = self._internal_bp = self._wait_limit = None

    def _waited(self, stop: StopEvent) -> Optional[StopEvent]:
        """While a step waits for its task: the stop to report, or None (run on)."""
        tid = self.wait_thread
        on_cpu = self.ctx.threads.running() == tid
        ours = stop.pc not in self.ctx.breakpoints  # only the stub's breakpoint is there
        if stop.reason == "breakpoint" and stop.pc == self._wait_pc and on_cpu:
            return StopEvent("step", stop.pc, stop.signal) if ours else stop
        if stop.reason == "breakpoint" and (ours or not self._others_run):
            pass  # another task at the resume address, or gdb resumed only `tid`
        elif not stop.slice_expired:
            return stop
        if self._wait_left() == 0:
            return self._gave_up(tid)
        return None

    def _wait_left(self) -> Optional[int]:
        if self._wait_limit is None:
            return None
        return max(0, self._wait_limit - self.ctx.target.icount)

    def _gave_up(self, tid: int) -> StopEvent:
        threads = self.ctx.threads
        if self._others_run:
            threads.current()   # the stop reply below names the task on the CPU
        self._note = (f"{threads.label(threads.ids.key(tid))} did not run within "
                      f"{STEP_WAIT_LIMIT} instructions, so the step ended; the CPU runs "
                      f"{threads.label(threads.running_pid())}\n")
        # Name the stepped task if gdb believes the others stopped.
        return StopEvent("interrupt", self.ctx.target.read_register("eip"), SIGINT,
                         thread=None if self._others_run else tid)

    # -- running
    def run_slice(self) -> bytes:
        """Run one slice of virtual time; return a stop reply if it stopped."""
        if not self.running:
            return b""
        n = self.slice_insns
        if self.wait_thread is not None:
            left = self._wait_left()
            n = n if left is None else min(n, left)
        stop = self._guard(self._slices or (lambda: self.ctx.target.cont(n)))
        if self.wait_thread is not None:
            stop = self._waited(stop)
            if stop is None:
                return b""
        elif stop.slice_expired:
            return b""
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
            self._report(e)
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
    text = str(e) if isinstance(e, TargetError) else f"{type(e).__name__}: {e}"
    text = (text.splitlines() or [""])[0][:200]
    return bytes(c for c in text.encode("ascii", "replace") if c not in b"#$}*")
