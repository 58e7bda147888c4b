"""The kernel's kthread_bug= boot option (kernel_src/kernel/kthread_bug.c), on the
machine without gdb.

kthread_bug=lost_complete (lab 4's bug hunt): after init has stopped kthread_demo it
starts late/0 and late/1 and sleeps for good in wait_for_completion(&late_started),
so "init: boot complete" never comes.  Without the option (or with an unknown bug)
the boot is the healthy one.
"""
import os
import re
import struct

import pytest

from machine import Machine
from machine.kbuild import ensure_kernel, KERNEL_SRC

if not os.path.exists(os.path.join(KERNEL_SRC, "Makefile")):
    pytest.skip("kernel_src has no Makefile yet: no kernel to boot",
                allow_module_level=True)

from gdbstub.kernelaware.oskernel import KernelLayout, TaskWalker  # noqa: E402

TICK = 100_001                      # instructions per PIT tick (HZ=100)
BUDGET = 200_000_000
TASK_UNINTERRUPTIBLE = 2

# The healthy console after the banner (the banner names the gcc version).
HEALTHY = """Command line: {cmdline}
RAM: 131072 KiB, managing 128 MiB (max_low_pfn 8000)
Memory: 114432k free, kernel image 252k at c1000000
PIT: HZ=100, divisor 11932
init: running as pid 1
kthread: created ksoftirqd/0 pid 3
kthread: created events/0 pid 4
kthread: created khelper pid 5
kthread: created kthread_demo pid 6
kthreadd: request list empty
release_task: pid 6 (kthread_demo) by kthread_demo
kthread_stop: kthread_demo pid 6 returned 42
{extra}init: boot complete
"""


@pytest.fixture(scope="module")
def vmlinux():
    return ensure_kernel()


@pytest.fixture(scope="module")
def functions(vmlinux):
    """{name: (start, end)} of the kernel's functions (ELF symbol table)."""
    from elftools.elf.elffile import ELFFile
    with open(vmlinux, "rb") as f:
        tab = ELFFile(f).get_section_by_name(".symtab")
        return {s.name: (s["st_value"], s["st_value"] + s["st_size"])
                for s in tab.iter_symbols()
                if s["st_info"]["type"] == "STT_FUNC" and s["st_size"]}


def console(m):
    return m.console_output.decode(errors="replace").replace("\r\n", "\n")


def run_ticks(m, ticks):
    end = m.icount + ticks * TICK
    while m.icount < end:
        s = m.cont(end - m.icount)
        assert s.reason == "limit", (s, console(m))


def boot_until(vmlinux, marker, cmdline=""):
    m = Machine(vmlinux, cmdline=cmdline)
    while marker not in console(m):
        s = m.cont(200_000)
        assert s.reason == "limit", (s, console(m))
        assert m.icount < BUDGET, console(m)
    return m


def tasks(vmlinux, m):
    return TaskWalker(KernelLayout.from_elf(vmlinux), m.read_memory).tasks()


def u32(m, addr):
    return struct.unpack("<I", m.read_memory(addr, 4))[0]


def callers(m, task, functions, depth=6):
    """Names of the functions a sleeping task returns into, innermost first: its
    thread.sp points at schedule()'s saved %ebp; follow the frame-pointer chain."""
    def name(pc):
        return next((n for n, (lo, hi) in functions.items() if lo <= pc < hi), hex(pc))
    out = [name(task.ip)]
    ebp = u32(m, task.sp)
    for _ in range(depth):
        if not ebp:
            break
        out.append(name(u32(m, ebp + 4)))
        ebp = u32(m, ebp)
    return out


def test_without_the_option_the_boot_is_the_healthy_one(vmlinux):
    m = boot_until(vmlinux, "init: boot complete\n")
    run_ticks(m, 30)
    text = console(m)
    assert re.match(r"Linux version 2\.6\.32-kthread \(teaching kernel; gcc .*\) i386\n", text)
    assert text.split("\n", 1)[1] == HEALTHY.format(cmdline="", extra="")
    assert [t.pid for t in tasks(vmlinux, m)] == [0, 1, 2, 3, 4, 5]


def test_without_the_option_the_hook_only_looks(vmlinux, functions):
    """kthread_bug_test() with no option: a few dozen instructions, nothing created."""
    from machine.testkit import symbols
    entry = symbols(vmlinux)["kthread_bug_test"]
    m = Machine(vmlinux)
    m.add_breakpoint(entry)
    s = m.cont(BUDGET)
    assert s.reason == "breakpoint" and s.pc == entry, s
    m.remove_breakpoint(entry)
    ret = u32(m, m.read_register("esp"))
    t0 = m.icount
    m.add_breakpoint(ret)
    s = m.cont(10_000)
    assert s.reason == "breakpoint" and s.pc == ret, s
    assert m.icount - t0 < 100
    assert [t.pid for t in tasks(vmlinux, m)] == [0, 1, 2, 3, 4, 5]


def test_lost_complete_hangs_init_in_wait_for_completion(vmlinux, functions):
    m = boot_until(vmlinux, "kthread: created late/1 pid 8\n",
                   cmdline="kthread_bug=lost_complete")
    from machine.testkit import symbols
    sy = symbols(vmlinux)
    for more in (20, 200):              # 0.2 s, then 2 s more: still stuck
        run_ticks(m, more)
        text = console(m)
        assert text.split("\n", 1)[1] == HEALTHY.format(
            cmdline="kthread_bug=lost_complete",
            extra="kthread: created late/0 pid 7\nkthread: created late/1 pid 8\n"
        ).replace("init: boot complete\n", "")
        assert "boot complete" not in text
        by_pid = {t.pid: t for t in tasks(vmlinux, m)}
        assert sorted(by_pid) == [0, 1, 2, 3, 4, 5, 7, 8]
        assert (by_pid[7].comm, by_pid[8].comm) == ("late/0", "late/1")
        init = by_pid[1]
        assert init.state == TASK_UNINTERRUPTIBLE
        # (kthread_bug_test() tail-calls start_late_workers(): no frame of its own)
        assert [f for f in callers(m, init, functions) if f != "kthread_bug_test"] == [
            "schedule", "wait_for_completion", "start_late_workers", "kernel_init",
            "kernel_thread_helper"]
        # the completion init waits on: late_started, with no count left
        assert u32(m, sy["late_started"]) == 0
        # the workers passed their complete(): they sleep in their msleep loop
        for pid in (7, 8):
            assert "late_worker" in callers(m, by_pid[pid], functions)
    assert u32(m, sy["jiffies"]) > 200


def test_unknown_bug_is_reported_and_the_boot_completes(vmlinux):
    m = boot_until(vmlinux, "init: boot complete\n", cmdline="kthread_bug=nope")
    assert console(m).split("\n", 1)[1] == HEALTHY.format(
        cmdline="kthread_bug=nope", extra='kthread_bug: unknown bug "nope"\n')
