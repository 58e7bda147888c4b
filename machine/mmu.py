"""The guest's page walk as a native TLB fill hook (machine/_mmu.c, whose
comment states the contract): stores to pages without code stop taking
unicorn's slow path, which every store to an executable page takes
(bench/bench_unicorn_stores.py).

  VirtualTlb(uc, mem) puts one engine in unicorn's virtual TLB mode with
  the hook, over the board's GuestMemory `mem` (memory.py).
  fallback(err): emu_start raised `err`; True when it is the hook's refusal
  (a page fault, or a case the hook leaves to unicorn): the engine now
  walks with unicorn's own walker, and the caller runs the instruction at
  EIP again: its block clock takes it back (BlockClock.redo, `began`).
  resume(): back to the hook after that retry (a TLB flush: what unicorn's
  walker filled may lack what the hook knows, e.g. a page that became
  code).  Cheap when there was no retry.
  UnicornTlb(): the same interface over unicorn's own walker (every page
  executable): Machine(tlb="cpu"), the reference the tests compare with.
"""
import ctypes
import os

import numpy as np
from unicorn import UC_HOOK_TLB_FILL, UC_TLB_CPU, UC_TLB_VIRTUAL
from unicorn.unicorn_const import (UC_CTL_IO_WRITE, UC_CTL_TLB_FLUSH, UC_ERR_EXCEPTION,
                                   UC_MEM_FETCH)
from unicorn.unicorn_py3.unicorn import uclib

from . import clock

_SRC = os.path.join(os.path.dirname(os.path.abspath(__file__)), "_mmu.c")
_lib = None


class VMmu(ctypes.Structure):
    _fields_ = [
        ("ram", ctypes.c_void_p),
        ("ram_size", ctypes.c_uint64),
        ("reg_read", ctypes.c_void_p),
        ("ctl", ctypes.c_void_p),
        ("ctl_flush", ctypes.c_uint64),
        ("code", ctypes.c_void_p),
        ("fills", ctypes.c_uint64),
        ("refused", ctypes.c_uint64),
        ("code_pages", ctypes.c_uint64),
        ("refused_type", ctypes.c_uint64),
        ("watch", ctypes.c_void_p),
        ("watch_on", ctypes.c_uint64),
        ("refused_watch", ctypes.c_uint64),
    ]


def _mmu_lib():
    global _lib
    if _lib is None:
        _lib = ctypes.CDLL(clock.build(_SRC))
    return _lib


class VirtualTlb:
    def __init__(self, uc, mem):
        self.uc = uc
        self.code = np.zeros((mem.size + 0xFFF) >> 12, dtype=np.uint8)
        m = self.m = VMmu()
        m.ram, m.ram_size = mem.address, mem.size
        m.reg_read = ctypes.cast(uclib.uc_reg_read, ctypes.c_void_p).value
        m.ctl = ctypes.cast(uclib.uc_ctl, ctypes.c_void_p).value
        m.ctl_flush = (UC_CTL_IO_WRITE << 30) | UC_CTL_TLB_FLUSH
        m.code = self.code.ctypes.data
        self.watch = np.zeros_like(self.code)
        m.watch = self.watch.ctypes.data
        h = ctypes.c_size_t()
        fn = ctypes.cast(_mmu_lib().mmu_fill, ctypes.c_void_p)
        status = uclib.uc_hook_add(uc._uch, ctypes.byref(h), UC_HOOK_TLB_FILL, fn,
                                   ctypes.cast(ctypes.pointer(m), ctypes.c_void_p),
                                   ctypes.c_uint64(1), ctypes.c_uint64(0))
        if status != 0:
            raise RuntimeError("uc_hook_add(mmu_fill) failed: %d" % status)
        uc.ctl_set_tlb_mode(UC_TLB_VIRTUAL)
        self.walker = False         # unicorn's own walker for one retry

    def fallback(self, err) -> bool:
        if self.walker or err.errno != UC_ERR_EXCEPTION:
            return False
        self.uc.ctl_set_tlb_mode(UC_TLB_CPU)
        self.walker = True
        return True

    def protect(self, pages, on):
        """Watched pages (_mmu.c): `pages` {page number: 1 writes | 2 reads};
        `on`: refuse those accesses (else grant them: memory hooks watch).
        The caller flushes the TLB."""
        self.watch[:] = 0
        for p, bits in pages.items():
            if p < len(self.watch):
                self.watch[p] = bits
        self.m.watch_on = 1 if on and pages else 0

    @property
    def refused_watch(self) -> bool:
        """The refusal fallback() took was a watched page's access."""
        return bool(self.m.refused_watch)

    @property
    def began(self) -> bool:
        """Had the refused instruction begun (a data access), or was it
        being fetched (then no instruction of its block began)?"""
        return self.m.refused_type != UC_MEM_FETCH

    def resume(self):
        if self.walker:
            self.walker = False
            self.uc.ctl_set_tlb_mode(UC_TLB_VIRTUAL)
            self.uc.ctl(UC_CTL_TLB_FLUSH, UC_CTL_IO_WRITE)

    @property
    def stats(self):
        """(fills, refused fills, pages that became code)."""
        return self.m.fills, self.m.refused, self.m.code_pages


class UnicornTlb:
    refused_watch = False

    def fallback(self, err) -> bool:
        return False

    def protect(self, pages, on):
        """Nothing to refuse: with unicorn's walker the memory hooks watch."""

    def resume(self):
        pass


MODES = {"virtual": VirtualTlb, "cpu": lambda uc, mem: UnicornTlb()}
