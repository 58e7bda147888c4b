"""Multiboot v1 loader for ELF32 i386 kernels (what GRUB/QEMU -kernel do).

Contract (docs/ARCHITECTURE.md, "Kernel image contract"):
  load(path, ram, cmdline) -> BootInfo
    - parses the image with pyelftools; rejects, with KernelImageError whose
      message says what is wrong and what to do: a file that is not ELF, an
      ELF that is not 32-bit i386 (e.g. x86-64), an image without a valid
      multiboot v1 header in its first 8 KiB, an image asking for multiboot
      features we do not provide, segments outside RAM;
    - copies every PT_LOAD segment to its p_paddr and zeroes p_memsz-p_filesz;
    - writes, in low memory, a GDT with flat 4 GiB ring-0 code (0x08) and data
      (0x10) segments, and a multiboot info structure (mem_lower/mem_upper,
      cmdline, boot loader name, a BIOS-style memory map);
    - returns the entry state: EIP = e_entry (used as a physical address,
      paging is off), EAX = 0x2BADB002, EBX = address of the info struct.
  `ram` is a writable buffer (bytearray, mmap, memoryview) covering guest
  physical memory from address 0.
"""
import struct
from dataclasses import dataclass

from elftools.common.exceptions import ELFError
from elftools.elf.elffile import ELFFile

from .errors import KernelImageError

MULTIBOOT_HEADER_MAGIC = 0x1BADB002
MULTIBOOT_BOOTLOADER_MAGIC = 0x2BADB002
MULTIBOOT_SEARCH = 8192
# header flags bits 0-15 are requirements; we satisfy these:
MB_PAGE_ALIGN = 1 << 0
MB_MEMORY_INFO = 1 << 1
MB_VIDEO_MODE = 1 << 2
MB_AOUT_KLUDGE = 1 << 16

# Low-memory layout written by the loader (below 0x10000, above the BIOS area).
GDT_ADDR = 0x7000
INFO_ADDR = 0x8000
CMDLINE_ADDR = 0x8100
LOADER_NAME_ADDR = 0x8500
MMAP_ADDR = 0x8600
LOADER_NAME = b"kthread-machine\0"

KERNEL_CS = 0x08
KERNEL_DS = 0x10
GDT = struct.pack("<QQQ", 0, 0x00CF9A000000FFFF, 0x00CF92000000FFFF)


@dataclass
class BootInfo:
    entry: int
    eax: int
    ebx: int
    gdt_base: int
    gdt_limit: int
    cs: int
    ds: int
    mb_flags: int
    segments: list     # [(paddr, filesz, memsz)]


def find_multiboot_header(head: bytes):
    """(offset, flags) of the first valid multiboot v1 header in `head`, or None."""
    for off in range(0, min(len(head), MULTIBOOT_SEARCH) - 11, 4):
        magic, flags, checksum = struct.unpack_from("<III", head, off)
        if magic == MULTIBOOT_HEADER_MAGIC and (magic + flags + checksum) & 0xFFFFFFFF == 0:
            return off, flags
    return None


