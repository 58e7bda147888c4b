"""Guest RAM and access to it through the guest's page tables (no unicorn).

GuestMemory(size) owns RAM: a private anonymous host mapping that unicorn
maps by pointer (`address`) and history.py views with numpy (`ram`).

Virtual accesses take the paging registers as ctl = (cr0, cr3, cr4), read by
the caller once per access, not once per page walked.  Paging off: identity.
PAE paging is not modelled (nothing translates).  4 MiB pages need CR4.PSE
(paging.walk).  An access translates every page it touches before it copies
a byte, so a MemoryFault (naming the first bad byte) leaves memory
untouched; a page that maps outside RAM faults too.  Nothing here flushes
unicorn's translations: the machine does that after a write.
"""
import ctypes
import mmap
import struct

from . import paging
from .errors import MemoryFault

CR0_PG = 1 << 31
CR4_PSE = 1 << 4
CR4_PAE = 1 << 5


class GuestMemory:
    def __init__(self, size: int):
        self.size = size
        # MAP_PRIVATE | MAP_ANONYMOUS: MADV_DONTNEED zero-fills it again (zero()).
        self.ram = mmap.mmap(-1, size, flags=mmap.MAP_PRIVATE | mmap.MAP_ANONYMOUS)
        self.address = ctypes.addressof(ctypes.c_char.from_buffer(self.ram))

    def zero(self):
        """All of RAM zero again, cheaply."""
        self.ram.madvise(mmap.MADV_DONTNEED)

    # ------------------------------------------------------------ page walk
    def read32_or_zero(self, paddr: int) -> int:
        """A page-table word; outside RAM it reads as 0 (not present)."""
        if paddr < 0 or paddr + 4 > self.size:
            return 0
        return struct.unpack_from("<I", self.ram, paddr)[0]

    def walk(self, vaddr: int, ctl):
        """(paddr, bytes left in its page) or None when not mapped."""
        cr0, cr3, cr4 = ctl
        vaddr &= 0xFFFFFFFF
        if not cr0 & CR0_PG:
            return vaddr, 0x1000 - (vaddr & 0xFFF)
        if cr4 & CR4_PAE:
            return None
        t = paging.walk(self.read32_or_zero, cr3, vaddr, bool(cr4 & CR4_PSE))
        if t is None:
            return None
        return t.paddr, t.page_end_offset

    def translate(self, vaddr: int, ctl):
        """Physical address of vaddr, or None (also when it maps outside RAM)."""
        w = self.walk(vaddr, ctl)
        if w is None or w[0] >= self.size:
            return None
        return w[0]

    def pf_error_code(self, ctl, cr2: int, write: bool, user: bool) -> int:
        """The #PF error code for an access to cr2 (paging.pf_error_code)."""
        _, cr3, cr4 = ctl
        return paging.pf_error_code(self.read32_or_zero, cr3, cr2,
                                    bool(cr4 & CR4_PSE), write, user)

    # -------------------------------------------------------------- access
    def _pieces(self, vaddr: int, size: int, ctl):
        """[(paddr, n)] covering size bytes from vaddr, or MemoryFault."""
        out = []
        vaddr &= 0xFFFFFFFF
        while size > 0:
            w = self.walk(vaddr, ctl)
            if w is None or w[0] >= self.size:
                raise MemoryFault(vaddr)
            paddr, left = w
            n = min(size, left, self.size - paddr)
            out.append((paddr, n))
            vaddr = (vaddr + n) & 0xFFFFFFFF
            size -= n
        return out

    def read_virt(self, vaddr: int, size: int, ctl) -> bytes:
        ram = self.ram
        return b"".join(ram[p:p + n] for p, n in self._pieces(vaddr, size, ctl))

    def write_virt(self, vaddr: int, data: bytes, ctl):
        pos = 0
        for paddr, n in self._pieces(vaddr, len(data), ctl):
            self.ram[paddr:paddr + n] = data[pos:pos + n]
            pos += n

    def read_phys(self, paddr: int, size: int) -> bytes:
        if paddr < 0 or size < 0:
            raise MemoryFault(paddr)
        if paddr + size > self.size:
            raise MemoryFault(max(paddr, self.size))
        return bytes(self.ram[paddr:paddr + size])

    def write_phys(self, paddr: int, data: bytes):
        if paddr < 0:
            raise MemoryFault(paddr)
        if paddr + len(data) > self.size:
            raise MemoryFault(max(paddr, self.size))
        self.ram[paddr:paddr + len(data)] = data
