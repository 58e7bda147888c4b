"""QEMU's `info mem` and `info tlb` for an i386 without PAE, in QEMU's exact text.

GEF, pwndbg and other gdb front-ends learn the memory layout of a QEMU guest
by sending `monitor info mem` (and `monitor info tlb`) and parsing QEMU's
human monitor output, so ours answers them line for line as qemu-system-i386
7.2 does on the same page tables (tests/test_qemu_hmp.py compares both):

    info mem   one line per run of virtual pages with the same rights:
               `START-END SIZE urw` (16 hex digits each; `u` or `-`, `r`,
               `w` or `-`), rights = the AND of PDE and PTE U/W bits
    info tlb   one line per present page: `VADDR: PADDR` then the flags
               `XGPDACTUW` (NX, global, PSE, dirty, accessed, PCD, PWT,
               user, writable; `-` when clear)
    paging off: `PG disabled`

Pure: `read(paddr, size)` reads guest physical memory (a table it cannot
read, outside RAM, reads as zeros: not present).
"""

from __future__ import annotations

import struct
from typing import Callable, Iterator, List, Optional, Tuple

P, W, U, PWT, PCD, A, D, PS, G = 0x1, 0x2, 0x4, 0x8, 0x10, 0x20, 0x40, 0x80, 0x100
CR0_PG = 1 << 31
CR4_PSE = 1 << 4
PG_DISABLED = "PG disabled\n"


def _table(read: Callable[[int, int], bytes], paddr: int) -> List[int]:
    """The 1024 entries of the page table (or directory) at `paddr`."""
    try:
        raw = read(paddr, 4096)
    except Exception:
        raw = b""
    return list(struct.unpack("<1024I", raw.ljust(4096, b"\0")[:4096]))


def _entries(read, cr3: int, cr4: int) -> Iterator[Tuple[int, int, Optional[int]]]:
    """(vaddr, pde, pte) for each 4 KiB slot of a present page table, and
    (vaddr, pde, None) for a 4 MiB page or a PDE that is not present."""
    for l1, pde in enumerate(_table(read, cr3 & ~0xFFF)):
        if pde & P and not (pde & PS and cr4 & CR4_PSE):
            for l2, pte in enumerate(_table(read, pde & ~0xFFF)):
                yield (l1 << 22) | (l2 << 12), pde, pte
        else:
            yield l1 << 22, pde, None


def info_mem(read, cr0: int, cr3: int, cr4: int) -> str:
    if not cr0 & CR0_PG:
        return PG_DISABLED
    lines = []
    start, last = None, 0

    def boundary(end: int, prot: int) -> None:
        nonlocal start, last
        if prot == last:
            return
        if start is not None:
            lines.append(f"{start:016x}-{end:016x} {end - start:016x} "
                         f"{'u' if last & U else '-'}r{'w' if last & W else '-'}\n")
        start = end if prot else None
        last = prot

    for vaddr, pde, pte in _entries(read, cr3, cr4):
        if pte is None:
            prot = pde & (U | W | P) if pde & P else 0
        else:
            prot = pte & pde & (U | W | P) if pte & P else 0
        boundary(vaddr, prot)
    boundary(1 << 32, 0)
    return "".join(lines)


def _flags(entry: int) -> str:
    # NX (bit 63) cannot be set in a 32-bit entry
    return "-" + "".join(ch if entry & bit else "-" for ch, bit in
                         (("G", G), ("P", PS), ("D", D), ("A", A), ("C", PCD),
                          ("T", PWT), ("U", U), ("W", W)))


def info_tlb(read, cr0: int, cr3: int, cr4: int) -> str:
    if not cr0 & CR0_PG:
        return PG_DISABLED
    lines = []
    for vaddr, pde, pte in _entries(read, cr3, cr4):
        if pte is None:
            if pde & P:     # a 4 MiB page; QEMU masks its address to 2 MiB
                lines.append(f"{vaddr:016x}: {pde & ~((1 << 21) - 1) & 0xFFFFFFFF:016x} "
                             f"{_flags(pde)}\n")
        elif pte & P:
            entry = pte & ~PS
            lines.append(f"{vaddr:016x}: {entry & ~0xFFF & 0xFFFFFFFF:016x} {_flags(entry)}\n")
    return "".join(lines)
