"""GuestMemory (machine/memory.py): RAM read and written through hand-built
page tables, no unicorn."""
import struct

import pytest
from hypothesis import given, strategies as st

from machine.errors import MemoryFault
from machine.memory import GuestMemory, CR0_PG, CR4_PSE, CR4_PAE

P, W, PS = 1, 2, 0x80
PGDIR, PGTAB = 0x1000, 0x2000
OFF = (0, 0, 0)                       # paging off: identity


@pytest.fixture(scope="module")
def mem():
    return GuestMemory(4 << 20)


@pytest.fixture
def paged(mem):
    """0x00400000 -> 0x5000, 0x00401000 -> 0x3000 (not contiguous),
    0x00402000 not present, 0x00403000 -> beyond RAM; 0xc0000000 is a 4 MiB
    page at 0 (with CR4.PSE)."""
    mem.zero()
    mem.write_phys(PGDIR + 1 * 4, struct.pack("<I", PGTAB | P | W))
    mem.write_phys(PGDIR + 768 * 4, struct.pack("<I", 0 | P | W | PS))
    for i, frame in ((0, 0x5000 | P | W), (1, 0x3000 | P | W), (2, 0),
                     (3, 0x7FF000 | P | W)):
        mem.write_phys(PGTAB + 4 * i, struct.pack("<I", frame))
    return mem, (CR0_PG | 1, PGDIR, CR4_PSE)


def test_paging_off_is_identity(mem):
    mem.zero()
    mem.write_virt(0x1234, b"abc", OFF)
    assert mem.read_phys(0x1234, 3) == b"abc"
    assert mem.translate(0x1234, OFF) == 0x1234
    assert mem.translate(5 << 20, OFF) is None          # beyond 4 MiB of RAM


def test_access_across_pages_follows_each_pte(paged):
    mem, ctl = paged
    mem.write_virt(0x00400FFE, b"WXYZ", ctl)
    assert mem.read_phys(0x5FFE, 2) == b"WX" and mem.read_phys(0x3000, 2) == b"YZ"
    assert mem.read_virt(0x00400FFE, 4, ctl) == b"WXYZ"
    assert mem.translate(0x00401010, ctl) == 0x3010
    assert mem.translate(0xC0001234, ctl) == 0x1234      # the 4 MiB page


def test_fault_names_first_bad_byte_and_writes_nothing(paged):
    mem, ctl = paged
    with pytest.raises(MemoryFault) as e:
        mem.write_virt(0x00401FFE, b"1234", ctl)         # runs into 0x00402000
    assert e.value.addr == 0x00402000
    assert mem.read_phys(0x3FFE, 2) == b"\0\0"
    with pytest.raises(MemoryFault) as e:
        mem.read_virt(0x00403000, 1, ctl)                 # maps outside RAM
    assert e.value.addr == 0x00403000
    assert mem.translate(0x00403000, ctl) is None


def test_pae_and_pse_off(paged):
    mem, (cr0, cr3, _) = paged
    assert mem.translate(0x00400000, (cr0, cr3, CR4_PAE)) is None
    # without PSE the 4 MiB PDE is read as a page-table pointer (frame 0)
    mem.write_phys(0, struct.pack("<I", 0x8000 | P))
    assert mem.translate(0xC0000123, (cr0, cr3, 0)) == 0x8123
    assert mem.translate(0xC0000123, (cr0, cr3, CR4_PSE)) == 0x123


def test_phys_bounds(mem):
    with pytest.raises(MemoryFault) as e:
        mem.read_phys(mem.size - 2, 4)
    assert e.value.addr == mem.size
    with pytest.raises(MemoryFault):
        mem.write_phys(-1, b"x")
    assert mem.read32_or_zero(mem.size - 2) == 0


def test_pf_error_code(paged):
    mem, ctl = paged
    assert mem.pf_error_code(ctl, 0x00402000, write=True, user=False) == 2
    assert mem.pf_error_code(ctl, 0x00400000, write=False, user=True) == 5


@given(st.integers(0, 0x2000 - 64), st.binary(min_size=1, max_size=64))
def test_write_then_read_roundtrip(off, data):
    mem = GuestMemory(4 << 20)
    ctl = (CR0_PG, PGDIR, 0)
    mem.write_phys(PGDIR + 4, struct.pack("<I", PGTAB | P | W))
    mem.write_phys(PGTAB, struct.pack("<II", 0x9000 | P, 0x6000 | P))
    mem.write_virt(0x00400000 + off, data, ctl)
    assert mem.read_virt(0x00400000 + off, len(data), ctl) == data
