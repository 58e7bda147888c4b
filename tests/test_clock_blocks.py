"""The clocks (machine/_clock.c, machine/clock.py): virtual time counted
inline by the engine (icount mode, the default when the engine can), per
translation block (block mode) or per instruction must be exact at every
stop, so the trajectory of the real kernel does not depend on breakpoints,
probes or watchpoints elsewhere, on how a run is sliced, or on which clock
counts."""
import capstone
import pytest
from hypothesis import given, settings, strategies as st, HealthCheck

from machine import Machine, Reason
from machine.history import TimeMachine
from machine.kbuild import ensure_kernel
from machine.testkit import symbols
from machine.clock import Icount
from machine.options import env_icount
from unicorn import Uc, UC_ARCH_X86, UC_MODE_32

# the default clock counts in the engine when it can, unless KTHREAD_CLOCK=block
ENGINE_COUNTS = Icount.supported(Uc(UC_ARCH_X86, UC_MODE_32)) and env_icount()

T = 2_500_000                      # the boot (~1.64 M) and idle ticks after it
MAIN = ("kthread_create", "wake_up_process", "do_exit", "schedule")
# hit too, in the middle of blocks: their stops are skipped
EXTRA = ("do_fork", "complete", "printk", "vsnprintf")


@pytest.fixture(scope="module")
def kernel():
    return ensure_kernel()


@pytest.fixture(scope="module")
def syms(kernel):
    return symbols(kernel)


def _insn_addrs(kernel, syms, name, n=6):
    """The first n instruction addresses of a function (from the image)."""
    m = Machine(kernel)
    m.cont(200_000)                 # paging on: the higher-half text is mapped
    md = capstone.Cs(capstone.CS_ARCH_X86, capstone.CS_MODE_32)
    a = syms[name]
    return [i.address for i in md.disasm(m.read_memory(a, 64), a)][:n]


@pytest.fixture(scope="module")
def extra_addrs(kernel, syms):
    # not the first instruction: the 3rd and 5th, inside their blocks
    return [a for f in EXTRA for a in _insn_addrs(kernel, syms, f)[2::2]]


def run(kernel, main, extra=(), probes=(), slices=None, per_insn=False, watch=None,
        cmdline="", catch=False, icount=None, modes=None):
    """Run to T: the stops at `main` breakpoints as (icount, pc), the
    console, the final icount and registers.  `icount`: Machine's; `modes`:
    a set that gets the clock modes the run used."""
    m = Machine(kernel, cmdline=cmdline, icount=icount)
    m.catch_exceptions = catch
    target = m
    if watch is not None:
        target = TimeMachine(m)
        target.add_watchpoint("watch", watch, 4)
    elif per_insn:
        m.per_instruction_clock(True)
    for a in list(main) + list(extra):
        target.add_breakpoint(a)
    seen = []
    for a in probes:
        m.add_probe(a, lambda va, ic: seen.append((ic, va)))
    stops = []
    sizes = iter(slices or ())
    while m.icount < T:
        n = min(T - m.icount, next(sizes, T))
        s = target.cont(n)
        if modes is not None:
            modes.add(m.clock_mode)
        if s.reason == "breakpoint" and s.pc in main:
            stops.append((m.icount, s.pc))
        elif s.reason not in ("limit", "breakpoint"):
            stops.append((s.reason, m.icount, s.pc))
            if m.caught_exception is not None:
                m.deliver_caught_exception()
    regs = [m.read_register(r) for r in ("eax", "ecx", "edx", "ebx", "esp", "ebp",
                                         "esi", "edi", "eip", "eflags")]
    return stops, bytes(m.console_output), m.icount, regs, seen


@pytest.fixture(scope="module")
def base(kernel, syms):
    main = [syms[f] for f in MAIN]
    return main, run(kernel, main)


def test_the_engine_counts_when_it_can(kernel, syms):
    if not ENGINE_COUNTS:
        pytest.skip("stock unicorn (KTHREAD_UNICORN=stock) or KTHREAD_CLOCK=block")
    modes = set()
    run(kernel, [syms[f] for f in MAIN], slices=[400_000] * 3, modes=modes)
    assert modes == {"icount"}


def test_block_clock_gives_the_same_run(kernel, base):
    main, want = base
    modes = set()
    assert run(kernel, main, icount=False, modes=modes)[:4] == want[:4]
    assert modes == {"block"}


def test_main_breakpoints_are_hit(base):
    _, (stops, console, icount, _, _) = base
    assert len(stops) > 20 and b"init: boot complete" in console and icount == T


def test_extra_breakpoints_and_probes_do_not_change_the_run(kernel, base, extra_addrs, syms):
    main, want = base
    got = run(kernel, main, extra=extra_addrs, probes=extra_addrs + [syms["do_timer"]])
    assert got[:4] == want[:4]
    assert len(got[4]) > 100            # the probes fired


