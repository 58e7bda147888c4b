"""Unit tests for the pure SMP devices: the local APIC model (machine/lapic.py)
and the MP table bytes (machine/mptable.py), read back by a parser written
here from the MP spec 1.4, not from mptable's own structures."""
import struct

import pytest

from machine import lapic as L
from machine.mptable import build, FLOATING_AT


class Clock:
    def __init__(self):
        self.t = 0

    def __call__(self):
        return self.t


def make(apic_id=0):
    clock, sent = Clock(), []
    a = L.LocalAPIC(apic_id, clock, lambda *ipi: sent.append(ipi))
    return a, clock, sent


def enabled(apic_id=0):
    a, clock, sent = make(apic_id)
    a.write(L.SVR, 0x1FF)
    return a, clock, sent


# ---------------------------------------------------------------- registers
def test_reset_state():
    a, _, _ = make(3)
    assert a.read(L.ID) == 3 << 24
    assert a.read(L.VERSION) & 0xFF == 0x14
    assert a.read(L.SVR) == 0xFF and not a.enabled
    assert a.read(L.LVT_TIMER) & L.LVT_MASKED
    assert a.read(L.TIMER_CURRENT) == 0 and a.next_deadline() is None
    assert a.read(0x80) == 0            # not modelled (TPR): reads 0


def test_disabled_apic_takes_no_fixed_interrupt():
    a, _, _ = make()
    a.accept(0x40)
    assert not a.pending()
    a.write(L.SVR, 0x100 | 0xFF)
    a.accept(0x40)
    assert a.pending() and a.acknowledge() == 0x40


def test_priority_classes_isr_and_eoi():
    a, _, _ = enabled()
    a.accept(0x31)
    a.accept(0x51)
    assert a.acknowledge() == 0x51      # highest first
    assert not a.pending()              # 0x31 is in a lower class than 0x51
    a.accept(0x55)
    assert not a.pending()              # same class as the one in service
    a.accept(0x61)
    assert a.pending() and a.acknowledge() == 0x61
    a.write(L.EOI, 0)                   # ends 0x61
    assert a.isr == 1 << 0x51
    a.write(L.EOI, 0)                   # ends 0x51
    assert a.pending() and a.acknowledge() == 0x55
    a.write(L.EOI, 0)
    assert a.pending() and a.acknowledge() == 0x31


# --------------------------------------------------------------------- IPIs
def test_icr_fixed_ipi_goes_to_the_destination_in_icr_high():
    a, _, sent = enabled(0)
    a.write(L.ICR_HIGH, 2 << 24)
    assert sent == []                   # only the low word sends
    a.write(L.ICR_LOW, 0x4000 | 0xFD)   # fixed, level assert, vector 0xFD
    assert sent == [(L.MODE_FIXED, 0xFD, 2, L.SHORTHAND_NONE, 0)]
    assert not a.read(L.ICR_LOW) & (1 << 12)    # delivered at once: idle
    assert a.read(L.ICR_HIGH) == 2 << 24


def test_init_startup_and_init_deassert():
    a, _, sent = enabled(0)
    a.write(L.ICR_HIGH, 1 << 24)
    a.write(L.ICR_LOW, 0xC500)          # INIT, level assert
    a.write(L.ICR_LOW, 0x8500)          # INIT level de-assert: nothing happens
    a.write(L.ICR_LOW, 0x0600 | 0x09)   # STARTUP, vector 9: start at 0x9000
    assert sent == [(L.MODE_INIT, 0, 1, 0, 0), (L.MODE_STARTUP, 9, 1, 0, 0)]


def test_shorthand_and_unmodelled_modes():
    a, _, sent = enabled(1)
    a.write(L.ICR_LOW, (3 << 18) | 0xFD)        # all excluding self
    a.write(L.ICR_LOW, (4 << 8) | 0x02)         # NMI: not modelled
    a.write(L.ICR_LOW, L.ICR_LOGICAL | 0x40)    # logical destination: not modelled
    assert sent == [(L.MODE_FIXED, 0xFD, 0, L.SHORTHAND_OTHERS, 1)]


# -------------------------------------------------------------------- timer
@pytest.mark.parametrize("value,div", [(0x0, 2), (0x1, 4), (0x2, 8), (0x3, 16),
                                       (0x8, 32), (0x9, 64), (0xA, 128), (0xB, 1)])
def test_divide_configuration(value, div):
    assert L.divider(value) == div


