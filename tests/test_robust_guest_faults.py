"""Guest faults seen from stock gdb: BUG() (ud2), a bad pointer (#PF), a
divide error, #GP, a stack overflow into a guard page, and a triple fault.

The kernel raises each after `init: boot complete` when booted with
`oops=<kind>` (kernel/oops_test.c), passed with `kthread-stub --append`.
The stub catches CPU exceptions by default: the machine stops before the
exception is delivered through the guest IDT, gdb sees the signal (SIGILL,
SIGSEGV, SIGFPE) at the faulting instruction, and `bt`, `info registers` and
memory reads work there.  `continue` passes the signal: the exception is
delivered and the kernel's own oops path prints its report (checked in the
console, against the pc gdb saw).  A triple fault stops with SIGSEGV (the
stub's log says "triple fault"): the CPU could reach no handler.
"""
import os
import re
import subprocess
import sys

import pytest

from gdbharness import match_in_order
from gdbstub.harness import session
from gdbstub.harness.session import StubProcess

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "bench"))

import soak  # noqa: E402

pytestmark = pytest.mark.e2e

SIGNALS = {
    "ud": ("SIGILL", "Illegal instruction", 6),
    "de": ("SIGFPE", "Arithmetic exception", 0),
    "gp": ("SIGSEGV", "Segmentation fault", 13),
    "pf": ("SIGSEGV", "Segmentation fault", 14),
}


def received(sig, text):
    return rf"re:(Program|Thread \d+ .*) received signal {sig}, {text}\."


@pytest.fixture(scope="module")
def hlt_in_do_trap(kernel):
    """Address of the `hlt` that do_trap() ends in (after printing the oops)."""
    out = subprocess.run(["objdump", "-d", "--no-show-raw-insn", os.path.join(ROOT, kernel)],
                         capture_output=True, text=True, check=True).stdout
    body = out.split("<do_trap>:", 1)[1].split("\n\n", 1)[0]
    return int(re.search(r"^([0-9a-f]+):\s+hlt", body, re.M).group(1), 16)


def gdb_session(kernel, append, commands, extra=()):
    # the log is read after gdb quits (detaches): the guest must not run on meanwhile
    with StubProcess(kernel, ("--append", append, "--halt-on-detach", *extra)) as stub:
        res = subprocess.run(session.gdb_command(kernel, stub.address(), commands=commands),
                             stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                             stderr=subprocess.STDOUT, text=True, cwd=ROOT, timeout=120)
        assert stub.alive()
        log = stub.output().decode(errors="replace")
    assert "Traceback" not in log, log
    return session.prettify(res.stdout), log


@pytest.mark.parametrize("kind", sorted(SIGNALS))
def test_fault_stops_with_signal_then_kernel_oops(kernel, gdb, hlt_in_do_trap, kind):
    sig, text, vector = SIGNALS[kind]
    transcript, log = gdb_session(kernel, f"oops={kind}", [
        "continue", "bt", "info registers eip", "x/4xw $sp", "p $pc == $eip",
        f"tbreak *0x{hlt_in_do_trap:x}", "continue"])
    match_in_order([
        received(sig, text),
        r"re:(0x........ in )?oops_test \(\) at kernel/oops_test\.c:\d+",
        "(gdb) bt",
        r"re:#0  (0x........ in )?oops_test \(\) at kernel/oops_test\.c:\d+",
        r"re:#1  0x........ in kernel_init \(.*\) at init/main\.c:\d+",
        r"re:#2  0x........ in kernel_thread_helper \(\)( at arch/x86/kernel/entry_32\.S:1000)?",
        "(gdb) info registers eip",
        r"re:eip\s+0x\S+\s+0x\S+ <oops_test\+\d+>",
        "(gdb) x/4xw $sp",
        r"re:0x........:\s+0x\S+\s+0x\S+\s+0x\S+\s+0x\S+",
        "$1 = 1",
        r"re:Temporary breakpoint \d+, halt \(\) at include/asm/irqflags\.h:\d+",
    ], transcript)
    pc = int(re.search(r"^eip\s+(0x[0-9a-f]+)", transcript, re.M).group(1), 16)
    # The kernel's own oops names the vector and the pc gdb stopped at.
    oops = re.search(r"Oops: .*: vector (\d+) eip ([0-9a-f]+)", log)
    assert oops, log[-2000:]
    assert int(oops.group(1)) == vector and int(oops.group(2), 16) == pc
    assert "caught before delivery" in log


