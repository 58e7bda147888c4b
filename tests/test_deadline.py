"""The stub's deadline: a budget of virtual time (instructions), for graders
and unattended runs.  At the deadline every forward resume stops with SIGXCPU,
at the same instruction on every run and every host."""
import re

import pytest

import gdbharness
from gdbharness import match_in_order
from gdbstub.cli import main as stub_main
from gdbstub.fake import FakeTarget
from gdbstub.target import MachineTarget, parse_count


def test_parse_count():
    assert parse_count("300M") == 300_000_000
    assert parse_count("1.5g") == 1_500_000_000
    assert parse_count("20K") == 20_000
    assert parse_count("300_000") == 300_000
    assert parse_count("0x100") == 256
    for bad in ("", "0", "-5", "lots", "M"):
        with pytest.raises(ValueError, match="bad instruction count"):
            parse_count(bad)


def test_bad_deadline_is_one_line(capsys):
    with pytest.raises(SystemExit) as e:
        stub_main(["--fake-target", "--deadline", "soon"])
    assert e.value.code == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "bad instruction count 'soon'" in err


class _Clocked(FakeTarget):
    """FakeTarget as a machine: MachineTarget only needs cont/step/icount."""
    REGISTER_NAMES = ("eip",)

    def read_register(self, name):
        return self.regs[name]


def test_cont_is_clamped_and_every_later_resume_stops():
    t = MachineTarget(_Clocked(), memory_fault=KeyError)
    t.deadline = 1000
    assert t.cont(600).reason == "limit"               # a slice, not the end yet
    stop = t.cont(600)
    assert (stop.reason, stop.signal, t.machine.icount) == ("deadline", 24, 1000)
    assert t.step().reason == "deadline" and t.machine.icount == 1000
    assert t.cont(5).reason == "deadline" and t.range_step(0, 1 << 32).reason == "deadline"
    assert "no deadline" in t.monitor("deadline off")
    assert t.cont(5).reason == "limit" and t.machine.icount == 1005


def test_gdb_sees_sigxcpu_at_the_deadline_every_run(kernel, gdb):
    commands = ["monitor deadline", "continue", "monitor icount", "p $pc", "continue",
                "stepi", "monitor icount", "monitor deadline off", "break oops_test",
                "continue"]
    # the boot completes (init calls oops_test) at about 1.54 M instructions
    runs = [gdbharness.run_gdb(kernel, *commands, stub_args=("--deadline", "1M"))
            for _ in range(2)]
    port = re.compile(r"127\.0\.0\.1:\d+")
    assert port.sub("PORT", runs[0]) == port.sub("PORT", runs[1])
    match_in_order([
        "(gdb) monitor deadline",
        "deadline: icount 1000000 (1000000 instructions left); then every resume stops with SIGXCPU",
        "(gdb) continue",
        "Program received signal SIGXCPU, CPU time limit exceeded.",
        "(gdb) monitor icount",
        "icount 1000000",
        "(gdb) continue",
        "Program received signal SIGXCPU, CPU time limit exceeded.",
        "(gdb) stepi",
        "Program received signal SIGXCPU, CPU time limit exceeded.",
        "icount 1000000",
        "no deadline",
        "re:Breakpoint 1, oops_test \\(\\) at kernel/oops_test.c:\\d+",
    ], runs[0])
