"""`kthread-lab start` at a real terminal (a pty): Ctrl-C belongs to gdb, at an
idle prompt and during `continue`; `--record` saves what was typed as a
command file that `grade` scores."""
import os
import pty
import select
import signal
import subprocess
import sys
import time

from labs import get_lab
from labs.grade import grade

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


class Terminal:
    """`python -m labs ARGS` on a pty of its own, as typed at a terminal."""

    def __init__(self, args, env_extra):
        env = dict(os.environ, PYTHONPATH=ROOT, TERM="dumb", **env_extra)
        self.pid, self.fd = pty.fork()
        if self.pid == 0:         # the child: the pty is its controlling terminal
            os.chdir(ROOT)
            os.execve(sys.executable, [sys.executable, "-m", "labs", *args], env)
        self.out = b""      # not yet consumed by expect
        self.log = b""      # everything the terminal showed

    def _read(self, timeout):
        r, _, _ = select.select([self.fd], [], [], timeout)
        if not r:
            return None
        try:
            chunk = os.read(self.fd, 4096)
        except OSError:         # EIO: the other side closed
            chunk = b""
        self.out += chunk
        self.log += chunk
        return chunk

    def expect(self, text, timeout=120):
        """Read until `text` appears after what earlier expects consumed (a bounded
        wait on output, no sleeps)."""
        text = text.encode()
        end = time.monotonic() + timeout
        while text not in self.out:
            left = end - time.monotonic()
            assert left > 0, f"no {text!r} in {self.out[-2000:]!r}"
            chunk = self._read(left)
            assert chunk != b"", f"the terminal closed before {text!r}: {self.out[-2000:]!r}"
        i = self.out.index(text) + len(text)
        seen, self.out = self.out[:i], self.out[i:]
        return seen.decode(errors="replace")

    def send(self, data):
        os.write(self.fd, data.encode())

    def command(self, line):
        """Type `line`, wait for gdb's next prompt; -> what gdb printed."""
        self.send(line + "\n")
        return self.expect("(gdb) ")

    def wait(self, timeout=60):
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            self._read(0.5)         # drain the output; returns at once when there is some
            pid, status = os.waitpid(self.pid, os.WNOHANG)
            if pid:
                return os.waitstatus_to_exitcode(status)
        os.kill(self.pid, signal.SIGKILL)
        raise AssertionError("kthread-lab start did not exit")


def test_ctrl_c_at_the_prompt_and_during_continue_stays_in_gdb(kernel, gdb, tmp_path):
    t = Terminal(["start", "1"], {"KTHREAD_LAB_RUNDIR": str(tmp_path)})
    t.expect("Breakpoint 1, start_kernel")
    t.expect("(gdb) ")
    t.send("\x03")                              # Ctrl-C at an idle prompt: the tty's SIGINT
    t.expect("Quit")
    t.expect("(gdb) ")
    t.send("continue\n")
    t.expect("Continuing.")
    # gdb prints that before it resumes the target; a Ctrl-C typed in between
    # is gdb's own Quit.  The console line proves the machine is running.
    t.expect("init: boot complete")
    t.send("\x03")                              # Ctrl-C while the machine runs
    t.expect("Program received signal SIGINT")
    t.expect("(gdb) ")
    out = t.command("print $pc != 0")            # gdb and the machine are both still there
    assert "= 1" in out, out
    t.send("quit\n")
    assert t.wait() == 0
    assert b"Traceback" not in t.log and b"KeyboardInterrupt" not in t.log, t.log[-3000:]


def test_record_saves_a_session_that_grades_100(kernel, gdb, tmp_path):
    lab = get_lab(1)
    with open(lab.key_file("reference.gdb")) as f:
        typed = [l for l in f.read().splitlines() if l.strip() and not l.startswith("#")]
    record = tmp_path / "session.gdb"
    t = Terminal(["start", "1", "--record", str(record)], {"KTHREAD_LAB_RUNDIR": str(tmp_path)})
    t.expect("Breakpoint 1, start_kernel")
    t.expect("(gdb) ")
    for line in typed:
        t.command(line)
    t.send("quit\n")
    assert t.wait() == 0
    assert f"{len(typed)} command(s) recorded in {record}".encode() in t.log
    text = record.read_text()
    assert [l for l in text.splitlines() if not l.startswith("#")] == typed
    with open(lab.key_file("reference-answers.txt")) as f:
        r = grade(lab, text, f.read(), kernel=kernel)
    assert r.score == 100, r.report(verbose=True)
