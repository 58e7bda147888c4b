"""Pages of guest RAM written since the last arm (machine/_dirty.c): the
first write to each page after arm() faults once and is noted, so finding
them costs what the guest wrote, not a scan of all RAM."""
import ctypes
import os
import weakref

import numpy as np

from . import clock

PAGE = 4096
_lib = None


def _dirty_lib():
    global _lib
    if _lib is None:
        l = ctypes.CDLL(clock.build(os.path.join(os.path.dirname(__file__), "_dirty.c")))
        l.dirty_track.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_void_p]
        l.dirty_track.restype = ctypes.c_int
        for f in (l.dirty_untrack, l.dirty_arm, l.dirty_overflow):
            f.argtypes = [ctypes.c_int]
        l.dirty_untrack.restype = None
        _lib = l
    return _lib


class DirtyPages:
    """Write tracking over `size` bytes of host memory at `ptr` (page
    aligned), kept alive by `owner` (the buffer; untracked when it goes)."""

    def __init__(self, owner, ptr, size):
        self.npages = size // PAGE
        self.bits = np.zeros(self.npages, dtype=np.uint8)
        self.all = True                 # until the first arm: everything
        l = _dirty_lib()
        self.id = l.dirty_track(ptr, size, self.bits.ctypes.data)
        if self.id >= 0:
            weakref.finalize(owner, l.dirty_untrack, self.id)

    def arm(self):
        """From now on, note written pages (and forget the ones before)."""
        self.all = self.id < 0 or _dirty_lib().dirty_arm(self.id) != 0

    def mark_all(self):
        """Memory changed without writes (e.g. madvise zeroing): all pages."""
        self.all = True

    def pages(self):
        """Indexes of the pages written since arm(), or None for 'any'."""
        if self.all or _dirty_lib().dirty_overflow(self.id):
            return None
        return np.flatnonzero(self.bits)
