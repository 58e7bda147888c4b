"""The seed session through gdb's machine interface (pygdbmi), as regression scripts drive it.

MI gives structured records, so these assertions are on fields (frame function,
file, line, argument values) rather than on text layout.
"""
import os

import pytest
from pygdbmi.gdbcontroller import GdbController

from gdbstub import session

TIMEOUT = 60


class MI:
    def __init__(self, gdb_path, kernel):
        self.ctl = GdbController(command=[gdb_path, "-q", "-nx", "--interpreter=mi3", kernel],
                                 time_to_check_for_additional_output_sec=0.05)

    def run(self, command):
        """Send one MI command; return (result record, all records up to it)."""
        records = self.ctl.write(command, timeout_sec=TIMEOUT, raise_error_on_timeout=True)
        while not any(r["type"] == "result" for r in records):
            records += self.ctl.get_gdb_response(timeout_sec=TIMEOUT, raise_error_on_timeout=True)
        result = next(r for r in records if r["type"] == "result")
        assert result["message"] != "error", result
        return result, records

    def wait_stopped(self, records):
        """Resume commands answer ^running; the stop comes later as *stopped."""
        while True:
            for r in records:
                if r["type"] == "notify" and r["message"] == "stopped":
                    return r["payload"]
            records = self.ctl.get_gdb_response(timeout_sec=TIMEOUT, raise_error_on_timeout=True)

    def resume(self, command):
        _, records = self.run(command)
        return self.wait_stopped(records)

    def exit(self):
        self.ctl.exit()


@pytest.fixture
def mi(kernel, gdb):
    with session.Stub(kernel) as stub:
        m = MI(gdb, os.path.join(session.ROOT, kernel))
        try:
            m.run(f"-target-select remote {stub.address()}")
            yield m
        finally:
            m.exit()


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

    for _ in range(7):
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
