"""kthread-stub: serve the emulated machine to gdb over RSP.

    kthread-stub [--kernel PATH] [--append CMDLINE] [--host H] [--port N] [--once] [--debug-rsp FILE]
    gdb kernel_src/vmlinux -ex 'target remote | kthread-stub --stdio'

Exit status 2 with a one-line message for the errors a user can fix (port in
use, missing kernel, bad ELF, bad option), never a traceback.

CPU exceptions are caught by default: the machine stops before delivering
one through the guest IDT and gdb sees SIGILL/SIGSEGV/SIGFPE at the faulting
instruction; `continue` (which passes the signal) delivers it to the kernel,
`signal 0` runs the instruction again.  --no-catch-exceptions lets the kernel
handle them unseen (gdb still sees faults the kernel cannot take).
"""

from __future__ import annotations

import argparse
import errno
import ipaddress
import os
import signal
import socket
import sys
from pathlib import Path

from machine import options

from .kernelaware import monitor as kernel_monitor
from .kernelaware.schedtrace import TraceSlot
from .kernelaware.threads import make_thread_model
from .rsplog import RspLog
from .server import Server
from .rspsession import DEFAULT_SLICE


class UsageError(Exception):
    pass


def ensure_kernel(path=None) -> Path:
    """The kernel to serve: machine.kbuild.ensure_kernel() (which builds
    kernel_src/vmlinux when it is missing or stale, and returns a given path
    unchanged)."""
    from machine import KernelImageError, kbuild

    if path is not None and not Path(path).is_file():
        raise UsageError(f"kernel image not found: {path} (pass the path of an "
                         "i386 vmlinux, or leave out --kernel to build kernel_src/vmlinux)")
    try:
        return Path(kbuild.ensure_kernel(None if path is None else str(path)))
    except KernelImageError as e:
        raise UsageError(_one_line(str(e))) from None


def _shown_path(kernel) -> str:
    """The kernel path as the user would type it: relative when under the cwd."""
    if kernel is None:
        return "vmlinux"
    rel = os.path.relpath(kernel)
    return str(kernel) if rel.startswith("..") else rel


def _one_line(text: str) -> str:
    """Multi-line errors (make output) become one line: the first and the last line."""
    lines = [l.strip() for l in text.strip().splitlines() if l.strip()]
    if len(lines) <= 1:
        return lines[0] if lines else "error"
    return f"{lines[0]} {lines[-1]}"


class _Parser(argparse.ArgumentParser):
    """argparse, but a bad option is one line (what is wrong, what to do)."""

    def error(self, message):
        self.exit(2, f"{self.prog}: {message} (see {self.prog} --help)\n")


def _port(text: str) -> int:
    try:
        port = int(text, 0)
    except ValueError:
        raise argparse.ArgumentTypeError(f"bad port {text!r}: give a number 0-65535") from None
    if not 0 <= port <= 65535:
        raise argparse.ArgumentTypeError(f"bad port {port}: give a number 0-65535")
    return port


def _slice(text: str) -> int:
    try:
        n = int(text, 0)
    except ValueError:
        n = 0
    if n <= 0:
        raise argparse.ArgumentTypeError(f"bad slice {text!r}: give a positive instruction count")
    return n


def _count(text: str) -> int:
    from .target import parse_count

    try:
        return parse_count(text)
    except ValueError as e:
        raise argparse.ArgumentTypeError(str(e)) from None


def _mem_size(text: str) -> int:
    units = {"K": 1 << 10, "M": 1 << 20, "G": 1 << 30}
    t = text.strip().upper().rstrip("B").rstrip("I")
    try:
        n = int(float(t[:-1]) * units[t[-1]]) if t and t[-1] in units else int(t, 0)
    except (ValueError, IndexError, OverflowError):   # OverflowError: inf, 1e400
        n = 0
    if not (1 << 20) <= n <= (1 << 40):
        raise argparse.ArgumentTypeError(f"bad memory size {text!r}: give e.g. 256M or 1G "
                                         "(from 1M to 1T)")
    return n


