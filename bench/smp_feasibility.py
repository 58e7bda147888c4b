"""Feasibility facts for more than one CPU (issue 17), measured on unicorn alone:

A. a UC_MODE_32 engine starts in 16-bit real mode (CR0.PE cleared, CS written as
   a real-mode selector: base = CS << 4) and a trampoline switches it to protected
   mode and paging itself; a UC_MODE_16 engine does not run the same code at
   emu_start(EIP) (its start address is taken otherwise); hook addresses in real
   mode are linear (CS base + IP); capstone must decode such blocks in 16-bit mode.
B. two engines over one host buffer (mem_map_ptr) see each other's stores at once.
C. each engine keeps its own translations: code one engine rewrites is run stale
   by another until that one drops it (ctl_remove_cache).
D. each engine can map its own MMIO page at the same address (a local APIC per CPU).
E. the cost of switching engines per quantum (emu_start with count=, a proxy).

    .venv/bin/python bench/smp_feasibility.py
"""
import mmap, ctypes, time
from unicorn import *
from unicorn import x86_const as X
from keystone import Ks, KS_ARCH_X86, KS_MODE_16, KS_MODE_32
import capstone
import struct

RAM = 8 << 20
ram = mmap.mmap(-1, RAM, flags=mmap.MAP_PRIVATE | mmap.MAP_ANONYMOUS)
addr = ctypes.addressof(ctypes.c_char.from_buffer(ram))

def new_uc(mode=UC_MODE_32):
    uc = Uc(UC_ARCH_X86, mode)
    uc.mem_map_ptr(0, RAM, UC_PROT_ALL, addr)
    return uc

# ---- A: real-mode start of a 32-bit Uc, then PE + paging
TRAMP = 0x9000
gdt_at = TRAMP + 0x100
pm_at = TRAMP + 0x200
pd_at = 0x100000
ks16 = Ks(KS_ARCH_X86, KS_MODE_16); ks32 = Ks(KS_ARCH_X86, KS_MODE_32)
code16, _ = ks16.asm("""
 cli
 mov ax, cs
 mov ds, ax
 lgdt [0x1f8]
 mov eax, cr0
 or al, 1
 mov cr0, eax
""", 0)
code16 = bytes(code16) + b"\x66\xea" + struct.pack("<IH", pm_at, 0x08)
gdt = bytes(8) + (0x00CF9A000000FFFF).to_bytes(8,'little') + (0x00CF92000000FFFF).to_bytes(8,'little')
ram[gdt_at:gdt_at+len(gdt)] = gdt
import struct
ram[TRAMP+0x1f8:TRAMP+0x1fe] = struct.pack("<HI", len(gdt)-1, gdt_at)
# page directory: 4 MiB PSE identity of 0 and a mapping 0xc0000000 -> 0
pd = bytearray(4096)
struct.pack_into("<I", pd, 0, 0x83); struct.pack_into("<I", pd, (0xc0000000>>22)*4, 0x83)
ram[pd_at:pd_at+4096] = bytes(pd)
code32, _ = ks32.asm("""
 mov ax, 0x10
 mov ds, ax
 mov ss, ax
 mov eax, %d
 mov cr3, eax
 mov eax, cr4
 or eax, 0x10
 mov cr4, eax
 mov eax, cr0
 or eax, 0x80000000
 mov cr0, eax
 mov dword ptr [0xc0000500], 0x1234abcd
 mov ebx, 0xc0000000 + %d
 jmp ebx
""" % (pd_at, pm_at + 0x80), pm_at)
ram[TRAMP:TRAMP+len(code16)] = bytes(code16)
ram[pm_at:pm_at+len(code32)] = bytes(code32)
ram[pm_at+0x80] = 0xF4   # hlt (reached through the high mapping)

