"""What the virtual clock costs: unicorn alone on two loops, without hooks, with
the block clock (machine/_clock.c block mode) and with the per-instruction
clock (what a data watchpoint switches to).

    .venv/bin/python bench/bench_clock.py [--iters N] [--repeat R]

Loops (guest instructions per iteration): "memory" = mov (%esi),%eax; add $1,%eax;
mov %eax,(%esi); dec %ecx; jnz (5, the loop of bench_vs_qemu.py), "busy" = inc %esi;
dec %ecx; jnz (3), "load" = mov (%esi),%eax; dec; jnz (3), "store" = mov %eax,(%esi);
dec; jnz (3): unicorn sends every store through its slow path.  Rate = guest instructions / CPU seconds of emu_start (CPU
time: the host is shared), best of --repeat.
"""
import os
import struct
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

from unicorn import Uc, UC_ARCH_X86, UC_MODE_32  # noqa: E402
from unicorn.x86_const import UC_X86_REG_EIP  # noqa: E402

from machine import clock as vclock  # noqa: E402
from hostinfo import loop_args  # noqa: E402

A, D = 0x10000, 0x11000
LOOPS = {
    "memory": (b"\x8b\x06\x83\xc0\x01\x89\x06\x49\x75\xf6", 5),
    "busy": (b"\x46\x49\x75\xfc", 3),
    "load": (b"\x8b\x06\x49\x75\xfb", 3),
    "store": (b"\x89\x06\x49\x75\xfb", 3),
}


def run(kind, body, per_iter, iters):
    code = b"\xb9" + struct.pack("<I", iters) + b"\xbe" + struct.pack("<I", D) + body + b"\xf4"
    uc = Uc(UC_ARCH_X86, UC_MODE_32)
    uc.mem_map(0, 1 << 20)
    uc.mem_write(A, code)
    c = vclock.new_clock()
    c.deadline = 1 << 62
    if kind == "block clock":
        vclock.BlockClock(uc, c, lambda a, n: bytes(uc.mem_read(a, n)), lambda a: True)
    elif kind == "per-instruction clock":
        vclock.install(uc, c)
    uc.reg_write(UC_X86_REG_EIP, A)
    t = time.process_time()
    uc.emu_start(A, 0xFFFFFFFF)
    dt = time.process_time() - t
    insns = per_iter * iters + 3
    if kind != "no hooks":
        c.icount += c.blk_n - c.blk_done
        assert c.icount == insns, (kind, c.icount, insns)
    return insns / dt


def main():
    args = loop_args(__doc__)
    for loop, (body, per_iter) in LOOPS.items():
        for kind in ("no hooks", "block clock", "per-instruction clock"):
            best = max(run(kind, body, per_iter, args.iters) for _ in range(args.repeat))
            print("%-7s loop, %-22s %6.1f M guest instructions per CPU second"
                  % (loop, kind + ":", best / 1e6))
    print("  command: cd %s && .venv/bin/python bench/bench_clock.py --iters %d --repeat %d"
          % (ROOT, args.iters, args.repeat))


if __name__ == "__main__":
    main()
