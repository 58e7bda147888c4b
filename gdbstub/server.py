"""The session loop over a TCP socket or a stdin/stdout pair.

Single-threaded and deterministic.  While gdb has the target running (``c``,
``vCont;c``), the loop runs the machine in slices of virtual time and polls the
connection between slices with select(timeout=0): a 0x03 byte stops the
machine and gdb gets ``T02``.

After ``D`` (gdb's ``detach``, and its ``quit``) the guest runs on, as under
QEMU and gdbserver: in real time (the machine's 10 M instructions a second)
until the next gdb connects, which stops it where it is.  With
``halt_on_detach`` (``kthread-stub --halt-on-detach``), and after ``k`` or a
dropped connection, the machine stays exactly where it was (frozen, no virtual
time passes) and the next gdb finds it there.  When a session ends for any
reason all breakpoints gdb inserted are removed, because the next gdb assumes
none are inserted.  A second gdb connecting while
one is attached gets an ``E`` reply and is closed, and a line on stderr says so.
"""

from __future__ import annotations

import errno
import os
import select
import socket
import sys
import time
import traceback
from typing import IO, Optional

from machine.stop import Reason

from .dispatch import Context, Dispatcher
from .handlers import default_capabilities
from .rsplog import RspLog
from .rspsession import DEFAULT_SLICE, Session
from .target import SIGTRAP, StopEvent, Target
from .threadmodel import SingleThread, ThreadModel

BUSY_REPLY = b"$E.another gdb is already attached to this machine#"
REFUSED_LINGER = 5.0  # seconds a refused client's half-closed socket is kept
# A client that reads none of its replies for this long (they fill the
# socket buffers and the stub would block writing: no Ctrl-C, no signal,
# no other client) is dropped.  gdb reads every reply at once.
SEND_TIMEOUT = 20.0


def make_context(target: Target, threads: Optional[ThreadModel] = None) -> Context:
    """The handlers' shared state; the CPU is the only thread unless the
    composer gives another thread model (cli.py: kernel tasks as threads)."""
    pc = target.read_register("eip")
    return Context(target=target, threads=threads or SingleThread(target),
                   last_stop=StopEvent(Reason.STEP, pc, SIGTRAP))


def make_dispatcher(ctx: Context) -> Dispatcher:
    return Dispatcher(ctx, default_capabilities(ctx))


def new_session(ctx: Context, dispatcher: Dispatcher, log: Optional[RspLog] = None,
                slice_insns: int = DEFAULT_SLICE, notify=None) -> Session:
    return Session(ctx, dispatcher, log=log, slice_insns=slice_insns, notify=notify)


class _SockConn:
    def __init__(self, sock: socket.socket):
        self.sock = sock

    def fileno(self):
        return self.sock.fileno()

    def recv(self) -> bytes:
        try:
            return self.sock.recv(65536)
        except (ConnectionResetError, OSError):
            return b""

    def send(self, data: bytes) -> bool:
        try:
            self.sock.sendall(data)
            return True
        except OSError:             # gone, or not reading (SEND_TIMEOUT)
            return False

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass


class _StdioConn:
    def __init__(self, rfd: int = 0, wfd: int = 1):
        self.rfd, self.wfd = rfd, wfd

    def fileno(self):
        return self.rfd

    def recv(self) -> bytes:
        try:
            return os.read(self.rfd, 65536)
        except OSError:
            return b""

    def send(self, data: bytes) -> bool:
        try:
            view = memoryview(data)
            while view:
                n = os.write(self.wfd, view)
                view = view[n:]
            return True
        except OSError:
            return False

    def close(self):
        pass


def _busy_frame() -> bytes:
    body = BUSY_REPLY[1:-1]
    return BUSY_REPLY + b"%02x" % (sum(body) & 0xFF)