for mode, name in ((UC_MODE_32, "UC_MODE_32"), (UC_MODE_16, "UC_MODE_16")):
    ram[0x500:0x504] = bytes(4)
    uc = new_uc(mode)
    cr0 = uc.reg_read(X.UC_X86_REG_CR0)
    if mode == UC_MODE_32:
        uc.reg_write(X.UC_X86_REG_CR0, cr0 & ~1)      # real mode: PE off
    uc.reg_write(X.UC_X86_REG_CS, TRAMP >> 4)
    cs_after = uc.reg_read(X.UC_X86_REG_CS)
    n = [0]; sizes = []
    def hk(uc, a, s, ud): n[0] += 1; sizes.append(a)
    uc.hook_add(UC_HOOK_CODE, hk)
    try:
        uc.emu_start(0, 0xFFFFFFFF, count=100)   # pc is EIP (offset in CS)
        err = None
    except UcError as e:
        err = e
    print("A %s: initial cr0=%#x, cs=%#x after write; run err=%s eip=%#x cs=%#x cr0=%#x marker=%#x insns=%d" % (
        name, cr0, cs_after, err, uc.reg_read(X.UC_X86_REG_EIP), uc.reg_read(X.UC_X86_REG_CS),
        uc.reg_read(X.UC_X86_REG_CR0), struct.unpack_from("<I", ram, 0x500)[0], n[0]))
    print('   hook addresses of the first 3 insns:', [hex(a) for a in sizes[:3]])

# capstone 16 vs 32 on the real-mode code: instruction counts differ
md16 = capstone.Cs(capstone.CS_ARCH_X86, capstone.CS_MODE_16)
md32 = capstone.Cs(capstone.CS_ARCH_X86, capstone.CS_MODE_32)
print("A capstone on the 16-bit trampoline: mode16 %d insns, mode32 %d insns" % (
    len(list(md16.disasm_lite(bytes(code16), 0))), len(list(md32.disasm_lite(bytes(code16), 0)))))

# ---- B/C: shared RAM and translation-cache coherence
A, B = new_uc(), new_uc()
for uc in (A, B):
    uc.reg_write(X.UC_X86_REG_CR4, 0)
X0 = 0x20000
ram[X0:X0+6] = bytes(ks32.asm("mov eax, 1; hlt", X0)[0])
B.emu_start(X0, 0xFFFFFFFF, count=2)
print("C B runs X first: eax=%d" % B.reg_read(X.UC_X86_REG_EAX))
# A writes new code at X with a guest store
newcode = bytes(ks32.asm("mov eax, 2; hlt", X0)[0])
W = 0x30000
store, _ = ks32.asm("mov dword ptr [%d], %d; mov byte ptr [%d], %d; hlt" % (
    X0, int.from_bytes(newcode[:4], 'little'), X0+4, newcode[4]), W)
ram[W:W+len(store)] = bytes(store)
A.emu_start(W, 0xFFFFFFFF, count=3)
print("B sees A's store at once: bytes at X = %s" % bytes(ram[X0:X0+6]).hex())
B.emu_start(X0, 0xFFFFFFFF, count=2)
print("C B runs X after A rewrote it: eax=%d (stale translation if 1)" % B.reg_read(X.UC_X86_REG_EAX))
B.ctl_remove_cache(X0, X0 + 6)
B.emu_start(X0, 0xFFFFFFFF, count=2)
print("C after B.ctl_remove_cache(X): eax=%d" % B.reg_read(X.UC_X86_REG_EAX))

# ---- D: per-Uc MMIO at the LAPIC address
LAPIC = 0xFEE00000
for i, uc in enumerate((A, B)):
    uc.mmio_map(LAPIC, 0x1000, (lambda i: lambda uc, off, size, ud: (i << 24) if off == 0x20 else 0)(i), None,
                lambda uc, off, size, val, ud: None, None)
    P = 0x40000
    c = bytes(ks32.asm("mov eax, dword ptr [0xFEE00020]; hlt", P)[0]); ram[P:P+len(c)] = c
    uc.emu_start(P, 0xFFFFFFFF, count=2)
    print("D cpu %d reads LAPIC ID %#x" % (i, uc.reg_read(X.UC_X86_REG_EAX)))

# ---- E: cost of a quantum switch: two CPUs, busy loop, emu_start(count=Q) in turns
L = 0x50000
c = bytes(ks32.asm("l: inc ecx; dec edx; jmp l", L)[0]); ram[L:L+len(c)] = c
for Q in (1000, 10000, 100000, 1000000):
    total = 4_000_000 if Q < 100000 else 20_000_000
    cpus = [new_uc(), new_uc()]
    pcs = [L, L]
    t = time.process_time(); done = 0
    while done < total:
        for k, uc in enumerate(cpus):
            uc.emu_start(pcs[k], 0xFFFFFFFF, count=Q)
            pcs[k] = uc.reg_read(X.UC_X86_REG_EIP)
            done += Q
    dt = time.process_time() - t
    print("E quantum %7d: %.1f M instr/s (emu_start count=, 2 CPUs, %d instr)" % (Q, done / dt / 1e6, done))
