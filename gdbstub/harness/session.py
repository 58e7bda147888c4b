"""Run a gdb command file against a freshly started stub and return the transcript.

This is the product's main job (`make demo`) and the engine of the end-to-end
tests: a real `kthread-stub` process on a real TCP port, real gdb.

The transcript is gdb's own output.  gdb runs as at a terminal (not `-batch`,
which turns off line wrapping; stdin is empty, so gdb quits after the script)
with `set trace-commands on`, which prints each command it executes as
`+command`; those lines are rewritten to `(gdb) command` so the transcript
reads like the interactive session of the seed walkthrough; what gdb prints
when its input ends (a last prompt, `quit`, the detach) is dropped.  Nothing else is edited.

    python -m gdbstub.harness.session gdb_scripts/kthreadd.gdb
"""

import argparse
import os
import re
import shlex
import shutil
import socket
import subprocess
import sys
import threading
import time

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


class Stub:
    """A kthread-stub child process serving one gdb client on a TCP port."""

    def __init__(self, kernel, extra_args=(), startup_deadline=60.0, once=True):
        self.kernel = kernel
        self.once = once
        self.port = free_port()
        cmd = [sys.executable, "-m", "gdbstub", "--kernel", kernel,
               "--port", str(self.port), *(["--once"] if once else []), *extra_args]
        self.proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL,
                                     stdout=subprocess.DEVNULL,
                                     stderr=subprocess.PIPE, cwd=ROOT)
        self.stderr = b""
        self._wait_listening(startup_deadline)
        # Read the stub's stderr all along: a pipe nobody reads fills up
        # (64 KiB) and the stub would block in write() with gdb waiting on it.
        self._drain = threading.Thread(target=self._read_stderr, daemon=True)
        self._drain.start()

    def _read_stderr(self):
        for chunk in iter(lambda: self.proc.stderr.read1(65536), b""):
            self.stderr += chunk

    def _wait_listening(self, deadline):
        # The stub prints its "Listening on" line once the socket is bound;
        # read stderr until then (a bounded wait for process start-up, not a sleep).
        end = time.monotonic() + deadline
        while time.monotonic() < end:
            line = self.proc.stderr.readline()
            if not line:
                break
            self.stderr += line
            if LISTENING.search(line):
                return
        self.proc.kill()
        rest = self.proc.stderr.read() or b""
        raise SessionError("kthread-stub did not start listening: "
                           + (self.stderr + rest).decode(errors="replace").strip())

    def address(self):
        return f"127.0.0.1:{self.port}"

    def close(self, timeout=10.0):
        if self.proc.poll() is None and not self.once:
            self.proc.terminate()
        try:
            self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self._drain.join()
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
    cmd += ["-iex", "set pagination off", "-iex", "set confirm off",
            "-iex", "set height 0"]
    cmd += source_options()
    if trace:
        cmd += ["-iex", "set trace-commands on"]
    cmd += [kernel, "-ex", f"target remote {address}"]
    if script:
        cmd += ["-x", script]
    for c in commands:
        cmd += ["-ex", c]
    return cmd


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
    with Stub(kernel, stub_args) as stub:
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


def stub_pipe(kernel, stub_args=(), stderr_path=os.devnull):
    """`target remote` argument for a stub of gdb's own on a pipe (stdio
    transport: no port); the stub's stderr (console, messages) goes to
    `stderr_path`, not among gdb's output."""
    cmd = [sys.executable, "-m", "gdbstub", "--stdio", "--kernel", kernel, *stub_args]
    return f"| exec {shlex.join(cmd)} 2>>{shlex.quote(stderr_path)}"


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
