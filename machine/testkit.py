"""Helpers for the machine's tests: tiny multiboot kernels and code snippets.

build_kernel(tmpdir, body, data="", name="tiny") -> path
  Assembles `body` (GNU as, AT&T syntax) after a multiboot v1 header with
  gcc -m32 -c and links it with ld -m elf_i386 at 1 MiB (virtual ==
  physical), returning the ELF path.  `_start` is the entry point.
PAGING_ON
  GNU as fragment for a body: paging on with the page directory at %eax
  (CR3), 4 MiB pages allowed (CR4.PSE), then CR0.PG.
asm(source, addr) -> bytes
  Intel-syntax keystone assembly of `source` for address `addr`.
  Beware keystone quirks in 32-bit mode: `iret` and `push cs` assemble
  with a 0x66 prefix (16-bit forms); write `iretd`.
build_timer_os(tmpdir, mode, nticks), build_smp_os(tmpdir, ncpus, locked, niter)
  The tiny OSes described where they are defined below.
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

PAGING_ON = """
    mov %eax, %cr3
    mov %cr4, %eax
    or $0x10, %eax
    mov %eax, %cr4
    mov %cr0, %eax
    or $0x80000000, %eax
    mov %eax, %cr0
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


def symbols(path):
    """{name: value} of an ELF's symbol table (pyelftools)."""
    from elftools.elf.elffile import ELFFile
    with open(path, "rb") as f:
        elf = ELFFile(f)
        tab = elf.get_section_by_name(".symtab")
        return {s.name: s["st_value"] for s in tab.iter_symbols() if s.name}


# A tiny "OS" for timer/determinism tests: IDT with a timer gate, PIC remap,
# PIT at HZ=100, then a main loop chosen by `mode`:
#   busy  - spins with IF=1 until `ticks` reaches N
#   halt  - sti; hlt until `ticks` reaches N
#   mixed - alternates 300-iteration loops with IF=0 and IF=1 (ticks often
#           land in a cli window, exercising the IRQ window)
# then prints "D\n", and halts with IF=0.  The ISR prints '.', sends EOI.
TIMER_OS = r"""
    mov $0x90000, %esp
    lea timer_isr, %eax
    mov $idt + 0x20*8, %edi
    mov %ax, (%edi)
    movw $0x08, 2(%edi)
    movw $0x8E00, 4(%edi)
    shr $16, %eax
    mov %ax, 6(%edi)
    lidt idt_desc
    mov $0x11, %al
    out %al, $0x20
    out %al, $0xa0
    mov $0x20, %al
    out %al, $0x21
    mov $0x28, %al
    out %al, $0xa1
    mov $0x04, %al
    out %al, $0x21
    mov $0x02, %al
    out %al, $0xa1
    mov $0x01, %al
    out %al, $0x21
    out %al, $0xa1
    mov $0xfe, %al
    out %al, $0x21
    mov $0xff, %al
    out %al, $0xa1
    mov $0x34, %al
    out %al, $0x43
    mov $(11932 & 0xff), %al
    out %al, $0x40
    mov $(11932 >> 8), %al
    out %al, $0x40
    sti
main_loop:
    MAIN_BODY
    cmpl $NTICKS, ticks
    jb main_loop
    cli
    mov $0x3f8, %dx
    mov $'D', %al
    out %al, %dx
    mov $'\n', %al
    out %al, %dx
done:
    hlt
    jmp done

timer_isr:
    push %eax
    push %edx
    incl ticks
    mov $0x3f8, %dx
    mov $'.', %al
    out %al, %dx
    mov $0x20, %al
    out %al, $0x20
    pop %edx
    pop %eax
    iret
"""

TIMER_OS_DATA = r"""
    .align 8
idt_desc:
    .word 256*8-1
    .long idt
ticks:
    .long 0
    .align 8
idt:
    .fill 256*8, 1, 0
"""

