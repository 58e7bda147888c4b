"""The multiboot v1 ELF loader: segments, bss, info struct, entry state,
and the errors a user gets for images it cannot boot."""
import os
import shutil
import struct

import pytest
from elftools.elf.elffile import ELFFile

from machine import Machine, KernelImageError
from machine import loader
from machine.testkit import build_kernel, symbols, MB_HEADER

RAM = 8 << 20

BODY = r"""
    movl $0x1234, bss_marker
1:  jmp 1b
    .section .bss
bss_marker:
    .skip 8192
"""

HIGH_LDS = """
ENTRY(_start_phys)
SECTIONS {
    . = 0xC0100000;
    .multiboot : AT(0x100000) { *(.multiboot) }
    .text : AT(ADDR(.text) - 0xC0000000) { *(.text) }
    .data : AT(ADDR(.data) - 0xC0000000) { *(.data) }
    .bss : AT(ADDR(.bss) - 0xC0000000) { *(.bss) }
    _start_phys = _start - 0xC0000000;
}
"""


@pytest.fixture(scope="module")
def tmp(tmp_path_factory):
    return tmp_path_factory.mktemp("loader")


@pytest.fixture(scope="module")
def tiny(tmp):
    return build_kernel(tmp, BODY, data="msg: .asciz \"hello\"")


def load_into_dirty_ram(path, cmdline=""):
    ram = bytearray(b"\xAA" * RAM)
    return ram, loader.load(path, ram, cmdline)


def test_segments_bss_and_entry(tiny):
    ram, info = load_into_dirty_ram(tiny)
    sy = symbols(tiny)
    assert info.entry == sy["_start"]
    assert info.eax == 0x2BADB002 and info.ebx == loader.INFO_ADDR
    with open(tiny, "rb") as f:
        elf = ELFFile(f)
        for seg in elf.iter_segments():
            if seg["p_type"] != "PT_LOAD":
                continue
            pa, fs, ms = seg["p_paddr"], seg["p_filesz"], seg["p_memsz"]
            assert bytes(ram[pa:pa + fs]) == seg.data()
            assert bytes(ram[pa + fs:pa + ms]) == bytes(ms - fs)     # bss zeroed
    b = sy["bss_marker"]
    assert bytes(ram[b:b + 8192]) == bytes(8192)
    assert ram[sy["msg"]:sy["msg"] + 6] == b"hello\0"
    assert ram[b + 8192 + 64] == 0xAA or b + 8192 + 64 >= len(ram)   # nothing beyond


def test_multiboot_info(tiny):
    ram, info = load_into_dirty_ram(tiny, cmdline="console=ttyS0 oops=pf")
    flags, lower, upper = struct.unpack_from("<III", ram, info.ebx)
    assert flags & 1 and flags & 4 and flags & 0x40
    assert lower == 640 and upper == (RAM >> 10) - 1024
    cmd_ptr = struct.unpack_from("<I", ram, info.ebx + 16)[0]
    end = ram.index(0, cmd_ptr)
    assert bytes(ram[cmd_ptr:end]) == b"console=ttyS0 oops=pf"
    mmap_len, mmap_addr = struct.unpack_from("<II", ram, info.ebx + 44)
    usable = 0
    off = 0
    while off < mmap_len:
        size, base, length, typ = struct.unpack_from("<IQQI", ram, mmap_addr + off)
        if typ == 1:
            usable += length
        off += size + 4
    assert usable == 0x9FC00 + RAM - 0x100000
    name_ptr = struct.unpack_from("<I", ram, info.ebx + 64)[0]
    assert ram[name_ptr:ram.index(0, name_ptr)] == b"kthread-machine"


def test_machine_entry_state(tiny):
    m = Machine(tiny, ram_mb=16, cmdline="x=1")
    sy = symbols(tiny)
    assert m.read_register("eip") == sy["_start"]
    assert m.read_register("eax") == 0x2BADB002
    assert m.read_register("ebx") == loader.INFO_ADDR
    assert m.read_register("cs") == 0x08 and m.read_register("ss") == 0x10
    assert m.read_register("eflags") & 0x200 == 0
    assert m.read_register("cr0") & 0x80000000 == 0
    m.cont(5)
    assert m.read_memory(sy["bss_marker"], 4) == struct.pack("<I", 0x1234)
    # reset restores the entry state and zeroes RAM again
    m.write_phys(0x300000, b"junk")
    m.reset()
    assert m.icount == 0 and m.read_register("eip") == sy["_start"]
    assert m.read_memory(sy["bss_marker"], 4) == bytes(4)
    assert m.read_phys(0x300000, 4) == bytes(4)


def test_higher_half_loads_at_paddr(tmp):
    path = build_kernel(tmp, BODY, name="high", lds=HIGH_LDS)
    ram, info = load_into_dirty_ram(path)
    sy = symbols(path)
    assert info.entry == sy["_start"] - 0xC0000000          # physical entry
    assert sy["_start"] > 0xC0100000
    assert ram[0x100000:0x100004] == struct.pack("<I", 0x1BADB002)
    assert info.segments[0][0] == 0x100000


def test_not_elf(tmp):
    p = tmp / "raw.bin"
    p.write_bytes(b"\x90" * 64)
    with pytest.raises(KernelImageError, match="not an ELF"):
        Machine(str(p))


@pytest.mark.skipif(not os.path.exists("/bin/true"), reason="no /bin/true")
def test_x86_64_elf_rejected():
    with pytest.raises(KernelImageError, match=r"64-bit.*i386.*-m32"):
        loader.load("/bin/true", bytearray(RAM))


def test_no_multiboot_header(tmp):
    path = build_kernel(tmp, BODY, name="nomb", header="")
    with pytest.raises(KernelImageError, match="no multiboot v1 header.*first 8 KiB"):
        loader.load(path, bytearray(RAM))


def test_bad_checksum_is_no_header(tmp):
    hdr = MB_HEADER.replace("-(0x1BADB002 + 0x00000003)", "0x12345678")
    path = build_kernel(tmp, BODY, name="badsum", header=hdr)
    with pytest.raises(KernelImageError, match="no multiboot"):
        loader.load(path, bytearray(RAM))


def test_unsupported_multiboot_flags(tmp):
    hdr = MB_HEADER.replace("0x00000003", "0x00000007")        # + video mode
    path = build_kernel(tmp, BODY, name="video", header=hdr)
    with pytest.raises(KernelImageError, match="requires features 0x4"):
        loader.load(path, bytearray(RAM))


def test_segment_beyond_ram(tmp):
    lds = loader_lds = """
ENTRY(_start)
SECTIONS { . = 0x2000000; .multiboot : { *(.multiboot) } .text : { *(.text) }
           .bss : { *(.bss) } }
"""
    path = build_kernel(tmp, BODY, name="toohigh", lds=lds)
    with pytest.raises(KernelImageError, match="does not fit in 8 MiB"):
        loader.load(path, bytearray(RAM))
    Machine(path, ram_mb=64)          # fits in more RAM


def test_missing_file(tmp):
    with pytest.raises(KernelImageError, match="cannot open"):
        Machine(str(tmp / "nope"))
