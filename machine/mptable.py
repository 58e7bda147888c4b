"""The MP floating pointer and configuration table (Intel MP spec 1.4) that PC
firmware leaves in the BIOS area, so the kernel finds its CPUs as it does under
QEMU's SeaBIOS (pure: bytes only).

  build(cpus, apic_base=0xFEE00000, at=FLOATING_AT) -> (address, bytes)
    The 16-byte floating pointer `_MP_` at `at` (16-byte aligned, inside
    0xF0000-0xFFFFF, where the spec says to search), its config table `PCMP`
    right after it, with one processor entry (type 0) per CPU: APIC id = CPU
    number, enabled, CPU 0 the bootstrap processor.  Both checksums make
    their bytes sum to 0.  Nothing else: no bus, I/O APIC or interrupt
    entries (the PIC stays wired to CPU 0; MP spec "default configuration"
    features are 0, i.e. the table is present).

The machine writes it only with more than one CPU: with one CPU there is no
`_MP_` anywhere and the kernel boots uniprocessor, exactly as before.
"""
import struct

FLOATING_AT = 0xF5BA0           # where SeaBIOS puts it under QEMU 7.2 (DESIGN.md)
LAPIC_BASE = 0xFEE00000
SPEC_REV = 4                    # MP spec 1.4
LAPIC_VERSION = 0x14
CPU_SIGNATURE = 0x00000633      # family 6 model 3 stepping 3 (QEMU's default CPU)
CPU_FEATURES = 0x00000201       # FPU, APIC on chip
CPU_ENABLED, CPU_BSP = 1, 2
HEADER = struct.Struct("<4sHBB8s12sIHHIHBB")        # 44 bytes
PROCESSOR = struct.Struct("<BBBBII8x")              # 20 bytes
FLOATING = struct.Struct("<4sIBBBB4s")              # 16 bytes


def _checksum(data: bytes) -> int:
    return (-sum(data)) & 0xFF


def build(cpus: int, apic_base: int = LAPIC_BASE, at: int = FLOATING_AT):
    if not 1 <= cpus <= 255:
        raise ValueError("an MP table describes 1 to 255 processors, not %d" % cpus)
    if at % 16 or not 0xF0000 <= at < 0x100000:
        raise ValueError("the floating pointer must be 16-byte aligned in 0xF0000-0xFFFFF")
    entries = b"".join(
        PROCESSOR.pack(0, n, LAPIC_VERSION, CPU_ENABLED | (CPU_BSP if n == 0 else 0),
                       CPU_SIGNATURE, CPU_FEATURES)
        for n in range(cpus))
    length = HEADER.size + len(entries)
    table_at = at + FLOATING.size

    def header(csum):
        return HEADER.pack(b"PCMP", length, SPEC_REV, csum, b"KTHREAD ",
                           b"kthread-mach", 0, 0, cpus, apic_base, 0, 0, 0)
    table = header(0) + entries
    table = header(_checksum(table)) + entries

    def floating(csum):
        return FLOATING.pack(b"_MP_", table_at, 1, SPEC_REV, csum, 0, bytes(4))
    fp = floating(_checksum(floating(0)))
    blob = fp + table
    if at + len(blob) > 0x100000:
        raise ValueError("the MP table does not fit below 1 MiB")
    return at, blob
