"""Why a guest store costs unicorn ~10x a load, with no hooks at all: unicorn
alone (no machine, no clock) on a loop of stores, under PAE paging, with the
data page executable (as every page of an i386 guest without NX is) or NX.

    .venv/bin/python bench/bench_unicorn_stores.py [--iters N] [--repeat R]

unicorn 2.1.x keeps TLB_NOTDIRTY on a page's TLB write entry, so every store
to it goes through notdirty_write() (qemu/accel/tcg/cputlb.c: a memory-region
lookup and tb_invalidate_phys_page_fast()), unless the entry is not
executable: its test `!(tlbe->addr_code != -1)` before tlb_set_dirty(); and
cpu_physical_memory_is_clean() is stubbed to true (qemu/include/exec/
ram_addr.h).  QEMU clears the flag once the page holds no translated code.
Loop: mov %eax,(%esi); dec %ecx; jnz (3 instructions, one store); code in
the first 2 MiB page, data in the second.  Rate = guest instructions / CPU
seconds of emu_start, best of --repeat.

The way out the machine takes (machine/mmu.py): the same loop under the
kernel's paging (i386, two levels, 4 KiB pages, no NX), with unicorn's own
walker, then with the machine's virtual TLB (machine/_mmu.c: a native TLB
fill hook that gives EXEC only to pages that hold code).
"""
import os
import struct
import time

import sys

from unicorn import Uc, UC_ARCH_X86, UC_MODE_32, UC_PROT_ALL
from unicorn.x86_const import UC_X86_REG_CR0, UC_X86_REG_CR3, UC_X86_REG_CR4, UC_X86_REG_ECX
from hostinfo import loop_args  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)
from machine.memory import GuestMemory  # noqa: E402
from machine.mmu import VirtualTlb  # noqa: E402

CODE, DATA, PD, PDPT = 0x10000, 0x200000, 0x100000, 0x101000
MSR_EFER, EFER_NXE = 0xC0000080, 1 << 11
PDE_2M = 0x83                               # present, writable, 2 MiB page
NX = 1 << 63


def loop(iters):
    return (b"\xb9" + struct.pack("<I", iters) + b"\xbe" + struct.pack("<I", DATA)
            + b"\x89\x06\x49\x75\xfb\xf4")


def timed(uc, iters):
    t = time.process_time()
    # until = the hlt: unicorn translates `until` (0xFFFFFFFF is not mapped)
    uc.emu_start(CODE, CODE + len(loop(iters)) - 1)
    dt = time.process_time() - t
    assert uc.reg_read(UC_X86_REG_ECX) == 0
    return 3 * iters / dt


def run(nx, iters):
    uc = Uc(UC_ARCH_X86, UC_MODE_32)
    uc.mem_map(0, 8 << 20)
    uc.mem_write(CODE, loop(iters))
    uc.mem_write(PDPT, struct.pack("<Q", PD | 1) + bytes(24))
    uc.mem_write(PD, struct.pack("<QQ", PDE_2M, DATA | PDE_2M | (NX if nx else 0)))
    uc.msr_write(MSR_EFER, EFER_NXE)
    uc.reg_write(UC_X86_REG_CR3, PDPT)
    uc.reg_write(UC_X86_REG_CR4, 1 << 5)    # PAE
    uc.reg_write(UC_X86_REG_CR0, 0x80000001)
    return timed(uc, iters)


def run_i386(virtual, iters):
    """The kernel's paging: a page directory and one page table mapping the
    first 4 MiB with 4 KiB pages, RAM mapped by pointer as the machine does."""
    mem = GuestMemory(8 << 20)
    uc = Uc(UC_ARCH_X86, UC_MODE_32)
    uc.mem_map_ptr(0, mem.size, UC_PROT_ALL, mem.address)
    code = loop(iters)
    mem.ram[CODE:CODE + len(code)] = code
    pt = PD + 0x1000
    struct.pack_into("<I", mem.ram, PD, pt | 3)
    for i in range(1024):
        struct.pack_into("<I", mem.ram, pt + 4 * i, (i << 12) | 3)
    uc.reg_write(UC_X86_REG_CR3, PD)
    uc.reg_write(UC_X86_REG_CR0, 0x80000001)
    if virtual:
        VirtualTlb(uc, mem)
    return timed(uc, iters)


def main():
    args = loop_args(__doc__)
    for nx in (False, True):
        best = max(run(nx, args.iters) for _ in range(args.repeat))
        print("%-56s %6.1f M guest instructions per CPU second"
              % ("store loop, PAE, data page %s:" % ("NX" if nx else "executable"), best / 1e6))
    for virtual in (False, True):
        best = max(run_i386(virtual, args.iters) for _ in range(args.repeat))
        print("%-56s %6.1f M guest instructions per CPU second"
              % ("store loop, i386 paging, %s:" % ("virtual TLB (machine/_mmu.c)" if virtual
                                                   else "unicorn's walker"), best / 1e6))
    print("  command: cd %s && .venv/bin/python bench/bench_unicorn_stores.py --iters %d "
          "--repeat %d" % (ROOT, args.iters, args.repeat))


if __name__ == "__main__":
    main()
