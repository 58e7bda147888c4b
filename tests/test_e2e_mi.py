"""The seed session through gdb's machine interface, as regression scripts drive it:
the pytest plugin's `gdb_session` fixture (gdbstub.harness.mi.GdbSession, pygdbmi underneath,
a stub of its own on a pipe).

MI gives structured records, so these assertions are on fields (frame function,
file, line, argument values, the stop's pc, thread, reason and icount) rather
than on text layout.
"""
import pytest

from gdbstub.harness.mi import GdbError


class MI:
    """The raw-MI spelling these tests use, over the fixture's session."""

    def __init__(self, session):
        self.s = session

    def run(self, command):
        return {"payload": self.s.mi(command)}, None

    def resume(self, command):
        self.s.mi(command)
        return self.s.stop.record


@pytest.fixture
def mi(gdb_session, gdb):
    return MI(gdb_session)


def test_seed_session_over_mi(mi):
    mi.run("-break-insert start_kernel")
    assert mi.resume("-exec-continue")["frame"]["func"] == "start_kernel"
    result, _ = mi.run("-break-insert kthreadd")
    assert result["payload"]["bkpt"]["line"] == "192"

    stop = mi.resume("-exec-continue")
    assert stop["reason"] == "breakpoint-hit" and stop["bkptno"] == "2"
    assert stop["frame"]["func"] == "kthreadd"
    assert stop["frame"]["file"] == "kernel/kthread.c" and stop["frame"]["line"] == "192"
    assert stop["frame"]["args"] == [{"name": "unused", "value": "0x0"}]

    result, _ = mi.run("-stack-list-frames")
    frames = result["payload"]["stack"]
    assert [f["func"] for f in frames] == ["kthreadd", "kernel_thread_helper"]
    assert frames[1]["file"] == "arch/x86/kernel/entry_32.S" and frames[1]["line"] == "1000"

    for _ in range(8):
        stop = mi.resume("-exec-next")
    assert stop["frame"]["line"] == "208"

    stop = mi.resume("-exec-step")
    assert stop["frame"]["func"] == "create_kthread" and stop["frame"]["line"] == "89"
    assert stop["frame"]["args"][0]["name"] == "create"
    assert mi.resume("-exec-next")["frame"]["line"] == "90"
    stop = mi.resume("-exec-next")
    assert (stop["frame"]["func"], stop["frame"]["line"]) == ("kthreadd", "209")
    assert stop["frame"]["args"] == [{"name": "unused", "value": "<optimized out>"}]


def test_registers_and_memory_over_mi(mi):
    mi.run("-break-insert kthreadd")
    mi.resume("-exec-continue")
    result, _ = mi.run("-data-list-register-names")
    names = result["payload"]["register-names"]
    assert names[:16] == ["eax", "ecx", "edx", "ebx", "esp", "ebp", "esi", "edi",
                          "eip", "eflags", "cs", "ss", "ds", "es", "fs", "gs"]
    result, _ = mi.run("-data-list-register-values x 8 10")
    values = {r["number"]: int(r["value"], 16) for r in result["payload"]["register-values"]}
    result, _ = mi.run("-data-evaluate-expression &kthreadd")
    assert values["8"] == int(result["payload"]["value"].split()[0], 16)   # eip at kthreadd
    assert values["10"] == 0x60                                             # __KERNEL_CS
    # The return address on the stack is inside kernel_thread_helper.
    result, _ = mi.run("-data-read-memory-bytes $esp 4")
    ret = int.from_bytes(bytes.fromhex(result["payload"]["memory"][0]["contents"]), "little")
    result, _ = mi.run("-data-evaluate-expression &kernel_thread_helper")
    helper = int(result["payload"]["value"].split()[0], 16)
    assert helper < ret < helper + 16


def symbol(session, name):
    return int(session.mi(f"-data-evaluate-expression &{name}")["value"].split()[0], 16)


def test_session_api_commands_stops_and_virtual_time(gdb_session, gdb):
    s = gdb_session
    s.cmd("break kthreadd")
    s.expect(r"^Breakpoint 1 at 0x[0-9a-f]+: file kernel/kthread.c, line 192\.$")
    s.cmd("continue")
    s.expect(r"^192\t\{$")
    first = s.stop
    assert (first.reason, first.func, first.line, first.thread) == \
        ("breakpoint-hit", "kthreadd", 192, 1)
    assert first.pc == symbol(s, "kthreadd") and first.icount > 0
    s.cmd("next")
    assert s.stop.reason == "end-stepping-range" and s.stop.line > 192
    assert s.stop.icount > first.icount
    s.cmd("reverse-stepi")
    s.cmd("reverse-continue")
    assert (s.stop.pc, s.stop.icount) == (first.pc, first.icount)   # deterministic machine
    with pytest.raises(AssertionError, match="not in gdb's output"):
        s.expect("no such text")
    with pytest.raises(GdbError, match="No symbol"):
        s.cmd("print no_such_symbol")
    assert "Linux version 2.6.32" in s.console()


@pytest.mark.stub("--tasks")
def test_stub_marker_passes_options_like_a_script_header(gdb_session, gdb):
    gdb_session.cmd("break oops_test")
    gdb_session.cmd("continue")
    assert gdb_session.stop.func == "oops_test" and gdb_session.stop.thread == 2   # init
    gdb_session.cmd("info threads")
    gdb_session.expect(r'Thread 3 "kthreadd" \(pid 2, sleeping\)')
