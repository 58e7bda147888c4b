"""End-to-end: the real kernel (kernel_src/, built with make) boots on the
machine; its console, determinism, slicing, breakpoints and oopses."""
import os
import random
import re
import subprocess
import sys

import pytest

from machine import Machine, Reason
from machine.kbuild import ensure_kernel, KERNEL_SRC, PROJECT_ROOT
from machine.testkit import symbols

if not os.path.exists(os.path.join(KERNEL_SRC, "Makefile")):
    pytest.skip("kernel_src has no Makefile yet: no kernel to boot",
                allow_module_level=True)

BOOT_DONE = b"init: boot complete"


def _complete(buf, marker, start=0):
    """marker has been printed, and the line it is on has ended."""
    i = buf.find(marker, start)
    return i >= 0 and buf.find(b"\n", i) >= 0
BUDGET = 200_000_000


@pytest.fixture(scope="module")
def vmlinux():
    return ensure_kernel()


@pytest.fixture(scope="module")
def syms(vmlinux):
    return symbols(vmlinux)


def boot(path, until=BOOT_DONE, cmdline=""):
    """Boot until `until` has been printed; the machine stops right after
    the byte that completes it, so icount is exact."""
    holder = {}

    def console(data):
        out = holder["m"].console_output
        if data.endswith(b"\n") and _complete(out, until, max(0, len(out) - 200)):
            holder["m"].request_stop()
    m = Machine(path, cmdline=cmdline, console=console)
    holder["m"] = m
    while not _complete(m.console_output, until):
        s = m.cont(BUDGET - m.icount)
        assert s.reason in (Reason.LIMIT, Reason.STOP_REQUESTED), \
            (s, m.console_output.decode(errors="replace"))
        assert m.icount < BUDGET, m.console_output.decode(errors="replace")
    return m


@pytest.fixture(scope="module")
def booted(vmlinux):
    return boot(vmlinux)


def test_console_reaches_boot_complete(booted):
    text = booted.console_output.decode().replace("\r\n", "\n")
    assert text.endswith("init: boot complete\n")
    created = re.findall(r"^kthread: created (\S+) pid (\d+)$", text, re.M)
    assert len(created) >= 4, text
    assert len({pid for _, pid in created}) == len(created)
    assert "kthreadd: request list empty\n" in text
    stopped = re.findall(r"^kthread_stop: (\S+) pid (\d+) returned (-?\d+)$", text, re.M)
    released = re.findall(r"^release_task: pid (\d+) \((\S+)\) by (\S+)$", text, re.M)
    assert stopped and released
    comm, pid, _ = stopped[0]
    assert (comm, pid) in created
    # as in Linux: its parent kthreadd ignores SIGCHLD, so the kthread
    # releases itself (nobody reaps it) ...
    assert (pid, comm, comm) in released
    assert "demo" in comm
    # ... before kthread_stop(), holding a reference, reads its exit code:
    # created ... request list empty ... released ... stop ... complete
    assert text.index("kthreadd: request list empty") < text.index("release_task:") \
        < text.index("kthread_stop:") < text.index("init: boot complete")


def test_two_boots_identical(vmlinux, booted):
    again = boot(vmlinux)
    assert again.icount == booted.icount
    assert again.console_output == booted.console_output
    for r in ("eip", "esp", "ebp", "eax", "eflags", "cr3"):
        assert again.read_register(r) == booted.read_register(r)


def test_slices_equal_one_run(vmlinux, booted):
    target = booted.icount
    one = Machine(vmlinux)
    one.cont(target)
    rnd = random.Random(42)
    sliced = Machine(vmlinux)
    while sliced.icount < target:
        sliced.cont(min(rnd.randint(1, 150_000), target - sliced.icount))
    assert sliced.icount == one.icount == target
    assert sliced.console_output == one.console_output == booted.console_output
    for r in Machine.REGISTER_NAMES:
        if not r.startswith("st"):
            assert sliced.read_register(r) == one.read_register(r), r


def test_break_kthreadd_set_before_paging(vmlinux, syms):
    m = Machine(vmlinux)
    assert m.read_register("cr0") & 0x80000000 == 0
    addr = syms["kthreadd"]
    assert addr >= 0xC0000000
    m.add_breakpoint(addr)                 # not mapped yet
    s = m.cont(BUDGET)
    assert s.reason == "breakpoint" and s.pc == addr, s
    assert m.translate(addr) == addr - 0xC0000000
    # kthreadd(void *unused) is entered with unused=NULL in %eax (regparm)
    assert m.read_register("eax") == 0
    # the return address on the stack points into kernel_thread_helper
    ret = int.from_bytes(m.read_memory(m.read_register("esp"), 4), "little")
    helper = syms["kernel_thread_helper"]
    assert helper < ret < helper + 0x40
    t = m.icount
    for _ in range(5):
        assert m.step().reason == "step"
    assert m.icount == t + 5
    m.remove_breakpoint(addr)
    s = m.cont(BUDGET)
    while BOOT_DONE not in m.console_output and s.reason == "limit" and m.icount < BUDGET:
        s = m.cont(BUDGET - m.icount)
    assert BOOT_DONE in m.console_output


