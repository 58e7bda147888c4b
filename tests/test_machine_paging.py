"""The page-table walker, on hand-built tables in a bytearray (no unicorn)."""
import struct

import pytest
from hypothesis import given, strategies as st

from machine.paging import walk, pf_error_code, PAGE_SIZE, LARGE_PAGE_SIZE

P, W, U, PS = 1, 2, 4, 0x80


class Phys:
    def __init__(self, size=1 << 20):
        self.mem = bytearray(size)

    def read32(self, a):
        return struct.unpack_from("<I", self.mem, a)[0]

    def put32(self, a, v):
        struct.pack_into("<I", self.mem, a, v)


@pytest.fixture
def tables():
    ph = Phys()
    cr3 = 0x1000
    # 0x00400000-0x007fffff via a page table at 0x2000
    ph.put32(cr3 + 1 * 4, 0x2000 | P | W)
    ph.put32(0x2000 + 5 * 4, 0x00ABC000 | P | W | U)   # 0x00405000 -> 0xabc000
    ph.put32(0x2000 + 6 * 4, 0x00DEF000 | P)           # read-only
    ph.put32(0x2000 + 7 * 4, 0x00DEF000)               # not present
    # 0xc0000000 as a 4 MiB page -> 0x01000000
    ph.put32(cr3 + 768 * 4, 0x01000000 | P | W | PS)
    return ph, cr3


def test_4k_page(tables):
    ph, cr3 = tables
    t = walk(ph.read32, cr3, 0x00405123)
    assert t.paddr == 0xABC123 and t.page_size == PAGE_SIZE
    assert t.writable and not t.user          # PDE has no U bit
    assert t.page_end_offset == 0x1000 - 0x123


def test_readonly_and_not_present(tables):
    ph, cr3 = tables
    assert not walk(ph.read32, cr3, 0x00406000).writable
    assert walk(ph.read32, cr3, 0x00407000) is None
    assert walk(ph.read32, cr3, 0x00800000) is None   # PDE not present


def test_4m_pse_page(tables):
    ph, cr3 = tables
    t = walk(ph.read32, cr3, 0xC0123456)
    assert t.paddr == 0x01123456 and t.page_size == LARGE_PAGE_SIZE and t.pte is None


def test_ps_bit_ignored_without_pse(tables):
    ph, cr3 = tables
    # Without CR4.PSE the PDE is a page-table pointer: 0x01000000 + index*4
    # is beyond our 1 MiB bytearray, so the read must go through read32.
    seen = []

    def rd(a):
        seen.append(a)
        return ph.read32(a) if a < len(ph.mem) else 0
    assert walk(rd, cr3, 0xC0123456, pse=False) is None
    assert seen[-1] == 0x01000000 + (0x123 * 4)


def test_pf_error_codes(tables):
    ph, cr3 = tables
    assert pf_error_code(ph.read32, cr3, 0x00407000, True, write=True, user=False) == 0b010
    assert pf_error_code(ph.read32, cr3, 0x00406000, True, write=True, user=False) == 0b011
    assert pf_error_code(ph.read32, cr3, 0x00800000, True, write=False, user=True) == 0b100


@given(st.integers(0, 1023), st.integers(0, 1023), st.integers(0, 4095),
       st.integers(0x100, 0xFFFFF))
def test_walk_matches_formula(pdi, pti, off, frame):
    ph = Phys(0x4000)
    cr3 = 0x1000

    def rd(a):
        if a == cr3 + pdi * 4:
            return 0x2000 | P
        if a == 0x2000 + pti * 4:
            return (frame << 12) | P
        return 0
    v = (pdi << 22) | (pti << 12) | off
    t = walk(rd, cr3, v)
    assert t.paddr == (frame << 12) | off