class Server:
    def __init__(self, target: Target, *, log: Optional[RspLog] = None,
                 slice_insns: int = DEFAULT_SLICE, messages: IO[str] = sys.stderr,
                 threads: Optional[ThreadModel] = None, halt_on_detach: bool = False):
        self.target = target
        self.halt_on_detach = halt_on_detach
        self.messages = messages
        self.ctx = make_context(target, threads)
        self.dispatcher = make_dispatcher(self.ctx)
        self.log = log or RspLog(None)
        self.slice_insns = slice_insns
        self.messages = messages
        self.listener: Optional[socket.socket] = None
        self._refused = {}  # fd -> (deadline, socket, bytes read) of refused clients
        # (fd, check): fd becomes readable when a signal arrives (the cli's
        # signal.set_wakeup_fd); check() then raises to end the server
        self.wakeup = None
        self._loop_failed = False

    def say(self, text: str) -> None:
        try:
            self.messages.write(text + "\n")
            self.messages.flush()
        except (OSError, ValueError):   # nobody reads our stderr any more: keep serving
            pass

    def _woken(self) -> None:
        """A signal arrived: drain the wake-up pipe and let the cli decide."""
        fd, check = self.wakeup
        try:
            os.read(fd, 512)
        except (BlockingIOError, InterruptedError):
            pass
        check()

    def close(self) -> None:
        """Release the port."""
        if self.listener is not None:
            self.listener.close()
            self.listener = None

    # -- listening
    def listen(self, host: str, port: int) -> int:
        """Bind and listen; returns the bound port.  Raises OSError (port in use...)."""
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
        family, _, _, _, addr = infos[0]
        s = socket.socket(family, socket.SOCK_STREAM)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind(addr)
            s.listen(64)         # clients that connect in a burst queue, not time out
        except OSError:
            s.close()
            raise
        self.listener = s
        return s.getsockname()[1]

    def serve_forever(self, once: bool = False) -> None:
        assert self.listener is not None
        waiting = select.poll()
        waiting.register(self.listener.fileno(), select.POLLIN)
        if self.wakeup is not None:
            os.set_blocking(self.wakeup[0], False)
            waiting.register(self.wakeup[0], select.POLLIN)
        while True:
            ready = [fd for fd, _ in waiting.poll()]
            if self.wakeup is not None and self.wakeup[0] in ready:
                self._woken()
            if self.listener.fileno() not in ready:
                continue
            sock, peer = self.listener.accept()
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            sock.settimeout(SEND_TIMEOUT)   # recv only follows poll: this bounds sendall
            self.say(f"gdb connected from {peer[0]}:{peer[1]}")
            why = self.serve(_SockConn(sock))
            if once:
                self.say(f"gdb session ended ({why}); machine left at eip=0x{self._pc():08x}")
                return
            rate = self.target.insns_per_second   # None: the fake target
            if why == "detached" and not self.halt_on_detach and rate:
                self.say(f"gdb session ended ({why}); the guest runs on from "
                         f"eip=0x{self._pc():08x} until the next gdb connects")
                self._run_on(rate, waiting)
            else:
                self.say(f"gdb session ended ({why}); machine left at eip=0x{self._pc():08x}")

    def _run_on(self, rate: int, waiting) -> None:
        """No gdb attached: run the guest in real time (`rate` instructions a
        second), at least one slice, until a client connects (it then finds
        the machine stopped where it is, as QEMU stops the VM for a new gdb)
        or the machine stops on its own (a fault, the deadline).  `waiting`
        polls the listener (and the signal wake-up pipe)."""
        t0, ic0 = time.monotonic(), self.target.icount
        while True:
            stop = self.target.cont(self.slice_insns)
            if not stop.slice_expired:
                self.say(f"the guest stopped on its own ({stop.reason} at eip=0x{stop.pc:08x}); "
                         "the next gdb finds it there")
                break
            ahead = (self.target.icount - ic0) / rate - (time.monotonic() - t0)
            ready = [fd for fd, _ in waiting.poll(max(0, int(ahead * 1000)))]
            if self.wakeup is not None and self.wakeup[0] in ready:
                self._woken()
            if self.listener.fileno() in ready:
                stop = StopEvent(Reason.STEP, self._pc(), SIGTRAP)
                break
        self.ctx.last_stop = stop

    def serve_stdio(self) -> str:
        return self.serve(_StdioConn())

    def _pc(self) -> int:
        try:
            return self.target.read_register("eip")
        except Exception:
            return 0

    def _refuse(self, poller) -> None:
        """A second client: answer its first packet with the busy E reply.

        gdb must get the E reply as the answer to a packet it sent (then it
        prints "Remote failure reply: E.another gdb ..."): a frame sent before
        gdb's first packet is taken for a stale reply and dropped, and closing
        with gdb's packet unread resets the connection ("Broken pipe")."""
        sock, peer = self.listener.accept()
        self.say(f"refused a second gdb from {peer[0]}:{peer[1]}: one is already attached")
        sock.setblocking(False)
        self._refused[sock.fileno()] = (time.monotonic() + REFUSED_LINGER, sock, b"")
        poller.register(sock.fileno(), select.POLLIN)
        self._reap_refused(poller)

    def _answer_refused(self, fd, poller) -> None:
        deadline, sock, buf = self._refused[fd]
        try:
            data = sock.recv(4096)
        except OSError:
            data = b""
        buf += data
        start = buf.find(b"$")
        end = buf.find(b"#", start) if start >= 0 else -1
        if data and (end < 0 or len(buf) < end + 3):
            self._refused[fd] = (deadline, sock, buf[-4096:])
            return
        if data:
            try:
                sock.sendall(b"+" + _busy_frame())
                sock.shutdown(socket.SHUT_WR)   # then EOF: gdb says the connection closed
            except OSError:
                pass
        self._drop_refused(fd, poller)

    def _drop_refused(self, fd, poller) -> None:
        _, sock, _ = self._refused.pop(fd)
        try:
            poller.unregister(fd)
        except (KeyError, ValueError):
            pass
        sock.close()

    def _reap_refused(self, poller, everything: bool = False) -> None:
        now = time.monotonic()
        for fd, (deadline, _, _) in list(self._refused.items()):
            if everything or deadline < now or len(self._refused) > 16:
                self._drop_refused(fd, poller)

    # -- one session
    def serve(self, conn) -> str:
        self.log.note("new session")
        session = new_session(self.ctx, self.dispatcher, self.log, self.slice_insns, self.say)
        why = "connection closed"
        poller = select.poll()
        cfd = conn.fileno()
        poller.register(cfd, select.POLLIN)
        if self.listener is not None:
            poller.register(self.listener.fileno(), select.POLLIN)
        wake_fd = None
        if self.wakeup is not None:
            wake_fd = self.wakeup[0]
            os.set_blocking(wake_fd, False)
            poller.register(wake_fd, select.POLLIN)
        try:
            while session.ended is None:
                try:
                    events = poller.poll(0 if session.running else None)
                except InterruptedError:
                    continue
                conn_ready = listener_ready = False
                for fd, _ in events:
                    if fd == wake_fd:
                        self._woken()
                    elif fd == cfd:
                        conn_ready = True
                    elif fd in self._refused:
                        self._answer_refused(fd, poller)
                    else:
                        listener_ready = True
                # The attached client first: if it just went away, the new
                # client waiting on the listener is the next session, not an intruder.
                if conn_ready:
                    data = conn.recv()
                    if not data:
                        session.running = False
                        break
                    out = session.receive(data)
                    if out and not conn.send(out):
                        break
                    if session.ended is not None:
                        continue
                # Refuse a second client only while the first is idle: if the
                # first still has bytes (or its EOF) to read, it may be on its
                # way out, and the waiting client is then the next session.
                if listener_ready and not conn_ready:
                    self._refuse(poller)
                elif self._refused:
                    self._reap_refused(poller)
                if session.running:
                    out = session.run_slice()
                    if out and not conn.send(out):
                        break
            else:
                why = session.ended
        except Exception:   # a bug outside the handlers: this session ends, the stub serves on
            why = "internal error"
            if self._loop_failed:
                self.say(f"internal error in the session loop: {traceback.format_exc(0).strip()}")
            else:
                self._loop_failed = True
                self.say("internal error in the session loop (traceback shown once):\n"
                         + traceback.format_exc().rstrip())
        finally:
            session.close()
            self.ctx.end_session(self.say)   # gdb left: e.g. the trace file so far
            self._reap_refused(poller, everything=True)
            conn.close()
        return why

