"""Data watchpoints on virtual addresses (gdb's watch / rwatch / awatch).

unicorn's memory hooks see PHYSICAL addresses, so each watched virtual range
is translated through the guest page tables into physical ranges and one
hook per range is installed (Machine.set_memory_hooks).  Any memory hook
slows the whole machine (unicorn's slow path for every access), so with the
virtual TLB the machine puts them on only while the guest touches a watched
page (machine.py, _mmu.c): an untouched page costs nothing.

Any access that overlaps a watched range is a hit, whatever its width and
alignment.  unicorn calls a memory hook only when the access's START address
lies in the hooked range, so each range is hooked from MAX_ACCESS - 1 bytes
below it (a 4-byte write at jiffies changes the byte at jiffies + 1), and the
callback checks the overlap itself.  An access that crosses a page is
reported once, at the physical address of its first byte: when a watched
range starts within MAX_ACCESS - 1 bytes of a page start, the end of the
physical page that the previous virtual page maps to is hooked too.  Hooks
are physical, so a write through another mapping of the same page is a hit.

A virtual address that is not mapped yet (gdb connected at the reset vector,
paging still off) is hooked at its kernel linear-map alias (vaddr -
PAGE_OFFSET); every hit is confirmed against the page tables of the moment,
so an access through another mapping never reports a false hit, and the
ranges are re-translated at every stop (`refresh`).

Stopping: emu_stop() inside a memory hook would leave the instruction half
executed.  Instead the hook records the hit (its instruction count: the
block clock counts up to the accessing instruction first) and sets the
clock's deadline to the count after it: the accessing instruction completes.
The block clock then stops at the next block start, past the hit when the
instruction was not the last of its block; TimeMachine goes back to just
after it (restore + exact replay, machine/history.py), so the state gdb sees
is exact (it compares old and new values).  A watchpoint costs nothing
while its page is untouched; then its memory hooks (unicorn sends every
access through its slow path while any exists), and a short replay per hit;
never a clock before every instruction.
"""
PAGE_OFFSET = 0xC0000000
PAGE = 0x1000
# Widest single access unicorn reports on i386 (cmpxchg8b, fild/fistp qword;
# wider ones, e.g. fxsave, are split into 8-byte accesses).
MAX_ACCESS = 8

WRITE, READ, ACCESS = "watch", "rwatch", "awatch"   # gdb's stop-reply names
KIND_BY_Z = {2: WRITE, 3: READ, 4: ACCESS}


class Watchpoints:
    def __init__(self, machine):
        self.m = machine
        self.points = {}            # (kind, vaddr, length) -> insert count
        self._ranges = ()
        self.stop_on_hit = True     # False while replaying: only record
        self.hits = []              # (icount of the instruction, kind, vaddr)
        self.record = None          # a list while replaying

    def __bool__(self):
        return bool(self.points)

    def add(self, kind, vaddr, length):
        key = (kind, vaddr & 0xFFFFFFFF, max(1, int(length)))
        self.points[key] = self.points.get(key, 0) + 1
        self.install()

    def remove(self, kind, vaddr, length):
        key = (kind, vaddr & 0xFFFFFFFF, max(1, int(length)))
        n = self.points.get(key, 0)
        if n <= 1:
            self.points.pop(key, None)
        else:
            self.points[key] = n - 1
        self.install()

    def clear(self):
        self.points.clear()
        self.install()

    # ------------------------------------------------------------- hooks
    def _phys(self, va):
        pa = self.m.translate(va)
        if pa is None and va >= PAGE_OFFSET:
            pa = va - PAGE_OFFSET
        return pa

    def _phys_ranges(self):
        """[(hook start, hook end inclusive, write?, read?)] for all watchpoints:
        each physical piece widened to catch accesses that start below it."""
        out = set()
        for kind, va, length in self.points:
            w = kind in (WRITE, ACCESS)
            r = kind in (READ, ACCESS)
            a, end = va, va + length
            while a < end:
                n = min(end - a, PAGE - (a & (PAGE - 1)))
                pa = self._phys(a)
                if pa is not None:
                    lo = pa - (MAX_ACCESS - 1)
                    if (pa & (PAGE - 1)) < MAX_ACCESS - 1:
                        lo = pa & ~(PAGE - 1)
                        prev = self._phys((a & ~(PAGE - 1)) - 1)
                        if prev is not None:    # accesses crossing into this page
                            out.add((prev - (MAX_ACCESS - 2), prev, w, r))
                    out.add((max(0, lo), pa + n - 1, w, r))
                a += n
        return tuple(sorted(out))

    def install(self):
        """(Re)install the hooks for the current set and page tables."""
        ranges = self._phys_ranges()
        if ranges != self._ranges:
            self.m.set_memory_hooks(ranges, self._on_access)
            self._ranges = ranges

    def refresh(self):
        if self.points:
            self.install()

    def _on_access(self, is_write, paddr, size):
        for kind, va, length in self.points:
            if is_write and kind == READ or not is_write and kind == WRITE:
                continue
            if self._overlaps(va, length, paddr, size):
                self._hit(kind, va)
                return

    def _overlaps(self, va, length, paddr, size):
        """Does the access [paddr, paddr + size) touch [va, va + length)?
        Checked through the page tables of the moment (cheap: only accesses
        near a watched range get here).  The part of an access past the end
        of its first physical page lies in the page the next virtual page
        maps to."""
        first_end = min(paddr + size, (paddr | (PAGE - 1)) + 1)
        tail = paddr + size - first_end          # bytes in the next page
        a, end = va, va + length
        while a < end:
            n = min(end - a, PAGE - (a & (PAGE - 1)))
            pa = self.m.translate(a)
            if pa is not None:
                if pa < first_end and paddr < pa + n:
                    return True
                if tail and (pa & (PAGE - 1)) < tail \
                        and self.m.translate((a & ~(PAGE - 1)) - 1) == first_end - 1:
                    return True
            a += n
        return False

    def _hit(self, kind, va):
        hit = (self.m.icount_in_hook() - 1, kind, va)
        if self.record is not None:
            self.record.append(hit)
            return
        self.hits.append(hit)
        if self.stop_on_hit:
            self.m.stop_after_instruction()     # the accessing one completes

    def take_hit(self):
        """The first hit since the last call (or None); clears the stop request."""
        if not self.hits:
            return None
        hit = self.hits[0]
        self.hits.clear()
        self.m.cancel_stop_request()
        return hit
