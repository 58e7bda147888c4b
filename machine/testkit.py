"""Helpers for the machine's tests: tiny multiboot kernels and code snippets.

build_kernel(tmpdir, body, data="", name="tiny") -> path
  Assembles `body` (GNU as, AT&T syntax) after a multiboot v1 header with
  gcc -m32 -c and links it with ld -m elf_i386 at 1 MiB (virtual ==
  physical), returning the ELF path.  `_start` is the entry point.
asm(source, addr) -> bytes
  Intel-syntax keystone assembly of `source` for address `addr`.
"""
import os
import subprocess

MB_HEADER = """
    .section .multiboot, "a"
    .align 4
    .long 0x1BADB002
    .long 0x00000003
    .long -(0x1BADB002 + 0x00000003)
"""

LDS = """
ENTRY(_start)
SECTIONS {
    . = 0x100000;
    .multiboot : { *(.multiboot) }
    .text : { *(.text) }
    .data : { *(.data) }
    .bss : { *(.bss) *(COMMON) }
}
"""


def build_kernel(tmpdir, body, data="", name="tiny", header=MB_HEADER, lds=LDS):
    tmpdir = str(tmpdir)
    src = os.path.join(tmpdir, name + ".S")
    obj = os.path.join(tmpdir, name + ".o")
    out = os.path.join(tmpdir, name + ".elf")
    script = os.path.join(tmpdir, name + ".lds")
    with open(src, "w") as f:
        f.write(header)
        f.write("\n    .text\n    .globl _start\n_start:\n" + body + "\n")
        if data:
            f.write("\n    .data\n" + data + "\n")
    with open(script, "w") as f:
        f.write(lds)
    subprocess.run(["gcc", "-m32", "-c", "-o", obj, src], check=True,
                   capture_output=True)
    subprocess.run(["ld", "-m", "elf_i386", "-T", script, "-o", out, obj],
                   check=True, capture_output=True)
    return out


_ks = None


def asm(source, addr=0):
    global _ks
    if _ks is None:
        from keystone import Ks, KS_ARCH_X86, KS_MODE_32
        _ks = Ks(KS_ARCH_X86, KS_MODE_32)
    enc, _ = _ks.asm(source, addr)
    return bytes(enc)