def test_one_shot_timer_counts_virtual_time():
    a, clock, _ = enabled()
    a.write(L.TIMER_DIVIDE, 0xB)                # divide by 1
    a.write(L.LVT_TIMER, 0x30)                  # one-shot, vector 0x30, unmasked
    clock.t = 100
    a.write(L.TIMER_INITIAL, 1000)
    assert a.next_deadline() == 1100
    clock.t = 600
    assert a.read(L.TIMER_CURRENT) == 500
    a.advance(1099)
    assert not a.pending()
    a.advance(1100)
    assert a.pending() and a.acknowledge() == 0x30
    assert a.next_deadline() is None
    clock.t = 5000
    assert a.read(L.TIMER_CURRENT) == 0
    a.advance(5000)
    assert not a.pending()


def test_periodic_timer_with_divider_and_stop():
    a, clock, _ = enabled()
    a.write(L.TIMER_DIVIDE, 0x3)                # divide by 16
    a.write(L.LVT_TIMER, L.LVT_PERIODIC | 0xEF)
    a.write(L.TIMER_INITIAL, 100)               # at t=0: every 1600
    assert a.next_deadline() == 1600
    a.advance(3200)                             # two edges, one IRR bit
    assert a.next_deadline() == 4800
    assert a.acknowledge() == 0xEF
    clock.t = 4000
    assert a.read(L.TIMER_CURRENT) == 100 - (4000 // 16) % 100
    a.write(L.TIMER_INITIAL, 0)                 # stops it
    assert a.next_deadline() is None and a.read(L.TIMER_CURRENT) == 0


def test_masked_timer_passes_its_edges_without_an_interrupt():
    a, _, _ = enabled()
    a.write(L.TIMER_DIVIDE, 0xB)
    a.write(L.LVT_TIMER, L.LVT_MASKED | L.LVT_PERIODIC | 0x30)
    a.write(L.TIMER_INITIAL, 10)
    a.advance(35)
    assert not a.pending() and a.next_deadline() == 40


def test_disabling_the_apic_masks_its_timer():
    a, _, _ = enabled()
    a.write(L.LVT_TIMER, 0x30)
    a.write(L.SVR, 0xFF)
    assert a.read(L.LVT_TIMER) & L.LVT_MASKED


def test_save_load_and_reset():
    a, clock, _ = enabled(2)
    a.write(L.LVT_TIMER, L.LVT_PERIODIC | 0x30)
    a.write(L.TIMER_INITIAL, 50)
    a.accept(0x44)
    saved = a.save()
    a.acknowledge()
    a.write(L.TIMER_INITIAL, 0)
    a.load(saved)
    assert a.pending() and a.next_deadline() == 100
    a.reset()
    assert a.read(L.ID) == 2 << 24 and not a.pending() and a.next_deadline() is None


# ----------------------------------------------------------------- MP table
def parse_mp(mem, base=0):
    """MP spec 1.4, section 4: find `_MP_` on a 16-byte boundary in the BIOS
    ROM area with a zero checksum, follow its pointer to `PCMP`, check that
    checksum, walk the entries (processor: 20 bytes, others: 8).  Returns
    (local APIC address, [(apic id, flags)])."""
    for addr in range(0xF0000, 0x100000, 16):
        off = addr - base
        if mem[off:off + 4] == b"_MP_" and sum(mem[off:off + 16]) & 0xFF == 0:
            break
    else:
        return None
    assert mem[off + 8] == 1                    # length in 16-byte paragraphs
    assert mem[off + 11] == 0                   # feature 1: a table, no default config
    table = struct.unpack_from("<I", mem, off + 4)[0] - base
    assert mem[table:table + 4] == b"PCMP"
    length = struct.unpack_from("<H", mem, table + 4)[0]
    assert sum(mem[table:table + length]) & 0xFF == 0
    count = struct.unpack_from("<H", mem, table + 34)[0]
    lapic = struct.unpack_from("<I", mem, table + 36)[0]
    cpus, p = [], table + 44
    for _ in range(count):
        if mem[p] == 0:
            cpus.append((mem[p + 1], mem[p + 3]))
            p += 20
        else:
            p += 8
    assert p == table + length
    return lapic, cpus


@pytest.mark.parametrize("n", [1, 2, 4])
def test_mp_table_read_back_by_an_independent_parser(n):
    at, blob = build(n)
    bios = bytearray(0x10000)                   # 0xF0000-0xFFFFF
    bios[at - 0xF0000:at - 0xF0000 + len(blob)] = blob
    lapic, cpus = parse_mp(bios, base=0xF0000)
    assert lapic == 0xFEE00000
    assert cpus == [(0, 3)] + [(k, 1) for k in range(1, n)]


def test_mp_table_absent_from_a_blank_bios_area():
    assert parse_mp(bytearray(0x10000), base=0xF0000) is None


@pytest.mark.parametrize("kw", [{"cpus": 0}, {"cpus": 256}, {"cpus": 2, "at": FLOATING_AT + 4},
                                {"cpus": 2, "at": 0xE0000}])
def test_mp_table_bad_arguments(kw):
    with pytest.raises(ValueError):
        build(**kw)