MAX_CMDLINE = 1023  # the loader's limit (machine/loader.py)


def _cmdline(text: str) -> str:
    try:
        raw = text.encode("ascii")
    except UnicodeEncodeError:
        raise argparse.ArgumentTypeError("bad kernel command line: use ASCII characters only") from None
    if len(raw) > MAX_CMDLINE:
        raise argparse.ArgumentTypeError(
            f"bad kernel command line: {len(raw)} bytes, at most {MAX_CMDLINE}")
    return text


def _parser() -> argparse.ArgumentParser:
    p = _Parser(prog="kthread-stub", description=__doc__.split("\n\n")[0])
    p.add_argument("--kernel", metavar="PATH", help="kernel ELF (default: build kernel_src/vmlinux)")
    p.add_argument("--cpus", type=int, choices=range(1, 5), default=1, metavar="N",
                   help="CPUs, 1 to 4 (default 1); more than one: an MP table and a "
                   "local APIC per CPU, run in turns of --quantum instructions")
    p.add_argument("--quantum", type=options.quantum, default=10_000, metavar="N",
                   help="instructions a CPU runs before the next one's turn (default 10000)")
    p.add_argument("--sched-seed", type=options.sched_seed, default=None, metavar="S",
                   help="vary each quantum's length by seed S (the same S, the same run)")
    p.add_argument("--host", default="127.0.0.1",
                   help="address to listen on (default 127.0.0.1; any other than loopback "
                        "needs --allow-remote)")
    p.add_argument("--allow-remote", action="store_true",
                   help="allow a --host that is not loopback: whoever reaches the port "
                        "controls the machine")
    p.add_argument("--port", type=_port, default=1234, help="TCP port (default 1234; 0 picks one)")
    p.add_argument("--append", metavar="CMDLINE", default="", type=_cmdline,
                   help="kernel command line, as QEMU's -append (e.g. 'oops=pf')")
    p.add_argument("--no-catch-exceptions", dest="catch_exceptions", action="store_false",
                   help="let the kernel handle CPU exceptions without stopping first")
    p.add_argument("--stdio", action="store_true",
                   help="speak RSP on stdin/stdout (for: target remote | kthread-stub --stdio)")
    p.add_argument("--debug-rsp", metavar="FILE", help="log every packet to FILE ('-' for stderr)")
    p.add_argument("--once", action="store_true", help="exit when the first gdb leaves")
    p.add_argument("--halt-on-detach", action="store_true",
                   help="keep the machine stopped when gdb detaches (default: the guest runs "
                        "on, as under QEMU, until the next gdb connects)")
    p.add_argument("--slice", type=_slice, default=DEFAULT_SLICE, metavar="N",
                   help="instructions run between polls for Ctrl-C (default %(default)s)")
    p.add_argument("--tasks", action="store_true",
                   help="show kernel tasks as gdb threads from the start (else: `monitor tasks on`)")
    p.add_argument("--history-mem", type=_mem_size, default=1 << 30, metavar="SIZE",
                   help="memory for reverse-execution history, e.g. 256M or 2G "
                        "(default 1G; the oldest history is dropped beyond it)")
    p.add_argument("--deadline", type=_count, metavar="N",
                   help="virtual-time budget: at icount N (e.g. 300M) the machine stops for "
                        "good with SIGXCPU; every later resume stops again (default: none)")
    p.add_argument("--trace", metavar="FILE",
                   help="record scheduling from the first instruction as Chrome trace JSON "
                        "(Perfetto, chrome://tracing); written when gdb leaves and at exit; "
                        "`monitor trace on` records into it again")
    p.add_argument("--trace-dir", metavar="DIR", type=_trace_dir,
                   help="folder where `monitor trace on` makes a new trace file of its own "
                        "(named in its reply); without it or --trace the trace stays in memory")
    p.add_argument("--stop-log", metavar="FILE",
                   help="write one JSON line per stop reported to gdb (pc, pid, icount, "
                        "reason, registers) to FILE: evidence for the lab grader")
    p.add_argument("--fake-target", action="store_true",
                   help="serve a fake target instead of the machine (protocol testing)")
    return p


