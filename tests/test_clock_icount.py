"""The patched engine's inline instruction counter (clock.Icount, the
uc_ctl controls of scripts/unicorn/icount.diff) on small programs: exact
limits, the IF stop, hlt, and what a fault counts."""
import pytest
from keystone import Ks, KS_ARCH_X86, KS_MODE_32
from unicorn import Uc, UC_ARCH_X86, UC_MODE_32, UC_HOOK_INTR
from unicorn.x86_const import (UC_X86_REG_EIP, UC_X86_REG_ESP, UC_X86_REG_ECX,
                               UC_X86_REG_EFLAGS, UC_X86_REG_EAX)

from machine.clock import Icount, NO_LIMIT

pytestmark = pytest.mark.skipif(not Icount.supported(Uc(UC_ARCH_X86, UC_MODE_32)),
                                reason="stock unicorn (KTHREAD_UNICORN=stock): no inline counting")
BASE, END = 0x1000, 0xFFFFFFFF


def engine(src, stack_words=()):
    code = bytes(Ks(KS_ARCH_X86, KS_MODE_32).asm(src, BASE)[0])
    uc = Uc(UC_ARCH_X86, UC_MODE_32)
    uc.mem_map(0, 0x10000)
    uc.mem_write(BASE, code)
    uc.reg_write(UC_X86_REG_ESP, 0x8000)
    for i, w in enumerate(stack_words):
        uc.mem_write(0x8000 + 4 * i, w.to_bytes(4, "little"))
    ic = Icount(uc)
    ic.enable(True)
    return uc, ic, code


LOOP = "mov ecx, 500; l: add eax, ecx; inc edx; dec ecx; jnz l; hlt"   # 1 + 4 * 500 + 1


@pytest.mark.parametrize("n", [1, 2, 3, 5, 6, 7, 100, 1001, 2001, 2002])
def test_a_limit_stops_after_exactly_that_many_instructions(n):
    uc, ic, _ = engine(LOOP)
    ic.limit(n)
    uc.emu_start(BASE, END)
    ref = Uc(UC_ARCH_X86, UC_MODE_32)           # unicorn's own per-instruction count
    ref.mem_map(0, 0x10000)
    ref.mem_write(BASE, bytes(uc.mem_read(BASE, 32)))
    ref.emu_start(BASE, END, count=n)
    assert ic.count() == n
    assert [uc.reg_read(r) for r in (UC_X86_REG_EIP, UC_X86_REG_ECX, UC_X86_REG_EAX)] == \
        [ref.reg_read(r) for r in (UC_X86_REG_EIP, UC_X86_REG_ECX, UC_X86_REG_EAX)]
    assert ic.halted() == (n == 2002)            # the last one is hlt


def test_slices_inside_blocks_add_up_and_survive_code_writes():
    """Limits that end inside a block, while the loop rewrites an immediate
    of its own code (invalidating the block that runs): the engine once
    asserted in unicorn's one-off block removal."""
    src = ("mov ecx, 3000; l: mov byte ptr [patch + 1], cl; patch: mov al, 0; "
           "add edx, eax; dec ecx; jnz l; hlt")
    uc, ic, _ = engine(src)
    eip, runs = BASE, 0
    while not ic.halted():
        ic.limit(7)
        uc.emu_start(eip, END)
        eip = uc.reg_read(UC_X86_REG_EIP)
        runs += 1
    assert ic.count() == 1 + 5 * 3000 + 1 and runs == -(-ic.count() // 7)


def test_if_stop_comes_at_the_first_block_boundary_with_if_set():
    """After sti (its shadow ends its block: the next instruction runs
    alone) and after popf; with IF already set, at once."""
    src = "cli; mov ecx, 100; l: dec ecx; jnz l; sti; nop; cli; popfd; nop; hlt"
    uc, ic, code = engine(src, stack_words=(0x202,))
    ic.if_stop(True)
    uc.emu_start(BASE, END)
    assert ic.count() == 1 + 1 + 200 + 1                     # just after sti
    assert uc.reg_read(UC_X86_REG_EIP) == BASE + code.index(b"\xfb") + 1
    uc.emu_start(uc.reg_read(UC_X86_REG_EIP), END)
    assert ic.count() == 203                                 # IF is still set
    ic.if_stop(False)
    ic.limit(2)                                              # nop, cli
    uc.emu_start(uc.reg_read(UC_X86_REG_EIP), END)
    ic.limit(NO_LIMIT)                                       # it counts down to 0
    ic.if_stop(True)
    uc.emu_start(uc.reg_read(UC_X86_REG_EIP), END)
    assert ic.count() == 206 and uc.reg_read(UC_X86_REG_EFLAGS) & 0x200   # after popfd
    assert not ic.halted()


def test_a_fault_counts_the_instruction_that_raised_it():
    """#DE in the middle of a block: the INTR hook sees the instructions
    begun, the divide included (as _clock.c counts)."""
    uc, ic, _ = engine("inc eax; inc eax; xor ecx, ecx; div ecx; inc eax; hlt")
    seen = []

    def intr(uc, intno, _):
        seen.append((intno, ic.count()))
        uc.emu_stop()
    uc.hook_add(UC_HOOK_INTR, intr)
    uc.emu_start(BASE, END)
    assert seen == [(0, 4)] and ic.count() == 4