def test_signal_0_reexecutes_and_stepi_enters_the_handler(kernel, gdb):
    transcript, log = gdb_session(kernel, "oops=pf", [
        "continue", "p/x $pc", "signal 0", "p/x $pc", "stepi", "info registers eip"])
    match_in_order([
        received("SIGSEGV", "Segmentation fault"),
        r"re:\$1 = 0x\S+",
        "Continuing with no signal.",
        received("SIGSEGV", "Segmentation fault"),     # the store faulted again
        r"re:\$2 = 0x\S+",
        "(gdb) stepi",                                  # passes SIGSEGV: delivered
        r"re:page_fault \(\) at arch/x86/kernel/entry_32\.S:\d+",
        r"re:eip\s+0x\S+\s+0x\S+ <page_fault>",
    ], transcript)
    pcs = re.findall(r"^\$\d+ = (0x[0-9a-f]+)", transcript, re.M)
    assert pcs[0] == pcs[1]
    assert "Oops" not in log                            # the handler has not run yet


def test_stack_overflow_into_guard_page(kernel, gdb):
    """#PF on the guard page, caught; delivering it needs the same stack:
    #DF cannot be pushed either, a triple fault, which stops the machine."""
    transcript, log = gdb_session(kernel, "oops=so", [
        "continue", "bt 3", "info registers eip", "x/xw $esp", "x/2xw $ebp",
        "continue", "p/x $pc", "bt 1"])
    match_in_order([
        received("SIGSEGV", "Segmentation fault"),
        r"re:(0x........ in )?oops_recurse \(depth=\d+\) at kernel/oops_test\.c:\d+",
        r"re:#0  .*oops_recurse \(depth=\d+\) at kernel/oops_test\.c:\d+",
        r"re:#1  0x........ in oops_recurse \(depth=.*\) at kernel/oops_test\.c:\d+",
        r"re:#2  0x........ in oops_recurse \(depth=.*\) at kernel/oops_test\.c:\d+",
        r"re:eip\s+0x\S+\s+0x\S+ <oops_recurse\+\d+>",
        "(gdb) x/xw $esp",                              # in the guard page
        r"re:0x........ <so_stack\+\d+>:\s+Cannot access memory at address 0x........",
        r"re:0x........ <so_stack\+\d+>:\s+0x\S+\s+0x\S+",
        "(gdb) continue",
        received("SIGSEGV", "Segmentation fault"),
        r"re:#0  .*oops_recurse \(depth=\d+\) at kernel/oops_test\.c:\d+",
    ], transcript)
    assert "triple fault delivering #PF page fault" in log


def test_triple_fault(kernel, gdb):
    transcript, log = gdb_session(kernel, "oops=tf", [
        "continue", "x/i $pc", "continue", "x/i $pc", "info registers eip", "bt 2"])
    match_in_order([
        received("SIGILL", "Illegal instruction"),
        r"re:=> 0x\S+ <oops_test\+\d+>:\s+ud2",
        "(gdb) continue",
        received("SIGSEGV", "Segmentation fault"),
        r"re:=> 0x\S+ <oops_test\+\d+>:\s+ud2",
        r"re:eip\s+0x\S+\s+0x\S+ <oops_test\+\d+>",
        r"re:#0  .*(triple_fault|oops_test) \(\) at kernel/oops_test\.c:\d+",
    ], transcript)
    assert "triple fault delivering #UD invalid opcode" in log
    assert "IDT entry 0x06 at 0xfffff030 is not mapped" in log


def test_no_catch_exceptions_lets_the_kernel_handle_them(kernel, gdb, hlt_in_do_trap):
    transcript, log = gdb_session(kernel, "oops=ud", [
        f"tbreak *0x{hlt_in_do_trap:x}", "continue"], extra=("--no-catch-exceptions",))
    assert "received signal" not in transcript
    match_in_order([r"re:Temporary breakpoint \d+, halt \(\) at include/asm/irqflags\.h:\d+"], transcript)
    assert re.search(r"Oops: .*: vector 6 ", log)


def test_fault_injection_over_raw_rsp(kernel):
    """bench/soak.py's fault round: every kind, signals and delivery over RSP."""
    stats = soak.inject_faults(kernel)
    assert stats == dict(injected=6, stopped=6, oopses=4, triple_faults=2)


def test_fault_with_tasks_as_threads(kernel, gdb, hlt_in_do_trap):
    """With kernel tasks as gdb threads the faulting task is the stopped thread,
    and continue (vCont;C0b:<tid>) still delivers the fault to the kernel."""
    transcript, log = gdb_session(kernel, "oops=pf", [
        "continue", "bt 1", f"tbreak *0x{hlt_in_do_trap:x}", "continue"], extra=("--tasks",))
    match_in_order([
        'Thread 2 "init" received signal SIGSEGV, Segmentation fault.',
        r"re:(0x........ in )?oops_test \(\) at kernel/oops_test\.c:\d+",
        r"re:#0  (0x........ in )?oops_test \(\) at kernel/oops_test\.c:\d+",
        r're:Thread 2 "init" hit Temporary breakpoint \d+, halt \(\)( at .*)?',
    ], transcript)
    assert re.search(r"Oops: page fault: vector 14 ", log)
