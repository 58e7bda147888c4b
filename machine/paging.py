"""i386 two-level page-table walker (no PAE), pure: no unicorn here.

Contract:
  walk(read32, cr3, vaddr, pse=True) -> Translation | None
    read32(paddr) -> int reads a little-endian u32 of guest physical memory
    (it may raise; the caller decides).  Returns None when the page
    directory entry or the page table entry is not present.
    4 MiB pages are honoured when the PDE has PS (bit 7) and `pse`
    (CR4.PSE) is true; otherwise bit 7 is ignored as on real hardware.
  Translation.paddr is the physical address of vaddr; .writable/.user are
  the combined permission bits (AND of both levels); .page_size is 4096 or
  4 MiB; .pde/.pte the raw entries (pte is None for a 4 MiB page).
"""
from dataclasses import dataclass
from typing import Callable, Optional

PTE_P = 0x001
PTE_W = 0x002
PTE_U = 0x004
PTE_PS = 0x080

PAGE_SIZE = 4096
LARGE_PAGE_SIZE = 4 << 20


@dataclass(frozen=True)
class Translation:
    paddr: int
    page_size: int
    writable: bool
    user: bool
    pde: int
    pte: Optional[int]

    @property
    def page_end_offset(self) -> int:
        """Bytes from paddr to the end of its page."""
        return self.page_size - (self.paddr & (self.page_size - 1))


def walk(read32: Callable[[int], int], cr3: int, vaddr: int,
         pse: bool = True) -> Optional[Translation]:
    vaddr &= 0xFFFFFFFF
    pde = read32((cr3 & 0xFFFFF000) + ((vaddr >> 22) << 2))
    if not pde & PTE_P:
        return None
    if pse and pde & PTE_PS:
        base = pde & 0xFFC00000
        return Translation(base | (vaddr & 0x3FFFFF), LARGE_PAGE_SIZE,
                           bool(pde & PTE_W), bool(pde & PTE_U), pde, None)
    pte = read32((pde & 0xFFFFF000) + (((vaddr >> 12) & 0x3FF) << 2))
    if not pte & PTE_P:
        return None
    return Translation((pte & 0xFFFFF000) | (vaddr & 0xFFF), PAGE_SIZE,
                       bool(pde & PTE_W and pte & PTE_W),
                       bool(pde & PTE_U and pte & PTE_U), pde, pte)


def pf_error_code(read32: Callable[[int], int], cr3: int, vaddr: int,
                  pse: bool, write: bool, user: bool) -> int:
    """The #PF error code a CPU pushes for an access to vaddr.

    bit 0 P: the page was present (protection violation),
    bit 1 W/R: the access was a write, bit 2 U/S: it came from CPL 3.
    """
    t = walk(read32, cr3, vaddr, pse)
    return (1 if t is not None else 0) | (2 if write else 0) | (4 if user else 0)
