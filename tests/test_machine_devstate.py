"""Device save/load (machine/devstate.py): a round trip gives the devices
back as they were, and keeps how they are wired to the machine."""
from machine import devstate
from machine.pic import PICPair
from machine.pit import PIT8253, period_insns
from machine.uart import UART16550


class Wired:
    """PIC + PIT + UART as the machine wires them: the PIT on a settable
    clock, raising IRQ 0; the UART's output collected."""

    def __init__(self):
        self.now = 0
        self.out = bytearray()
        self.pic = PICPair()
        self.pit = PIT8253(now=lambda: self.now, irq=lambda: self.pic.raise_irq(0))
        self.uart = UART16550(self.out.extend)

    def program(self, divisor, mask, scratch):
        for port, val in ((0x20, 0x11), (0x21, 0x20), (0x21, 0x04), (0x21, 0x01),
                          (0x21, mask)):
            self.pic.io_write(port, 1, val)
        self.pit.io_write(0x43, 1, 0x34)            # channel 0, mode 2, lo/hi
        self.pit.io_write(0x40, 1, divisor & 0xFF)
        self.pit.io_write(0x40, 1, divisor >> 8)
        self.uart.io_write(0x3F8 + 7, 1, scratch)

    def observe(self):
        return (self.pic.io_read(0x21, 1), self.pic.master.vector_base,
                self.pit.next_deadline(), self.uart.io_read(0x3F8 + 7, 1),
                self.pic.pending())


def test_round_trip_restores_registers_and_keeps_wiring():
    d = Wired()
    d.program(11932, 0xFE, 0x5A)
    before = d.observe()
    state = devstate.save(d.pic, d.pit, d.uart)
    d.program(1193, 0xFF, 0xA5)                     # everything changes
    d.now = 50
    d.pic.raise_irq(1)
    assert d.observe() != before
    d.now = 0
    devstate.load(state, d.pic, d.pit, d.uart)
    assert d.observe() == before
    # still wired: the PIT's deadline raises IRQ 0 in this PIC, the UART
    # writes to this output
    d.now = d.pit.next_deadline()
    d.pit.advance(d.now)
    assert d.pic.pending() and d.pic.acknowledge() == 0x20
    d.uart.io_write(0x3F8, 1, ord("!"))
    assert d.out == b"!"


def test_state_is_a_copy_and_loads_twice():
    d = Wired()
    d.program(11932, 0xFE, 1)
    state = devstate.save(d.pic, d.pit, d.uart)
    devstate.load(state, d.pic, d.pit, d.uart)
    d.program(2000, 0x00, 2)                        # must not write through into state
    devstate.load(state, d.pic, d.pit, d.uart)
    assert d.observe()[0] == 0xFE and d.observe()[3] == 1
    assert d.pit.next_deadline() == period_insns(11932)
