"""The one list walker and the one log-ring reader, over a memory reader.

Pure Python (no gdb): the gdb helpers (kt.utils, kt.dmesg) call it with
reads through gdb, and the stub (gdbstub/kernelaware) loads this file by
path with reads through the machine, as it loads taskstate.py; gdb's
Python cannot import gdbstub.  Offsets come from the caller (gdb's types,
or the kernel's DWARF), never from here.

`read(addr, size)` returns the bytes, or None when the memory is not
readable (the stub); it may raise instead (gdb.MemoryError in gdb), which
passes through.
"""
import struct

# Bound on list walks, so a corrupt or half-built list cannot loop forever.
MAX_LIST_ENTRIES = 4096


class WalkError(Exception):
    """The structure cannot be read as it should be: one line saying why."""


def read_u32(read, addr):
    data = read(addr & 0xFFFFFFFF, 4)
    if data is None or len(data) != 4:
        raise WalkError(f"0x{addr & 0xFFFFFFFF:x} is not readable")
    return struct.unpack("<I", bytes(data))[0]


def list_nodes(read, head, next_off, prev_off=None, limit=MAX_LIST_ENTRIES):
    """Yield the address of each `struct list_head` on the circular list
    whose head is at `head` (include/linux/list.h), head excluded.

    `next_off`/`prev_off` are the offsets of list_head.next/.prev; with
    `prev_off` every node's prev must point back (a list being changed
    under us, or not initialised, fails instead of wandering memory).
    """
    prev, node, seen = head, read_u32(read, head + next_off), set()
    while node != head:
        if node in seen:
            raise WalkError(f"list at 0x{head:x} loops at 0x{node:x} without coming back "
                            f"to its head: corrupt or changing")
        if node == 0:
            raise WalkError(f"list at 0x{head:x} is not initialised "
                            f"(NULL link after 0x{prev:x})")
        if prev_off is not None and read_u32(read, node + prev_off) != prev:
            raise WalkError(f"list at 0x{head:x} is corrupt or changing: "
                            f"0x{node:x}->prev is not 0x{prev:x}")
        seen.add(node)
        if len(seen) > limit:
            raise WalkError(f"list at 0x{head:x} has more than {limit} entries: corrupt?")
        yield node
        prev, node = node, read_u32(read, node + next_off)


def log_bytes(read, buf, size, end):
    """What the kernel logged, oldest byte first (kernel_src/kernel/printk.c).

    log_buf (at `buf`) is a ring of `size` bytes, a power of two; `end`
    (log_end) counts every byte ever logged, so the ring holds the last
    min(end, size) of them, the oldest at end & (size - 1) once it wrapped.
    """
    if size <= 0 or size & (size - 1):
        raise WalkError(f"log_buf_len is {size}: not set up yet, or not a power of two")
    if end == 0:
        return b""
    data = read(buf, min(end, size))
    if data is None or len(data) != min(end, size):
        raise WalkError("log_buf is not readable")
    return unwrap(bytes(data), end) if end > size else bytes(data)


def unwrap(ring, end):
    """The logged bytes, oldest first, of the whole ring `ring` after `end` writes."""
    size = len(ring)
    if size == 0 or size & (size - 1):
        raise ValueError(f"log buffer length {size} is not a power of two")
    if end <= size:
        return bytes(ring[:end])
    start = end & (size - 1)
    return bytes(ring[start:]) + bytes(ring[:start])