def _make_target(args, messages):
    if args.fake_target:
        from .fake import FakeTarget

        return FakeTarget(), None, None
    kernel = ensure_kernel(args.kernel)
    try:
        from machine import KernelImageError, Machine
    except ImportError as e:
        raise UsageError(f"the machine package is not available ({e})") from None
    console_fd = messages if args.stdio else _Lossy(sys.stdout)

    def console(data: bytes) -> None:
        console_fd.write(data.decode("latin-1"))
        console_fd.flush()

    try:
        options.env_icount()
    except ValueError as e:
        raise UsageError(str(e)) from None
    try:
        machine = Machine(str(kernel), cmdline=args.append, console=console, cpus=args.cpus,
                          quantum=args.quantum, sched_seed=args.sched_seed)
    except KernelImageError as e:
        raise UsageError(f"bad kernel image {kernel}: {_one_line(str(e))}") from None
    except Exception as e:  # a corrupt ELF makes pyelftools raise anything
        why = _one_line(str(e)) or type(e).__name__
        raise UsageError(f"kernel image {kernel} is corrupt or unreadable ({why}): "
                         "rebuild it with make -C kernel_src or pass another --kernel PATH") from None
    machine.catch_exceptions = args.catch_exceptions
    from .target import MachineTarget
    from machine.history import TimeMachine  # watchpoints, reverse execution, restarts

    timemachine = TimeMachine(machine, mem_limit=args.history_mem)
    return MachineTarget(timemachine, history=True), kernel, timemachine


def _start_trace(slot, path):
    from .kernelaware.schedtrace import TraceError

    try:
        tr = slot.get()
        tr.start(path)
    except TraceError as e:
        raise UsageError(f"--trace: {e}") from None
    tr.home = tr.path


def _trace_dir(text: str) -> str:
    path = os.path.abspath(os.path.expanduser(text))
    if not os.path.isdir(path) or not os.access(path, os.W_OK):
        raise argparse.ArgumentTypeError(f"bad --trace-dir {text!r}: give a writable folder")
    return path


