"""Through real gdb, `kthread-stub --cpus N` on testkit's tiny SMP kernel:
each CPU is a thread (as QEMU shows vCPUs), a breakpoint names the CPU that
hit it, a CPU that is not running shows its own registers, and the same
script twice gives the same transcript."""
import re

import pytest

import gdbharness
from machine.testkit import build_smp_os


@pytest.fixture(scope="module")
def kernels(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("smpgdb")
    return {n: build_smp_os(tmp, n, False, 3000) for n in (2, 4)}


def test_cpus_are_threads(kernels):
    text = gdbharness.run_gdb(kernels[2], "break ap32", "continue", "info threads",
                              "thread apply all p/x $eip", "thread 1", "p $pc == ap32",
                              "thread 2", "p $pc == ap32", "p $cr0 & 1", "monitor cpus",
                              stub_args=("--cpus", "2"))
    assert "Thread 2 hit Breakpoint 1, " in text            # CPU 1 ran the trampoline
    threads = gdbharness.section(text, "(gdb) info threads", "(gdb) thread apply")
    assert "Thread 1 (CPU#0)" in threads and "* 2    Thread 2 (CPU#1)" in threads
    values = [l.split(" = ")[1] for l in text[text.index("(gdb) thread 1"):].splitlines()
              if l.startswith("$")]
    assert values == ["0", "1", "1"]    # CPU 0 elsewhere; CPU 1 at ap32 with PE on
    cpus = text[text.index("(gdb) monitor cpus"):].splitlines()[1:3]
    assert re.fullmatch(r"  CPU#0  running +eip 0x00100\w{3}", cpus[0]), cpus
    assert re.fullmatch(r"\* CPU#1  running +eip 0x00100\w{3}", cpus[1]), cpus


def test_same_script_twice_on_four_cpus(kernels):
    script = (["break worker", "continue", "info threads"]
              + ["continue", "monitor icount", "thread apply all p/x $pc"] * 3
              + ["monitor console"])
    args = ("--cpus", "4", "--sched-seed", "7")
    first = gdbharness.run_gdb(kernels[4], *script, stub_args=args)
    assert first.count("hit Breakpoint 1, ") == 4            # each CPU reaches worker
    assert "Thread 4 (CPU#3)" in first
    second = gdbharness.run_gdb(kernels[4], *script, stub_args=args)
    port = re.compile(r"127\.0\.0\.1:\d+")                 # each stub has its own
    assert port.sub("PORT", first) == port.sub("PORT", second)


def test_stepi_steps_the_selected_cpu(kernels):
    """`thread 1; stepi` after CPU 1 stopped: CPU 0 becomes the running CPU
    and runs one instruction; reverse-stepi takes it back."""
    text = gdbharness.run_gdb(kernels[2], "break ap32", "continue", "thread 1",
                              "p/x $pc", "stepi", "p/x $pc", "monitor cpus",
                              "reverse-stepi", "p/x $pc", stub_args=("--cpus", "2"))
    pcs = [int(l.split(" = ")[1], 16) for l in text.splitlines() if l.startswith("$")]
    assert pcs[0] != pcs[1] and pcs[2] == pcs[0], text
    cpus = text[text.index("(gdb) monitor cpus"):].splitlines()[1:3]
    assert cpus[0].startswith("* CPU#0") and cpus[1].startswith("  CPU#1"), cpus
    assert "Thread 2 hit Breakpoint 1" in text and "[Switching to Thread 2]" in text