def test_per_instruction_clock_gives_the_same_run(kernel, base):
    main, want = base
    assert run(kernel, main, per_insn=True)[:4] == want[:4]


def test_unrelated_watchpoint_gives_the_same_run(kernel, base):
    main, want = base
    # free RAM far above the kernel: never written
    got = run(kernel, main, watch=0xc7000100)
    assert got[:4] == want[:4]


def test_probes_fire_once_per_instruction_in_every_clock(kernel, base, extra_addrs, syms):
    main, want = base
    probes = extra_addrs + [syms["do_timer"]]
    modes = set()
    got = run(kernel, main, probes=probes, modes=modes)
    assert got[:4] == want[:4]
    assert modes == ({"icount"} if ENGINE_COUNTS else {"block"})
    blocks = run(kernel, main, probes=probes, icount=False)[4]
    insns = run(kernel, main, probes=probes, per_insn=True)[4]
    assert got[4] == blocks == insns and len(blocks) == len(set(blocks)) > 100


@settings(max_examples=4, deadline=None, suppress_health_check=list(HealthCheck))
@given(st.lists(st.integers(1, 300_000), min_size=1, max_size=40))
def test_random_slices_give_the_same_run(kernel, base, extra_addrs, slices):
    main, want = base
    assert run(kernel, main, extra=extra_addrs[:3], slices=slices)[:4] == want[:4]


def test_stop_requested_from_the_console_is_exact(kernel):
    """request_stop() in the console callback stops before the instruction
    after that OUT, with icount = the instructions begun: a run to that
    count without the request ends in the same state."""
    holder = {}

    def console(data):
        if b"init: boot complete" in holder["m"].console_output and "at" not in holder:
            holder["at"] = True
            holder["m"].request_stop()

    m = Machine(kernel, console=console)
    holder["m"] = m
    while "at" not in holder:
        stop = m.cont(1_000_000)
    assert stop.reason == Reason.STOP_REQUESTED
    again = Machine(kernel)
    again.cont(m.icount, service_at_limit=False)
    assert again.read_register("eip") == m.read_register("eip")
    assert [again.read_register(r) for r in ("eax", "ebx", "ecx", "edx", "esp")] == \
        [m.read_register(r) for r in ("eax", "ebx", "ecx", "edx", "esp")]


def test_breakpoint_on_an_unmapped_address_leaves_cr2_alone(kernel):
    """A new breakpoint retranslates its address (machine/clock.py); unicorn
    would fault on an unmapped one and write the guest's CR2."""
    m = Machine(kernel)
    m.cont(300_000)                         # paging on
    cr2 = m.read_register("cr2")
    m.add_breakpoint(0xd1234567)
    m.add_probe(0xd1234000, lambda va, ic: None)
    assert m.read_register("cr2") == cr2


@pytest.mark.parametrize("catch", [False, True])
def test_faults_in_mid_block_count_the_same_in_both_clocks(kernel, base, catch):
    """oops=pf: a store page-faults in the middle of its block; the rest of
    the block never runs (delivered at once, or caught first: a stop)."""
    main, _ = base
    blocks = run(kernel, main, cmdline="oops=pf", catch=catch)
    assert b"oops" in blocks[1].lower() or blocks[0]
    assert blocks[:4] == run(kernel, main, cmdline="oops=pf", catch=catch, per_insn=True)[:4]
    assert blocks[:4] == run(kernel, main, cmdline="oops=pf", catch=catch, icount=False)[:4]
    if catch:
        assert any(s[0] == "fault" for s in blocks[0])


def test_watchpoint_hits_are_exact_without_the_per_instruction_clock(kernel, syms):
    """A watchpoint leaves the block clock on (no clock before every
    instruction): a hit in mid-block goes back to just after the accessing
    instruction (machine/history.py), where a plain run to that count is."""
    tm = TimeMachine(Machine(kernel))
    tm.add_watchpoint("watch", syms["jiffies"], 4)
    assert tm.m.clock_mode != "insn"
    for _ in range(3):
        stop = tm.cont(3_000_000)
        assert tm.m.clock_mode != "icount"      # memory hooks on: the engine cannot count
        assert stop.reason == "watchpoint" and stop.watch == ("watch", syms["jiffies"])
        plain = Machine(kernel)
        plain.cont(tm.icount, service_at_limit=False)
        regs = ("eip", "eax", "ecx", "edx", "ebx", "esp", "ebp", "esi", "edi", "eflags")
        assert [plain.read_register(r) for r in regs] == [tm.read_register(r) for r in regs]
        assert plain.read_memory(syms["jiffies"], 4) == tm.read_memory(syms["jiffies"], 4)


