"""`detach` lets the guest run on, as under QEMU and gdbserver (gdb's documented
meaning: the target resumes); `--halt-on-detach` keeps the machine stopped
where gdb left it.  Real gdb, a real stub serving one gdb after another."""
import re
import subprocess

from gdbstub.harness import session

FIRST = ["break kthreadd", "continue", "monitor icount", "print jiffies", "detach"]
SECOND = ["monitor icount", "print jiffies", "info breakpoints", "print $pc == kthreadd"]


def _gdb(kernel, stub, commands):
    # monitor output reaches gdb's stderr
    return subprocess.run(session.gdb_command(kernel, stub.address(), commands=commands),
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                          timeout=120, stdin=subprocess.DEVNULL).stdout


def _icount(text):
    return int(re.search(r"^icount (\d+)$", text, re.M).group(1))


def _two_sessions(kernel, extra=()):
    with session.StubProcess(kernel, extra, once=False) as stub:
        first = _gdb(kernel, stub, FIRST)
        second = _gdb(kernel, stub, SECOND)
    assert "Breakpoint 1, kthreadd" in first and "Detaching from program" in first, first
    assert "Remote debugging using" in second, second
    return first, second, stub.stderr.decode()


def test_reconnect_after_detach_sees_a_guest_that_ran_on(kernel, gdb):
    first, second, err = _two_sessions(kernel)
    assert _icount(second) > _icount(first)
    assert "$1 = 0" in first                       # kthreadd starts before the first tick
    assert re.search(r"\$1 = [1-9]\d*", second), second   # timer ticks happened meanwhile
    assert "No breakpoints or watchpoints." in second     # the first gdb's are gone
    assert "$2 = 0" in second                      # no longer at kthreadd's breakpoint
    assert "the guest runs on from eip=0xc" in err, err


def test_halt_on_detach_keeps_the_machine_where_gdb_left_it(kernel, gdb):
    first, second, err = _two_sessions(kernel, ("--halt-on-detach",))
    assert _icount(second) == _icount(first)
    assert "$1 = 0" in second and "$2 = 1" in second
    assert "gdb session ended (detached); machine left at eip=0xc" in err, err
