"""gdb_scripts/kt/walkers.py, the one list walker and log-ring reader the
stub and the gdb helpers share: pure Python over a memory reader, loaded by
path as the stub loads it (gdb's Python cannot import gdbstub)."""
import importlib.util
import os
import struct

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
_spec = importlib.util.spec_from_file_location(
    "kt_walkers", os.path.join(ROOT, "gdb_scripts", "kt", "walkers.py"))
walkers = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(walkers)


class Memory:
    """Little-endian words at addresses; anything else is unreadable (None)."""

    def __init__(self, words=(), data=None):
        self.bytes = {}
        for addr, value in dict(words).items():
            for i, b in enumerate(struct.pack("<I", value)):
                self.bytes[addr + i] = b
        if data is not None:
            for i, b in enumerate(data[1]):
                self.bytes[data[0] + i] = b

    def read(self, addr, size):
        if all(addr + i in self.bytes for i in range(size)):
            return bytes(self.bytes[addr + i] for i in range(size))
        return None


def ring(*nodes, head=0x100):
    """A circular list_head list (next at +0, prev at +4) through `nodes`."""
    chain = [head, *nodes, head]
    words = {}
    for prev, node, nxt in zip(chain, chain[1:], chain[2:] + [chain[1]]):
        words[node] = nxt
        words[node + 4] = prev
    return words


def test_list_nodes_walks_the_ring_in_order():
    mem = Memory(ring(0x200, 0x300, 0x400))
    assert list(walkers.list_nodes(mem.read, 0x100, 0, 4)) == [0x200, 0x300, 0x400]
    assert list(walkers.list_nodes(Memory(ring()).read, 0x100, 0, 4)) == []


def test_list_nodes_refuses_broken_lists():
    words = ring(0x200, 0x300)
    words[0x300 + 4] = 0x999                        # prev does not point back
    with pytest.raises(walkers.WalkError, match="0x300->prev is not 0x200"):
        list(walkers.list_nodes(Memory(words).read, 0x100, 0, 4))
    assert list(walkers.list_nodes(Memory(words).read, 0x100, 0)) == [0x200, 0x300]
    words[0x200] = 0                                # a NULL link
    with pytest.raises(walkers.WalkError, match="not initialised"):
        list(walkers.list_nodes(Memory(words).read, 0x100, 0, 4))
    loop = {0x100: 0x200, 0x200: 0x300, 0x300: 0x200}   # never back to the head
    with pytest.raises(walkers.WalkError, match="loops at 0x200"):
        list(walkers.list_nodes(Memory(loop).read, 0x100, 0))
    with pytest.raises(walkers.WalkError, match="more than 1 entries"):
        list(walkers.list_nodes(Memory(ring(0x200, 0x300)).read, 0x100, 0, 4, limit=1))
    with pytest.raises(walkers.WalkError, match="0x200 is not readable"):
        list(walkers.list_nodes(Memory({0x100: 0x200}).read, 0x100, 0))


def test_log_bytes_unwraps_the_ring():
    logged = b"".join(b"line %02d\n" % i for i in range(9))[:70]
    buf = bytearray(64)
    for i, c in enumerate(logged):
        buf[i % 64] = c
    mem = Memory(data=(0x1000, bytes(buf)))
    assert walkers.log_bytes(mem.read, 0x1000, 64, 70) == logged[6:]
    assert walkers.log_bytes(mem.read, 0x1000, 64, 5) == logged[64:69]   # not wrapped yet
    assert walkers.log_bytes(mem.read, 0x1000, 64, 0) == b""
    with pytest.raises(walkers.WalkError, match="log_buf_len is 48"):
        walkers.log_bytes(mem.read, 0x1000, 48, 70)
    with pytest.raises(walkers.WalkError, match="not readable"):
        walkers.log_bytes(mem.read, 0x2000, 64, 70)
    assert walkers.unwrap(b"89abcdef01234567", 24) == b"0123456789abcdef"