MAIN_BODIES = {
    "busy": "inc %esi",
    "halt": "hlt",
    "mixed": """cli
    mov $300, %ecx
2:  add %ecx, %esi
    loop 2b
    sti
    mov $300, %ecx
3:  xor %ecx, %edi
    loop 3b""",
    # a store per two instructions, to a page that holds no code
    "stores": """mov $256, %ecx
2:  mov %ecx, scratch-4(,%ecx,4)
    loop 2b
    .pushsection .data
    .align 4096
scratch:
    .fill 256, 4, 0
    .align 4096
    .popsection""",
}


def build_timer_os(tmpdir, mode="busy", nticks=10):
    body = TIMER_OS.replace("MAIN_BODY", MAIN_BODIES[mode]).replace("NTICKS", str(nticks))
    return build_kernel(tmpdir, body, TIMER_OS_DATA, name="timer_%s_%d" % (mode, nticks))


# A tiny SMP "OS" (machine/smp.py): the BSP copies a 16-bit trampoline to
# 0x9000 and starts each AP with INIT + STARTUP (vector 9); every CPU adds 1
# to a shared counter NITER times, under a `lock bts` spinlock (locked) or
# without it (a planted race); the BSP waits for all (pause loop), prints the
# counter as 8 hex digits and a newline, and every CPU halts with IF=0.
SMP_OS = r"""
    mov $0x90000, %esp
    movl $0x1ff, 0xfee000f0             # APIC software enable
    mov $tramp, %esi
    mov $0x9000, %edi
    mov $(tramp_end - tramp), %ecx
    rep movsb
    mov $1, %ebx
start_ap:
    cmp ncpus, %ebx
    jae worker
    mov %ebx, %eax
    shl $24, %eax
    mov %eax, 0xfee00310                # destination
    movl $0xc500, 0xfee00300            # INIT, level assert
    movl $0x8500, 0xfee00300            # INIT, level de-assert
    movl $0x0609, 0xfee00300            # STARTUP, vector 9: 0900:0000
    inc %ebx
    jmp start_ap

worker:
    mov $NITER, %ecx
1:  ACQUIRE
    mov counter, %eax
    inc %eax
    mov %eax, counter
    RELEASE
    loop 1b
    lock incl finished
    mov 0xfee00020, %eax                # APIC id: 0 is the BSP
    shr $24, %eax
    jnz ap_done
2:  pause
    mov finished, %eax
    cmp ncpus, %eax
    jb 2b
    mov counter, %ebx
    mov $8, %ecx
    mov $0x3f8, %dx
3:  rol $4, %ebx
    mov %ebx, %eax
    and $0xf, %eax
    mov hexdigits(%eax), %al
    out %al, %dx
    loop 3b
    mov $'\n', %al
    out %al, %dx
ap_done:
    cli
    hlt
    jmp ap_done

    .code16
tramp:
    cli
    lgdtl %cs:gdtdesc - tramp
    mov %cr0, %eax
    or $1, %eax
    mov %eax, %cr0
    ljmpl $0x08, $ap32
    .align 4
gdtdesc:
    .word 23
    .long 0x7000                        # the loader's flat GDT
tramp_end:
    .code32
ap32:
    mov $0x10, %ax
    mov %ax, %ds
    mov %ax, %es
    mov %ax, %ss
    mov 0xfee00020, %eax
    shr $24, %eax
    shl $12, %eax
    mov $0x80000, %esp
    sub %eax, %esp                      # a stack per AP
    movl $0x1ff, 0xfee000f0
    jmp worker
"""

LOCKED = ("""5:  lock btsl $0, lock
    jnc 6f
    pause
    jmp 5b
6:""", "movl $0, lock")

SMP_DATA = r"""
ncpus:  .long NCPUS
counter: .long 0
lock:   .long 0
finished: .long 0
hexdigits: .ascii "0123456789abcdef"
"""


def build_smp_os(tmpdir, ncpus=2, locked=True, niter=3000):
    acquire, release = LOCKED if locked else ("", "")
    body = (SMP_OS.replace("ACQUIRE", acquire).replace("RELEASE", release)
            .replace("NITER", str(niter)))
    return build_kernel(tmpdir, body, SMP_DATA.replace("NCPUS", str(ncpus)),
                        name="smp%d_%s_%d" % (ncpus, "lock" if locked else "race", niter))