def load(path: str, ram, cmdline: str = "") -> BootInfo:
    ram_size = len(ram)
    try:
        f = open(path, "rb")
    except OSError as e:
        raise KernelImageError("cannot open kernel image %s: %s (build it with "
                               "`make -C kernel_src` or pass the right path)"
                               % (path, e.strerror))
    with f:
        head = f.read(MULTIBOOT_SEARCH)
        if head[:4] != b"\x7fELF":
            raise KernelImageError(
                "%s is not an ELF file (no \\x7fELF magic): pass the kernel's ELF "
                "image, e.g. kernel_src/vmlinux, not a raw binary or bzImage" % path)
        f.seek(0)
        try:
            elf = ELFFile(f)
            machine = elf["e_machine"]
            elfclass = elf.elfclass
        except ELFError as e:
            raise KernelImageError("%s is a corrupt ELF file (%s): rebuild it" % (path, e))
        if elfclass != 32 or machine != "EM_386":
            raise KernelImageError(
                "%s is a %d-bit %s ELF, but this machine boots 32-bit i386 "
                "kernels only: build with gcc -m32 and link with ld -m elf_i386"
                % (path, elfclass, machine))
        if elf["e_type"] != "ET_EXEC":
            raise KernelImageError(
                "%s is an ELF of type %s, not an executable: link it with ld "
                "-m elf_i386 and a linker script" % (path, elf["e_type"]))
        mb = find_multiboot_header(head)
        if mb is None:
            raise KernelImageError(
                "%s has no multiboot v1 header (magic 0x1BADB002 with a valid "
                "checksum, 4-byte aligned) in its first 8 KiB: put a .multiboot "
                "section first in the linker script" % path)
        _, mb_flags = mb
        unsupported = mb_flags & 0xFFFF & ~(MB_PAGE_ALIGN | MB_MEMORY_INFO)
        if unsupported:
            raise KernelImageError(
                "%s's multiboot header requires features 0x%x that this loader "
                "does not provide (only page-align and memory-info): drop them "
                "from the header flags" % (path, unsupported))

        segments = []
        try:
            # A corrupt header table makes pyelftools raise from here on.
            headers = list(elf.iter_segments())
        except (ELFError, ValueError, struct.error) as e:
            raise KernelImageError("%s is a corrupt ELF file (program headers: %s): "
                                   "rebuild it with make -C kernel_src" % (path, e))
        for seg in headers:
            if seg["p_type"] != "PT_LOAD" or seg["p_memsz"] == 0:
                continue
            paddr, filesz, memsz = seg["p_paddr"], seg["p_filesz"], seg["p_memsz"]
            if paddr + memsz > ram_size:
                raise KernelImageError(
                    "%s: segment at physical 0x%x..0x%x does not fit in %d MiB of RAM: "
                    "link it lower or give the machine more RAM"
                    % (path, paddr, paddr + memsz, ram_size >> 20))
            if paddr < 0x100000 and paddr + memsz > GDT_ADDR:
                raise KernelImageError(
                    "%s: segment at physical 0x%x overlaps the loader's low-memory "
                    "area (0x%x-0x10000): load the kernel at or above 1 MiB"
                    % (path, paddr, GDT_ADDR))
            for other, _, other_size in segments:
                if paddr < other + other_size and other < paddr + memsz:
                    raise KernelImageError(
                        "%s: segments at physical 0x%x and 0x%x overlap: a corrupt or "
                        "hostile ELF (QEMU refuses it too); rebuild it with make -C kernel_src"
                        % (path, other, paddr))
            data = seg.data()
            if len(data) != filesz:
                raise KernelImageError("%s is truncated (segment at physical 0x%x has "
                                       "%d of its %d bytes): rebuild it with make -C "
                                       "kernel_src" % (path, paddr, len(data), filesz))
            ram[paddr:paddr + filesz] = data
            ram[paddr + filesz:paddr + memsz] = bytes(memsz - filesz)
            segments.append((paddr, filesz, memsz))
        if not segments:
            raise KernelImageError("%s has no loadable (PT_LOAD) segments" % path)
        entry = elf["e_entry"]

    # GDT: flat code and data, like the state the multiboot spec requires.
    ram[GDT_ADDR:GDT_ADDR + len(GDT)] = GDT

    # Multiboot information structure.
    cmd = cmdline.encode() + b"\0"
    if len(cmd) > LOADER_NAME_ADDR - CMDLINE_ADDR:
        raise KernelImageError("kernel command line too long (max %d bytes)"
                               % (LOADER_NAME_ADDR - CMDLINE_ADDR - 1))
    ram[CMDLINE_ADDR:CMDLINE_ADDR + len(cmd)] = cmd
    ram[LOADER_NAME_ADDR:LOADER_NAME_ADDR + len(LOADER_NAME)] = LOADER_NAME
    mem_lower = 640
    mem_upper = (ram_size >> 10) - 1024
    mmap = b"".join(struct.pack("<IQQI", 20, base, length, typ) for base, length, typ in (
        (0, 0x9FC00, 1), (0x9FC00, 0x400, 2), (0xF0000, 0x10000, 2),
        (0x100000, ram_size - 0x100000, 1)))
    ram[MMAP_ADDR:MMAP_ADDR + len(mmap)] = mmap
    flags = (1 << 0) | (1 << 2) | (1 << 6) | (1 << 9)   # mem, cmdline, mmap, name
    info = bytearray(88)
    struct.pack_into("<IIII", info, 0, flags, mem_lower, mem_upper, 0)
    struct.pack_into("<I", info, 16, CMDLINE_ADDR)
    struct.pack_into("<II", info, 44, len(mmap), MMAP_ADDR)
    struct.pack_into("<I", info, 64, LOADER_NAME_ADDR)
    ram[INFO_ADDR:INFO_ADDR + len(info)] = bytes(info)

    return BootInfo(entry=entry, eax=MULTIBOOT_BOOTLOADER_MAGIC, ebx=INFO_ADDR,
                    gdt_base=GDT_ADDR, gdt_limit=len(GDT) - 1,
                    cs=KERNEL_CS, ds=KERNEL_DS, mb_flags=mb_flags, segments=segments)