def _open_log(path: str):
    """The --debug-rsp file, never through a symbolic link planted at it."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW, 0o644)
    except OSError as e:
        why = "it is a symbolic link" if e.errno == errno.ELOOP else (e.strerror or str(e))
        raise UsageError(f"cannot write the packet log {path}: {why} "
                         "(give a writable path, or - for stderr)") from None
    return os.fdopen(fd, "w")


def _check_host(host: str, allow_remote: bool) -> bool:
    """Any address but loopback (0, 0.0.0.0, ::, a name...) needs --allow-remote:
    whoever reaches the port reads and writes the machine.  Checked on the
    address the name resolves to, which is the one bound."""
    try:
        infos = socket.getaddrinfo(host or None, 0, type=socket.SOCK_STREAM,
                                   flags=socket.AI_PASSIVE)
    except (OSError, UnicodeError) as e:   # a UnicodeError has no strerror
        raise UsageError(f"cannot listen on {host}: {getattr(e, 'strerror', None) or e} "
                         "(check --host: an address of this machine, e.g. 127.0.0.1)") from None
    addr = infos[0][4][0].split("%")[0]
    remote = not ipaddress.ip_address(addr).is_loopback
    if remote and not allow_remote:
        raise UsageError(f"--host {host} is {addr}, not loopback: whoever reaches it controls "
                         "the machine; add --allow-remote if that is what you want")
    return remote


class _Lossy:
    """A text stream whose output is dropped once its reader is gone (a closed
    pipe, `kthread-stub | head`), as QEMU does: neither the machine nor the
    stub stops for it."""

    def __init__(self, stream):
        self.stream = stream

    def write(self, text):
        try:
            self.stream.write(text)
        except (OSError, ValueError):
            self._drop()

    def flush(self):
        try:
            self.stream.flush()
        except (OSError, ValueError):
            self._drop()

    def _drop(self):
        try:   # later writes (and Python's own at exit) go nowhere
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, self.stream.fileno())
            os.close(devnull)
        except (OSError, ValueError):
            pass


class _Terminated(BaseException):   # not caught where a bug ends only a session
    """SIGINT, SIGTERM or SIGHUP: leave through the one clean exit path."""


def main(argv=None) -> int:
    args = _parser().parse_args(argv)
    messages = _Lossy(sys.stderr)
    log_stream = None
    trace_slot = None
    server = None
    # SIGINT, SIGTERM (docker stop, systemd, harnesses) and SIGHUP: one clean
    # exit, trace and packet log flushed, port released.  The handler only
    # notes the signal: raised inside a machine hook (a ctypes callback) an
    # exception is lost and the stub ran on; the server loop raises at its
    # next poll instead.
    wake_r, wake_w = os.pipe()
    os.set_blocking(wake_w, False)
    old_wakeup = signal.set_wakeup_fd(wake_w)
    caught = []

    def _on_signal(signum, frame):
        caught.append(signum)

    def _check_signals():
        if caught:
            raise _Terminated(caught[0])

    old_handlers = {s: signal.signal(s, _on_signal)
                    for s in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)}
    try:
        remote = not args.stdio and _check_host(args.host, args.allow_remote)
        if args.debug_rsp:
            log_stream = messages if args.debug_rsp == "-" else _open_log(args.debug_rsp)
        target, kernel, machine = _make_target(args, messages)
        if args.deadline is not None:
            target.deadline = args.deadline
        # the scheduling trace probes the machine (none for the fake target)
        trace_slot = TraceSlot(machine, folder=args.trace_dir)
        if args.trace is not None:
            _start_trace(trace_slot, args.trace)
        # the composition: the stub, with the kernel-awareness layer plugged in
        threads, _why_not = make_thread_model(target, kernel, tasks=args.tasks)
        server = Server(target, log=RspLog(log_stream), slice_insns=args.slice, messages=messages,
                        threads=threads, halt_on_detach=args.halt_on_detach)
        kernel_monitor.install(server.ctx, trace_slot)
        server.wakeup = (wake_r, _check_signals)
        _check_signals()
        if args.stop_log:
            from .stoplog import StopLog
            try:
                server.ctx.stop_log = StopLog(args.stop_log)
            except OSError as e:
                raise UsageError(f"cannot write the stop log {args.stop_log}: "
                                 f"{e.strerror or e}") from None
        if args.stdio:
            server.serve_stdio()
            return 0
        if remote:
            messages.write(f"warning: listening on {args.host}: "
                           "anyone who can reach it controls the machine\n")
        try:
            port = server.listen(args.host, args.port)
        except OSError as e:
            reason = "port in use" if e.errno == 98 else e.strerror or str(e)
            hint = ("pick another with --port N, or --port 0 for any free one" if e.errno == 98
                    else "check --host: an address of this machine, e.g. 127.0.0.1")
            raise UsageError(f"cannot listen on {args.host}:{args.port}: {reason} ({hint})") from None
        shown = _shown_path(kernel)
        messages.write(f"Listening on {args.host}:{port}; connect with: "
                       f"gdb {shown} -ex 'target remote {args.host}:{port}'\n")
        messages.flush()
        server.serve_forever(once=args.once)
        return 0
    except UsageError as e:
        messages.write(f"kthread-stub: {e}\n")
        return 2
    except OSError as e:
        messages.write(f"kthread-stub: {e}\n")
        return 2
    except _Terminated as e:
        name = signal.Signals(e.args[0]).name
        messages.write(f"kthread-stub: interrupted ({name})\n")
        return 128 + e.args[0]
    finally:
        if server is not None:
            server.close()
        if trace_slot is not None:
            trace_slot.flush(lambda text: messages.write(f"kthread-stub: {text}\n"), close=True)
        if log_stream not in (None, messages):
            try:
                log_stream.close()
            except OSError:
                pass
        for s, h in old_handlers.items():
            signal.signal(s, h)
        signal.set_wakeup_fd(old_wakeup)
        os.close(wake_r)
        os.close(wake_w)


if __name__ == "__main__":
    sys.exit(main())