@pytest.mark.parametrize("code, sets_if", [
    (b"\xfb", True), (b"\x9d", True), (b"\x66\x9d", True), (b"\xcf", True),
    (b"\x66\xcf", True), (b"\xea\x00\x10\x00\x00\x08\x00", True), (b"\xff\x28", True),
    (b"\x9a\x00\x10\x00\x00\x08\x00", True), (b"\xff\x18", True),
    (b"\xfa", False), (b"\xff\x20", False), (b"\xff\x10", False), (b"\xc3", False),
    (b"\xcb", False), (b"\x75\xfe", False), (b"\x9c", False),
])
def test_instructions_that_may_set_if(code, sets_if):
    """The block clock reads EFLAGS, while an IRQ waits with IF=0, only after
    a block ending in one of these (sti, popf, iret, far jmp/call)."""
    from machine.clock import _may_set_if
    md = capstone.Cs(capstone.CS_ARCH_X86, capstone.CS_MODE_32)
    (_, _, mnemonic, op), = md.disasm_lite(code, 0)
    assert _may_set_if(mnemonic, op) == sets_if, (code.hex(), mnemonic, op)


# IRQs arrive while IF=0 and get in when popf or iret (not sti) sets it again
POPF_OS_BODY = """cli
    mov $300, %ecx
2:  add %ecx, %esi
    loop 2b
    pushl $0x202
    popfl
    mov $200, %ecx
3:  xor %ecx, %edi
    loop 3b
    cli
    pushl $0x202
    pushl %cs
    pushl $4f
    iret
4:  nop"""


def test_irqs_enabled_by_popf_and_iret_come_at_the_same_icount_in_every_clock(tmp_path):
    """Breakpoints on the ISR, not probes: a probe needs the block clock."""
    from machine.testkit import TIMER_OS, TIMER_OS_DATA, build_kernel
    path = build_kernel(str(tmp_path), TIMER_OS.replace("MAIN_BODY", POPF_OS_BODY)
                        .replace("NTICKS", "40"), TIMER_OS_DATA, name="popf_os")
    isr = symbols(path)["timer_isr"]
    runs = []
    for icount, per_insn in ((None, False), (False, False), (False, True)):
        m = Machine(path, ram_mb=16, icount=icount)
        m.per_instruction_clock(per_insn)
        m.add_breakpoint(isr)
        entries, modes = [], set()
        while m.icount < 5_000_000:
            stop = m.cont(5_000_000 - m.icount)
            modes.add(m.clock_mode)
            if stop.reason == "breakpoint":
                entries.append(m.icount)
            elif stop.reason != "limit":
                break
        runs.append((entries, m.icount, bytes(m.console_output), stop.pc))
        assert len(modes) == 1
    assert len(runs[0][0]) == 40 and runs[0][2].endswith(b"D\n"), runs[0]
    assert runs[0] == runs[1] == runs[2]


def test_two_cpus_run_the_same_in_icount_and_block_mode(kernel):
    """Two CPUs: their local APICs are MMIO (the engine recompiles a block
    to end at an MMIO access when it counts) and their turns are deadlines."""
    def go(icount):
        m = Machine(kernel, cpus=2, cmdline="kthread_bench=200", icount=icount)
        stops, modes = [], set()
        while m.icount < 8_000_000:
            s = m.cont(333_333)
            modes.add(m.clock_mode)
            stops.append((s.reason, m.icount, m.cpu, s.pc))
        regs = [m.read_register(r) for r in ("eax", "ecx", "edx", "esp", "eip", "eflags")]
        return (stops, bytes(m.console_output), regs), modes
    fast, modes = go(None)
    assert modes == ({"icount"} if ENGINE_COUNTS else {"block"})
    assert b"200 of 200 kthreads created and stopped" in fast[1], fast[1][-300:]
    assert fast == go(False)[0]


def test_a_breakpoint_and_a_probe_on_an_mmio_store_fire_once_per_pass(kernel, syms):
    """The LAPIC's EOI store in smp_apic_interrupt (two CPUs): when the
    engine counts, an MMIO access in mid-block restarts its instruction as a
    block of its own (exact icount for the device), and that restart must not
    run the instruction's hooks again: a continue once re-hit the breakpoint
    forever, and the probe fired twice."""
    a = syms["smp_apic_interrupt"]
    md = capstone.Cs(capstone.CS_ARCH_X86, capstone.CS_MODE_32)
    m = Machine(kernel, cpus=2)
    m.cont(1_000_000)                   # paging on: the text is mapped
    eoi, = [i.address for i in md.disasm(m.read_memory(a, 64), a)
            if i.mnemonic == "mov" and i.op_str.endswith("+ 0xb0], 0")]

    def go(icount):
        m = Machine(kernel, cpus=2, cmdline="kthread_bench=200", icount=icount)
        m.add_breakpoint(eoi)
        probed, bps = [], []
        m.add_probe(eoi, lambda va, ic: probed.append(ic))
        while len(bps) < 12:
            stop = m.cont(4_000_000)
            assert stop.reason == "breakpoint" and stop.pc == eoi, stop
            bps.append(m.icount)
        return bps, probed
    fast = go(None)
    assert fast == go(False)
    bps, probed = fast
    assert bps == sorted(set(bps)) and probed == bps[:-1]
