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
"""
import argparse
import os
import struct
import time

from unicorn import Uc, UC_ARCH_X86, UC_MODE_32
from unicorn.x86_const import UC_X86_REG_CR0, UC_X86_REG_CR3, UC_X86_REG_CR4, UC_X86_REG_ECX
from hostinfo import host_line  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CODE, DATA, PD, PDPT = 0x10000, 0x200000, 0x100000, 0x101000
MSR_EFER, EFER_NXE = 0xC0000080, 1 << 11
PDE_2M = 0x83                               # present, writable, 2 MiB page
NX = 1 << 63


def run(nx, iters):
    uc = Uc(UC_ARCH_X86, UC_MODE_32)
    uc.mem_map(0, 8 << 20)
    uc.mem_write(CODE, b"\xb9" + struct.pack("<I", iters) + b"\xbe" + struct.pack("<I", DATA)
                 + b"\x89\x06\x49\x75\xfb\xf4")
    uc.mem_write(PDPT, struct.pack("<Q", PD | 1) + bytes(24))
    uc.mem_write(PD, struct.pack("<QQ", PDE_2M, DATA | PDE_2M | (NX if nx else 0)))
    uc.msr_write(MSR_EFER, EFER_NXE)
    uc.reg_write(UC_X86_REG_CR3, PDPT)
    uc.reg_write(UC_X86_REG_CR4, 1 << 5)    # PAE
    uc.reg_write(UC_X86_REG_CR0, 0x80000001)
    t = time.process_time()
    uc.emu_start(CODE, 0xFFFFFFFF)
    dt = time.process_time() - t
    assert uc.reg_read(UC_X86_REG_ECX) == 0
    return 3 * iters / dt


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--iters", type=int, default=4_000_000)
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    print(host_line())
    for nx in (False, True):
        best = max(run(nx, args.iters) for _ in range(args.repeat))
        print("store loop, data page %-11s %6.1f M guest instructions per CPU second"
              % ("NX:" if nx else "executable:", best / 1e6))
    print("  command: cd %s && .venv/bin/python bench/bench_unicorn_stores.py --iters %d "
          "--repeat %d" % (ROOT, args.iters, args.repeat))


if __name__ == "__main__":
    main()
