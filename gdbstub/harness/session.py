"""Run a gdb command file against a freshly started stub and return the transcript.

This is the product's main job (`make demo`) and the engine of the end-to-end
tests: a real `kthread-stub` process on a real TCP port, real gdb.
`StubProcess` is the one stub launcher of tests, labs and bench.

The transcript is gdb's own output.  gdb runs as at a terminal (not `-batch`,
which turns off line wrapping; stdin is empty, so gdb quits after the script)
with `set trace-commands on`, which prints each command it executes as
`+command`; those lines are rewritten to `(gdb) command` so the transcript
reads like the interactive session of the seed walkthrough; what gdb prints
when its input ends (a last prompt, `quit`, the detach) is dropped.  Nothing else is edited.

    python -m gdbstub.harness.session gdb_scripts/kthreadd.gdb
"""

import argparse
import itertools
import os
import re
import select
import shlex
import shutil
import socket
import subprocess
import sys
import threading
import time
from typing import Pattern, Sequence, Union

# the project (or site-packages) folder: gdbstub/harness/session.py is three levels down
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
LISTENING = re.compile(rb"Listening on ([0-9.]+):(\d+)")


class SessionError(Exception):
    """The stub or gdb could not be started; the message says why."""


def free_port(host="127.0.0.1"):
    """A TCP port that is free right now (the stub binds it a moment later)."""
    with socket.socket() as s:
        s.bind((host, 0))
        return s.getsockname()[1]


class LineMerge:
    """Two (or more) output streams merged a whole line at a time.

    Nothing orders bytes across two pipes: a reader woken with both ready
    may take a console line's head, then a message, then the line's tail
    ("Oops: inva" + "gdb session ended..." + "lid opcode").  So a stream's
    bytes join the merged text only up to its last newline; the rest waits
    for its line to end or its stream to close.  `text()` is the merged
    lines, then every stream's unfinished line (a look, not committed)."""

    def __init__(self):
        self.lines = bytearray()
        self._tails = {}

    def feed(self, key, chunk: bytes) -> None:
        tail = self._tails.get(key, b"") + chunk
        cut = tail.rfind(b"\n") + 1
        self.lines += tail[:cut]
        self._tails[key] = tail[cut:]

    def close(self, key) -> None:
        tail = self._tails.pop(key, b"")
        if tail:   # ended without a newline: its own line all the same
            self.lines += tail + b"\n"

    def text(self) -> bytes:
        tails = b"".join(t for t in self._tails.values() if t)
        return bytes(self.lines) + tails


def stub_command(kernel=None, args: Sequence[str] = (), *, fake: bool = False,
                 stdio: bool = False):
    """The one `python -m gdbstub` command line (StubProcess, stub_pipe,
    labs/cli.py, the tests of the command line itself): the kernel `kernel`,
    or the fake target if `fake`, or neither (the stub builds the kernel);
    `stdio`: the RSP on stdin/stdout instead of a port."""
    target = ["--fake-target"] if fake else [] if kernel is None else ["--kernel", str(kernel)]
    return [sys.executable, "-m", "gdbstub", *target, *(["--stdio"] if stdio else []), *args]


