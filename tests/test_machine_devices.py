"""Unit tests for the pure device models: 8259A PIC pair, 8253 PIT, 16550 UART."""
import pytest

from machine.pic import PICPair
from machine.pit import PIT8253, period_insns, INSNS_PER_SECOND, PIT_HZ
from machine.uart import UART16550


def init_pics(p, master_mask=0x00, slave_mask=0x00):
    """The Linux/xv6 sequence: ICW1 0x11, ICW2 0x20/0x28, ICW3 4/2, ICW4 1."""
    for port, val in ((0x20, 0x11), (0xA0, 0x11), (0x21, 0x20), (0xA1, 0x28),
                      (0x21, 0x04), (0xA1, 0x02), (0x21, 0x01), (0xA1, 0x01),
                      (0x21, master_mask), (0xA1, slave_mask)):
        p.io_write(port, 1, val)


def test_pic_reset_state_masks_everything():
    p = PICPair()
    p.raise_irq(0)
    assert not p.pending()
    assert p.io_read(0x21, 1) == 0xFF


def test_pic_remap_and_vectors():
    p = PICPair()
    init_pics(p)
    assert p.master.vector_base == 0x20 and p.slave.vector_base == 0x28
    p.raise_irq(1)
    assert p.pending()
    assert p.acknowledge() == 0x21
    assert p.master.isr == 0b10 and p.master.irr == 0


def test_pic_ocw1_mask_and_unmask():
    p = PICPair()
    init_pics(p, master_mask=0xFE)
    assert p.io_read(0x21, 1) == 0xFE
    p.raise_irq(3)
    assert not p.pending()          # masked: stays in IRR
    assert p.master.irr & 0b1000
    p.io_write(0x21, 1, 0xF6)       # unmask 3
    assert p.pending()
    assert p.acknowledge() == 0x23


def test_pic_priority_and_eoi():
    p = PICPair()
    init_pics(p)
    p.raise_irq(4)
    p.raise_irq(1)
    assert p.acknowledge() == 0x21   # lower line number wins
    assert not p.pending()           # 4 waits while 1 is in service
    p.raise_irq(0)
    assert p.pending()               # 0 outranks 1: nests
    assert p.acknowledge() == 0x20
    p.io_write(0x20, 1, 0x20)        # non-specific EOI clears the highest (0)
    assert p.master.isr == 0b10
    assert not p.pending()
    p.io_write(0x20, 1, 0x20)        # EOI for 1
    assert p.master.isr == 0
    assert p.acknowledge() == 0x24


def test_pic_specific_eoi_and_ocw3_reads():
    p = PICPair()
    init_pics(p)
    p.raise_irq(5)
    p.raise_irq(6)
    p.io_write(0x20, 1, 0x0A)        # OCW3: read IRR
    assert p.io_read(0x20, 1) == 0x60
    p.acknowledge()
    p.io_write(0x20, 1, 0x0B)        # OCW3: read ISR
    assert p.io_read(0x20, 1) == 0x20
    p.io_write(0x20, 1, 0x65)        # specific EOI line 5
    assert p.io_read(0x20, 1) == 0


def test_pic_slave_cascade():
    p = PICPair()
    init_pics(p)
    p.raise_irq(12)
    assert p.pending()
    assert p.acknowledge() == 0x2C
    assert p.master.isr == 0b100 and p.slave.isr == 0b10000
    p.io_write(0xA0, 1, 0x20)
    p.io_write(0x20, 1, 0x20)
    assert p.master.isr == 0 and p.slave.isr == 0


def test_pic_slave_masked_by_master_line2():
    p = PICPair()
    init_pics(p, master_mask=0x04)
    p.raise_irq(9)
    assert not p.pending()


class FakeTime:
    def __init__(self):
        self.t = 0
        self.irqs = 0

    def now(self):
        return self.t

    def irq(self):
        self.irqs += 1


def program_pit(pit, mode, divisor):
    pit.io_write(0x43, 1, 0x30 | (mode << 1))
    pit.io_write(0x40, 1, divisor & 0xFF)
    pit.io_write(0x40, 1, divisor >> 8)


def test_pit_hz100_is_100k_instructions():
    # 11932 * 10e6 / 1193182 = 100001.5 -> 100001 instructions per tick
    assert period_insns(11932) == 11932 * INSNS_PER_SECOND // PIT_HZ == 100001


@pytest.mark.parametrize("mode", [2, 3])
def test_pit_periodic_modes(mode):
    ft = FakeTime()
    pit = PIT8253(ft.now, ft.irq)
    assert pit.next_deadline() is None
    ft.t = 500
    program_pit(pit, mode, 11932)
    per = period_insns(11932)
    assert pit.next_deadline() == 500 + per
    pit.advance(500 + per - 1)
    assert ft.irqs == 0
    pit.advance(500 + per)
    assert ft.irqs == 1
    assert pit.next_deadline() == 500 + 2 * per
    pit.advance(500 + 4 * per + 10)  # catches up edge by edge
    assert ft.irqs == 4
    assert pit.next_deadline() == 500 + 5 * per


def test_pit_mode0_one_shot_and_divisor_zero():
    ft = FakeTime()
    pit = PIT8253(ft.now, ft.irq)
    program_pit(pit, 0, 0)           # 0 means 65536
    assert pit.next_deadline() == period_insns(0x10000)
    pit.advance(10 ** 9)
    assert ft.irqs == 1 and pit.next_deadline() is None


def test_pit_latch_read_counts_down():
    ft = FakeTime()
    pit = PIT8253(ft.now, ft.irq)
    program_pit(pit, 2, 1000)
    ft.t = period_insns(1000) // 2
    pit.io_write(0x43, 1, 0x00)      # latch channel 0
    ft.t += 50                       # the latch holds the value
    lo = pit.io_read(0x40, 1)
    hi = pit.io_read(0x40, 1)
    count = lo | hi << 8
    assert 495 <= count <= 505


def test_pit_reprogramming_stops_channel0():
    ft = FakeTime()
    pit = PIT8253(ft.now, ft.irq)
    program_pit(pit, 2, 11932)
    pit.io_write(0x43, 1, 0x34)
    assert pit.next_deadline() is None


def test_uart_output_and_registers():
    out = []
    u = UART16550(out.append)
    for ch in b"ok\n":
        u.io_write(0x3F8, 1, ch)
    assert b"".join(out) == b"ok\n"
    assert u.io_read(0x3FD, 1) & 0x60 == 0x60   # LSR: THR empty, TEMT
    u.io_write(0x3F9, 1, 0x00)                  # IER
    u.io_write(0x3FB, 1, 0x80)                  # DLAB on
    u.io_write(0x3F8, 1, 0x03)                  # DLL (38400 baud), not output
    u.io_write(0x3F9, 1, 0x00)                  # DLM
    assert u.io_read(0x3F8, 1) == 0x03 and u.dll == 3
    u.io_write(0x3FB, 1, 0x03)                  # 8N1, DLAB off
    assert u.io_read(0x3FB, 1) == 0x03
    assert b"".join(out) == b"ok\n"
    u.io_write(0x3FF, 1, 0x5A)
    assert u.io_read(0x3FF, 1) == 0x5A
    assert u.io_read(0x3FA, 1) & 1 == 1         # IIR: no interrupt pending
