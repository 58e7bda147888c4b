"""A live gdb session over the machine interface (pygdbmi), for tests that
assert on fields rather than on a transcript: the `gdb_session` fixture of
the pytest plugin (gdbstub/harness/pytest_plugin.py) and the project's MI tests.

    with GdbSession(kernel, stub_args=["--tasks"]) as s:
        s.cmd("break kthreadd")
        s.cmd("continue")
        assert s.stop.func == "kthreadd" and s.stop.reason == "breakpoint-hit"
        s.expect(r"192\t\\{")

gdb starts its own stub on a pipe (stdio transport, no port); the stub exits
with gdb.  `cmd` runs a command as typed at the (gdb) prompt and returns what
gdb printed; a command that resumes the machine returns once it has stopped
again, and `stop` describes that stop.
"""

import os
import re
import shutil
import tempfile
from dataclasses import dataclass
from typing import Optional

from pygdbmi.gdbcontroller import GdbController

from .session import SessionError, gdb_settings, stub_pipe


class GdbError(AssertionError):
    """gdb answered a command with an error (the message is gdb's)."""


@dataclass(frozen=True)
class Stop:
    """Where the machine stopped: gdb's *stopped record, plus the machine's clock."""
    pc: int
    thread: Optional[int]
    reason: str             # gdb's: breakpoint-hit, end-stepping-range, watchpoint-trigger,
                            # no-history, signal-received, ... ("" when gdb gives none)
    icount: int             # virtual time: instructions run (monitor icount)
    func: Optional[str] = None
    file: Optional[str] = None
    line: Optional[int] = None
    record: Optional[dict] = None   # the whole *stopped payload


_ICOUNT = re.compile(r"icount (\d+)")


class GdbSession:
    def __init__(self, kernel, stub_args=(), timeout=60.0, cwd=None, gdb=None):
        gdb = gdb or shutil.which("gdb")
        if gdb is None:
            raise SessionError("gdb not found: install it (Debian: apt-get install gdb)")
        self.kernel = os.path.abspath(kernel)
        self.timeout = timeout
        fd, self.stderr_path = tempfile.mkstemp(prefix="kthread-stub-", suffix=".err")
        os.close(fd)
        self.stop: Optional[Stop] = None
        self.output = ""
        self.ctl = GdbController(
            command=[gdb, "-q", "-nx", "--interpreter=mi3", *([f"--cd={cwd}"] if cwd else []),
                     *gdb_settings(), self.kernel],
            time_to_check_for_additional_output_sec=0.05)
        self._run("-target-select remote " + stub_pipe(self.kernel, stub_args, self.stderr_path))

    def _records(self, command):
        """Send `command`; the records up to its result (and up to the stop if it resumed)."""
        records = self.ctl.write(command, timeout_sec=self.timeout, raise_error_on_timeout=True)

        def result():
            return next((r for r in records if r["type"] == "result"), None)

        while result() is None:
            records += self._more()
        if result()["message"] == "error":
            raise GdbError(f"{command}: {result()['payload'].get('msg', result()['payload'])}")
        if result()["message"] == "running":
            while not any(r["type"] == "notify" and r["message"] == "stopped" for r in records):
                records += self._more()
        return records

    def _more(self):
        return self.ctl.get_gdb_response(timeout_sec=self.timeout, raise_error_on_timeout=True)

    def _run(self, command):
        """Send `command`, note the stop if it resumed; all its records."""
        records = self._records(command)
        stopped = [r["payload"] for r in records
                   if r["type"] == "notify" and r["message"] == "stopped"]
        if stopped:
            self.stop = self._stop(stopped[-1])
        return records

    def _stop(self, payload):
        frame = payload.get("frame", {})
        records = self._records('-interpreter-exec console "monitor icount"')
        text = "".join(r["payload"] or "" for r in records if r["type"] in ("console", "target"))
        m = _ICOUNT.search(text)
        thread = payload.get("thread-id")
        return Stop(pc=int(frame.get("addr", "0"), 16),
                    thread=int(thread) if thread and thread.isdigit() else None,
                    reason=payload.get("reason", ""),
                    icount=int(m.group(1)) if m else -1,
                    func=frame.get("func"), file=frame.get("file"),
                    line=int(frame["line"]) if "line" in frame else None, record=payload)

    def cmd(self, command):
        """Run a gdb command as typed at the prompt; what gdb printed (also `self.output`)."""
        quoted = command.replace("\\", "\\\\").replace('"', '\\"')
        records = self._run(f'-interpreter-exec console "{quoted}"')
        self.output = "".join(r["payload"] for r in records
                              if r["type"] in ("console", "target") and r["payload"])
        return self.output

    def mi(self, command):
        """Run an MI command (e.g. `-stack-list-frames`, `-exec-next`); its result payload."""
        records = self._run(command)
        return next(r for r in records if r["type"] == "result")["payload"]

    def expect(self, pattern, text=None):
        """Assert the regex `pattern` occurs in the last command's output (or `text`); the match."""
        text = self.output if text is None else text
        m = re.search(pattern, text, re.M)
        if m is None:
            raise AssertionError(f"{pattern!r} not in gdb's output:\n{text}")
        return m

    def console(self):
        """What the stub wrote so far: the kernel's console and the stub's messages."""
        with open(self.stderr_path, errors="replace") as f:
            return f.read()

    def close(self):
        self.ctl.exit()
        os.unlink(self.stderr_path)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