class StubProcess:
    """A kthread-stub child process: the one launcher of tests, labs and bench.

    ``python -m gdbstub`` on a port it picks itself (``--port 0``: no race
    for a free port), with the kernel `kernel` or, if `fake`, the fake target.
    once: the stub serves one gdb and exits (``--once``); `close` then waits
    for that exit, else it terminates the stub.

    Both pipes are read all along (a pipe nobody reads fills up, 64 KiB, and
    the stub would block in write() with gdb waiting on it), and again by
    every look at them, so a look sees everything the stub wrote before it.
    What it printed is kept (`stderr`: its messages, `console`: the guest's
    UART on stdout, `output()`: both, a whole line at a time in the order
    lines ended, see LineMerge); `wait_for` acts on a
    line as it arrives, as MIT 6.828's gradelib monitors do, never sleeps."""

    def __init__(self, kernel=None, args: Sequence[str] = (), *, once: bool = False,
                 fake: bool = False, startup_deadline: float = 60.0, cwd=ROOT):
        cmd = stub_command(kernel, ["--port", "0", *(["--once"] if once else []), *args],
                           fake=fake)
        self.once = once
        self.proc = subprocess.Popen(cmd, cwd=cwd, stdin=subprocess.DEVNULL,
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        self._seen = threading.Condition()
        self._err, self._out, self._both = bytearray(), bytearray(), LineMerge()
        # fd -> its buffer, while not at EOF; reads happen only under the lock
        self._pipes = {self.proc.stderr.fileno(): self._err, self.proc.stdout.fileno(): self._out}
        for fd in self._pipes:
            os.set_blocking(fd, False)
        self._pump_thread = threading.Thread(target=self._pump, daemon=True)
        self._pump_thread.start()
        try:
            m = self.wait_for(LISTENING, "stderr", timeout=startup_deadline)
        except AssertionError:
            self.close()
            raise SessionError("kthread-stub did not start listening: "
                               + self.stderr.decode(errors="replace").strip()) from None
        self.port = int(m.group(2))
        start = self._err.rfind(b"\n", 0, m.start()) + 1
        stop = self._err.find(b"\n", m.end())
        self.banner = bytes(self._err[start:stop if stop >= 0 else None]).decode()  # its line

    def _drain(self) -> None:
        """Read what the pipes hold now (the lock is held)."""
        for fd, buf in list(self._pipes.items()):
            while True:
                try:
                    chunk = os.read(fd, 65536)
                except BlockingIOError:
                    break
                if not chunk:
                    del self._pipes[fd]
                    self._both.close(fd)
                    break
                buf += chunk
                self._both.feed(fd, chunk)

    def _pump(self) -> None:
        poller = select.poll()
        for fd in self._pipes:
            poller.register(fd, select.POLLIN)
        while True:
            with self._seen:
                for fd in [fd for fd in (self.proc.stderr.fileno(), self.proc.stdout.fileno())
                           if fd not in self._pipes]:
                    try:
                        poller.unregister(fd)
                    except KeyError:
                        pass
                if not self._pipes:
                    self._seen.notify_all()
                    return
            poller.poll()
            with self._seen:
                self._drain()
                self._seen.notify_all()

    # -- what it printed, up to now
    @property
    def stderr(self) -> bytes:
        with self._seen:
            self._drain()
            return bytes(self._err)

    @property
    def console(self) -> bytes:
        with self._seen:
            self._drain()
            return bytes(self._out)

    def output(self) -> bytes:
        """stderr and the console, whole lines in the order they ended."""
        with self._seen:
            self._drain()
            return self._both.text()

    def wait_for(self, pattern: Union[bytes, str, Pattern], stream: str = "output",
                 timeout: float = 60.0, count: int = 1):
        """Block until `pattern` (text, or a compiled bytes regex) has appeared
        `count` times in `stream` ("stderr", "console" or "output"); the last
        match.  AssertionError naming what was seen if the stub closes the
        stream or `timeout` seconds pass first (a bound on a hang, not a wait)."""
        if isinstance(pattern, str):
            pattern = pattern.encode()
        if isinstance(pattern, bytes):
            pattern = re.compile(re.escape(pattern))
        look = {"stderr": lambda: self._err, "console": lambda: self._out,
                "output": self._both.text}[stream]
        end = time.monotonic() + timeout
        with self._seen:
            while True:
                self._drain()
                buf = look()
                found = list(itertools.islice(pattern.finditer(buf), count))
                if len(found) == count:
                    return found[-1]
                left = end - time.monotonic()
                if not self._pipes or left <= 0:
                    raise AssertionError(f"{pattern.pattern!r} appeared {len(found)} of {count} "
                                         f"times in the stub's {stream}; saw:\n"
                                         + bytes(buf[-2000:]).decode(errors="replace"))
                self._seen.wait(left)

    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    def alive(self) -> bool:
        return self.proc.poll() is None

    def close(self, timeout: float = 10.0) -> None:
        if self.proc.poll() is None and not self.once:
            self.proc.terminate()
        try:
            self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self._pump_thread.join()
        self.proc.stdout.close()
        self.proc.stderr.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def gdb_command(kernel, address, script=None, commands=(), trace=True, batch=False):
    """The gdb command line for a session against a stub at `address`."""
    gdb = shutil.which("gdb")
    if gdb is None:
        raise SessionError("gdb not found: install it (Debian: apt-get install gdb)")
    cmd = [gdb, "-q", "-nx"] + (["-batch"] if batch else [])
    cmd += gdb_settings() + ["-iex", "set height 0"]
    if trace:
        cmd += ["-iex", "set trace-commands on"]
    cmd += [kernel, "-ex", f"target remote {address}"]
    if script:
        cmd += ["-x", script]
    for c in commands:
        cmd += ["-ex", c]
    return cmd


# gdb waits `remotetimeout` seconds (default 2) for a reply, then sends the
# packet again, and the late reply puts the session out of step ("Remote replied
# unexpectedly to 'vMustReplyEmpty'"): a busy host (a lab server, CI beside
# other jobs) can starve the stub that long.  The stub always replies, and a stub
# that dies closes the link at once, so a long wait costs nothing.
GDB_SETTINGS = ("set pagination off", "set confirm off", "set remotetimeout 60")


def gdb_settings():
    """The -iex options of every gdb the project starts: GDB_SETTINGS, then where
    an installed package's kernel sources are."""
    return [a for s in GDB_SETTINGS for a in ("-iex", s)] + source_options()


def source_options():
    """gdb options to find an installed package's kernel sources (none in a checkout)."""
    from machine.kbuild import shipped_sources
    src = shipped_sources()
    return [] if src is None else ["-iex", f"set directories $cdir:$cwd:{src}"]


# gdb runs a reverse command as its forward twin (reverse.c: "continue " plus
# the arguments), which trace-commands echoes as if it had been typed.
_REVERSE = {"reverse-continue": "continue", "rc": "continue", "reverse-step": "step",
            "rs": "step", "reverse-next": "next", "rn": "next", "reverse-stepi": "stepi",
            "rsi": "stepi", "reverse-nexti": "nexti", "rni": "nexti",
            "reverse-finish": "finish"}


def is_reverse_echo(previous: str, command: str) -> bool:
    """True if `command` is gdb's internal run of reverse command `previous`."""
    words = previous.split(None, 1)
    if not words or words[0] not in _REVERSE:
        return False
    return command == _REVERSE[words[0]] + " " + (words[1] if len(words) > 1 else "")


# trace-commands prints `+command`; after a prompt when gdb reads its
# commands from a pipe (`(gdb) +command`)
_TRACED = re.compile(r"^(?:\(gdb\) )*\++(.*)$")


def prettify(output):
    """Turn gdb's `+command` trace lines into `(gdb) command` prompt lines
    (dropping the echo of a reverse command's internal forward twin)."""
    out = []
    previous = ""
    for line in output.splitlines():
        if line.startswith("(gdb) +quit") or line == "(gdb) quit":
            break   # end of input: gdb's last prompt, then its own quit and detach messages
        m = _TRACED.match(line)
        if m:
            command = m.group(1)
            if is_reverse_echo(previous, command):
                continue
            previous = command
            line = "(gdb) " + command
        out.append(line)
    return "\n".join(out) + "\n"


def run(script=None, commands=(), kernel=None, stub_args=(), timeout=120.0, batch=False):
    """Start a stub, run gdb on `script` (and/or `commands`), return (transcript, stub stderr)."""
    if kernel is None:
        from machine.kbuild import ensure_kernel
        kernel = os.path.relpath(ensure_kernel(), ROOT)
    with StubProcess(kernel, stub_args, once=True) as stub:
        cmd = gdb_command(kernel, stub.address(), script, commands, batch=batch)
        try:
            res = subprocess.run(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                 stderr=subprocess.STDOUT, cwd=ROOT, timeout=timeout,
                                 text=True)
        except subprocess.TimeoutExpired as e:
            stub.proc.kill()
            raise SessionError(f"gdb did not finish within {timeout:.0f} s: {e.stdout!r}")
    # gdb's errors and warnings (stderr) stay in place among its output.
    return prettify(res.stdout), stub.stderr.decode(errors="replace")


def stub_pipe(kernel, stub_args=(), stderr_path=os.devnull, fake=False):
    """`target remote` argument for a stub of gdb's own on a pipe (stdio
    transport: no port); the stub's stderr (console, messages) goes to
    `stderr_path`, not among gdb's output, or (None) to gdb's stderr, as a
    user at a terminal sees it."""
    cmd = shlex.join(stub_command(kernel, stub_args, fake=fake, stdio=True))
    return f"| exec {cmd}" + ("" if stderr_path is None else f" 2>>{shlex.quote(stderr_path)}")


def run_piped(script, kernel, stub_args=(), stderr_path=os.devnull, cwd=ROOT, timeout=120.0):
    """Run gdb on `script` against a stub it starts itself on a pipe; the transcript.
    The stub exits when gdb does."""
    address = stub_pipe(kernel, stub_args, stderr_path)
    cmd = gdb_command(kernel, address, script)
    try:
        res = subprocess.run(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                             stderr=subprocess.STDOUT, cwd=cwd, timeout=timeout, text=True)
    except subprocess.TimeoutExpired as e:
        out = e.stdout.decode(errors="replace") if isinstance(e.stdout, bytes) else e.stdout
        raise SessionError(f"gdb did not finish within {timeout:.0f} s: {out!r}") from None
    return prettify(res.stdout)


def main(argv=None):
    ap = argparse.ArgumentParser(
        prog="kthread-session",
        description="Start kthread-stub, run a gdb command file in real gdb, print the transcript.")
    ap.add_argument("script", help="gdb command file, e.g. gdb_scripts/kthreadd.gdb")
    ap.add_argument("--kernel", help="kernel ELF (default: build kernel_src/vmlinux)")
    args = ap.parse_args(argv)
    if not os.path.exists(args.script):
        print(f"kthread-session: no such gdb script: {args.script}", file=sys.stderr)
        return 2
    try:
        transcript, _ = run(os.path.abspath(args.script), kernel=args.kernel)
    except SessionError as e:
        print(f"kthread-session: {e}", file=sys.stderr)
        return 2
    sys.stdout.write(transcript)
    return 0


if __name__ == "__main__":
    sys.exit(main())