def test_idle_kernel_advances_time_cheaply(booted, syms):
    jiffies = syms["jiffies"]
    j0 = int.from_bytes(booted.read_memory(jiffies, 4), "little")
    t0 = booted.icount
    booted.cont(50 * 100_001)              # 50 ticks of virtual time
    j1 = int.from_bytes(booted.read_memory(jiffies, 4), "little")
    assert booted.icount == t0 + 50 * 100_001
    assert 49 <= j1 - j0 <= 51


@pytest.mark.parametrize("kind, vector, error_code, eip_sym", [
    ("de", 0, 0, "oops_test"),
    ("ud", 6, 0, "oops_test"),
    ("gp", 13, 0x1F8, "oops_test"),
    ("pf", 14, 2, "oops_test"),
])
def test_kernel_oops_delivery(vmlinux, syms, kind, vector, error_code, eip_sym):
    m = boot(vmlinux, until=b"---[ end trace ]---", cmdline="oops=%s" % kind)
    text = m.console_output.decode()
    mo = re.search(r"Oops: .*: vector (\d+) eip ([0-9a-f]+) error_code ([0-9a-f]+)", text)
    assert mo, text
    assert int(mo.group(1)) == vector
    assert int(mo.group(3), 16) == error_code
    eip = int(mo.group(2), 16)
    assert syms[eip_sym] <= eip < syms[eip_sym] + 0x200
    if kind == "pf":
        assert "paging request at 00000000" in text
        assert m.read_register("cr2") == 0
    # afterwards the machine is halted with interrupts off
    s = m.cont(1000)
    s = m.cont(None)
    assert s.reason == Reason.HALTED and "interrupts disabled" in s.detail


def test_cli_boot_and_errors(tmp_path):
    env = dict(os.environ, PYTHONPATH=PROJECT_ROOT)
    r = subprocess.run([sys.executable, "-m", "machine"], cwd=PROJECT_ROOT, env=env,
                       capture_output=True, timeout=120)
    assert r.returncode == 0, r.stderr
    assert r.stdout.rstrip().endswith(BOOT_DONE)
    assert re.search(rb"\d+ instructions in [\d.]+ s \([\d.]+ MIPS", r.stderr)
    clock = re.search(rb"clock: (\w+)\)", r.stderr).group(1)
    assert clock in (b"icount", b"block")
    if os.environ.get("KTHREAD_EXPECT_ICOUNT") == "1":     # CI: the patched engine
        assert clock == b"icount"
    for bad, why in (("/bin/true", b"64-bit"), (__file__, b"not an ELF")):
        r = subprocess.run([sys.executable, "-m", "machine", "--kernel", bad],
                           cwd=PROJECT_ROOT, env=env, capture_output=True, timeout=60)
        assert r.returncode == 2
        assert why in r.stderr and b"Traceback" not in r.stderr
        assert len(r.stderr.strip().splitlines()) == 1


def test_a_stopped_kthread_is_freed_by_kthread_stops_put(vmlinux, syms):
    """Task usage counts as in Linux: kthread_demo releases itself when it exits
    (its parent kthreadd ignores SIGCHLD), the switch away from it drops its own
    reference, and the last one, kthread_stop()'s get_task_struct(), goes when
    kthread_stop() has read the exit code: the only task freed during the boot is
    pid 6, EXIT_DEAD, by __put_task_struct() called from kthread_stop() in init."""
    import struct
    from elftools.elf.elffile import ELFFile
    from gdbstub.kernelaware.oskernel import KernelLayout, TaskWalker
    with open(vmlinux, "rb") as f:
        sym = ELFFile(f).get_section_by_name(".symtab").get_symbol_by_name("kthread_stop")[0]
        kthread_stop = (sym["st_value"], sym["st_size"])
    m = Machine(vmlinux, console=lambda data: BOOT_DONE in m.console_output and m.request_stop())
    walker = TaskWalker(KernelLayout.from_elf(vmlinux), m.read_memory)
    m.add_breakpoint(syms["__put_task_struct"])
    freed = []
    while BOOT_DONE not in m.console_output:
        s = m.cont(BUDGET - m.icount)
        assert m.icount < BUDGET
        if s.reason != "breakpoint":
            continue
        ret = struct.unpack("<I", m.read_memory(m.read_register("esp"), 4))[0]
        task = walker.read_task(m.read_register("eax"))        # regparm: t in %eax
        me = walker.read_task(walker.current_task())
        freed.append((task.pid, task.comm, task.exit_state, me.comm,
                      kthread_stop[0] <= ret < kthread_stop[0] + kthread_stop[1]))
    assert freed == [(6, "kthread_demo", 32, "init", True)]     # 32: EXIT_DEAD
