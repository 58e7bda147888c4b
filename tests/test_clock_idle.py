"""Idle address hooks (machine/clock.py BlockClock): a breakpoint gdb takes
out to step over it, and the stop a single step arms, keep their hooks for
reuse, so a breakpoint hit costs no retranslation.  They must change nothing
the guest does, stay bounded, and go once they are no longer reused."""
import pytest
from unicorn import Uc, UC_ARCH_X86, UC_MODE_32

from machine import Machine
from machine import clock as vclock
from machine.kbuild import ensure_kernel
from machine.testkit import symbols

from test_clock_blocks import T, MAIN, EXTRA, _insn_addrs, run  # noqa: F401


def _blockclock():
    uc = Uc(UC_ARCH_X86, UC_MODE_32)
    uc.mem_map(0, 0x10000)
    c = vclock.new_clock()
    return vclock.BlockClock(uc, c, lambda a, n: b"\x90" * n, lambda a: True), c


def test_a_dropped_role_kept_idle_is_reused_without_a_new_hook():
    blk, _ = _blockclock()
    blk.add_role(0x1000, "bp")
    handle = blk.hooks[0x1000]
    blk.drop_role(0x1000, "bp", keep=True)
    assert 0x1000 not in blk.roles and list(blk.idle) == [0x1000]
    blk.add_role(0x1000, "bp")
    assert blk.hooks[0x1000] == handle and not blk.idle
    blk.drop_role(0x1000, "bp")                 # not kept: the hook goes
    assert 0x1000 not in blk.hooks and not blk.idle


def test_idle_hooks_are_bounded_oldest_first():
    blk, _ = _blockclock()
    addrs = [0x1000 + 4 * i for i in range(vclock.IDLE_MAX + 3)]
    for a in addrs:
        blk.add_role(a, "bp")
        blk.drop_role(a, "bp", keep=True)
    assert list(blk.idle) == addrs[3:]
    assert set(blk.hooks) == set(addrs[3:])


def test_idle_hooks_go_after_a_run_without_reuse():
    blk, c = _blockclock()
    blk.add_role(0x1000, "bp")
    blk.drop_role(0x1000, "bp", keep=True)
    c.icount += vclock.IDLE_RUN - 1
    blk.drop_idle(unless_used_within=vclock.IDLE_RUN)
    assert list(blk.idle) == [0x1000]           # reused recently enough
    c.icount += 1
    blk.drop_idle(unless_used_within=vclock.IDLE_RUN)
    assert not blk.idle and 0x1000 not in blk.hooks


def test_per_instruction_mode_forgets_idle_hooks():
    blk, _ = _blockclock()
    blk.add_role(0x1000, "bp")
    blk.drop_role(0x1000, "bp", keep=True)
    blk.set_per_insn(True)
    blk.set_per_insn(False)
    assert not blk.idle and not blk.hooks


@pytest.fixture(scope="module")
def kernel():
    return ensure_kernel()


def test_idle_hooks_do_not_change_the_run(kernel, monkeypatch):
    """gdb's pattern at every hit (z0, step, Z0, continue) on the kernel,
    with breakpoints in mid-block that are taken out for good part way
    (left idle, then dropped): the same stops, console, icount and
    registers as with IDLE_MAX 0, where every hook goes at once."""
    syms = symbols(kernel)
    main = [syms[f] for f in MAIN]
    extra = [a for f in EXTRA for a in _insn_addrs(kernel, syms, f)[2::2]]

    def go():
        m = Machine(kernel)
        for a in main + extra:
            m.add_breakpoint(a)
        stops = []
        while m.icount < T:
            s = m.cont(T - m.icount)
            if s.reason != "breakpoint":
                continue
            stops.append((m.icount, s.pc))
            m.remove_breakpoint(s.pc)           # step over it as gdb does
            stops.append((m.icount, m.step().pc))
            m.add_breakpoint(s.pc)
            if len(stops) == 80:                # some go for good
                for a in extra:
                    m.remove_breakpoint(a)
        regs = [m.read_register(r) for r in ("eax", "esp", "eip", "eflags")]
        return stops, bytes(m.console_output), m.icount, regs

    got = go()
    monkeypatch.setattr(vclock, "IDLE_MAX", 0)
    want = go()
    assert len(want[0]) > 100 and b"init: boot complete" in want[1]
    assert got == want
