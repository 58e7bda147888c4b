"""Intel 8259A programmable interrupt controller, master/slave pair (PC/AT).

Ports: master 0x20 (command) / 0x21 (data), slave 0xa0 / 0xa1.
The slave is cascaded on master IRQ 2, so machine IRQs 8-15 reach the CPU
through master line 2.

Supported: ICW1-ICW4 initialisation (ICW2 = vector base, ICW3 cascade,
ICW4 8086 mode / auto-EOI), OCW1 (IMR read/write), OCW2 non-specific and
specific EOI, OCW3 read IRR / read ISR.  Fixed priority (IRQ 0 highest,
slave lines ranked at master line 2); edge-triggered: raise_irq() latches
the line into IRR until the CPU acknowledges it.  Not supported: rotation,
special mask mode, poll mode, level-triggered mode (ignored).

Contract with the CPU side (cpu.py takes interrupts, machine.py wires the ports):
  raise_irq(n)         an edge on machine IRQ line n (0..15)
  pending() -> bool    an unmasked request outranks everything in service
  acknowledge() -> int the INTA cycle: moves the best request from IRR to
                       ISR (unless auto-EOI) and returns its vector
"""


class PIC8259:
    """One 8259A chip."""

    def __init__(self, name: str):
        self.name = name
        self.reset()

    def reset(self):
        self.irr = 0          # interrupt request register
        self.isr = 0          # in-service register
        self.imr = 0xFF       # interrupt mask register (all masked at reset)
        self.vector_base = 0x08
        self.icw_step = 0     # 0: ready; 2/3/4: expecting that ICW next
        self.icw4_needed = False
        self.single = False
        self.auto_eoi = False
        self.read_isr = False  # OCW3 RR/RIS: what a command-port read returns
        self.cascade = 0       # ICW3 value

    # -- priority ------------------------------------------------------
    @staticmethod
    def _lowest_bit(mask: int):
        if not mask:
            return None
        return (mask & -mask).bit_length() - 1

    def best_request(self):
        """Highest-priority unmasked request that outranks every in-service
        line, or None."""
        req = self._lowest_bit(self.irr & ~self.imr & 0xFF)
        if req is None:
            return None
        serv = self._lowest_bit(self.isr)
        if serv is not None and serv <= req:
            return None
        return req

    # -- port interface --------------------------------------------------
    def write(self, port_off: int, value: int):
        value &= 0xFF
        if port_off == 0:
            if value & 0x10:                      # ICW1
                self.irr = 0
                self.isr = 0
                self.imr = 0
                self.auto_eoi = False
                self.read_isr = False
                self.icw4_needed = bool(value & 0x01)
                self.single = bool(value & 0x02)
                self.icw_step = 2
            elif value & 0x08:                    # OCW3
                if value & 0x02:
                    self.read_isr = bool(value & 0x01)
            else:                                 # OCW2
                cmd = value >> 5
                if cmd == 1:                      # non-specific EOI
                    line = self._lowest_bit(self.isr)
                    if line is not None:
                        self.isr &= ~(1 << line)
                elif cmd == 3:                    # specific EOI
                    self.isr &= ~(1 << (value & 7))
                # rotation commands are not supported (ignored)
        else:
            if self.icw_step == 2:                # ICW2
                self.vector_base = value & 0xF8
                self.icw_step = 4 if self.single else 3
                if self.single and not self.icw4_needed:
                    self.icw_step = 0
            elif self.icw_step == 3:              # ICW3
                self.cascade = value
                self.icw_step = 4 if self.icw4_needed else 0
            elif self.icw_step == 4:              # ICW4
                self.auto_eoi = bool(value & 0x02)
                self.icw_step = 0
            else:                                 # OCW1
                self.imr = value

    def read(self, port_off: int) -> int:
        if port_off == 0:
            return self.isr if self.read_isr else self.irr
        return self.imr


class PICPair:
    """The PC/AT master+slave pair as one device on ports 0x20,0x21,0xa0,0xa1."""

    PORTS = (0x20, 0x21, 0xA0, 0xA1)

    def __init__(self):
        self.master = PIC8259("master")
        self.slave = PIC8259("slave")

    def reset(self):
        self.master.reset()
        self.slave.reset()

    def _sync_cascade(self):
        # The slave's INT output drives master line 2 (edge when it appears).
        if self.slave.best_request() is not None:
            self.master.irr |= 1 << 2

    def raise_irq(self, irq: int):
        if irq >= 8:
            self.slave.irr |= 1 << (irq - 8)
            self._sync_cascade()
        else:
            self.master.irr |= 1 << irq

    def pending(self) -> bool:
        return self.master.best_request() is not None

    def acknowledge(self) -> int:
        """INTA: returns the vector of the best request and marks it in service.
        Must only be called when pending() is true."""
        line = self.master.best_request()
        if line is None:
            raise RuntimeError("PIC acknowledge with nothing pending")
        self.master.irr &= ~(1 << line)
        if not self.master.auto_eoi:
            self.master.isr |= 1 << line
        if line == 2 and not self.master.single:
            sline = self.slave.best_request()
            if sline is None:                     # spurious IRQ 15
                return self.slave.vector_base + 7
            self.slave.irr &= ~(1 << sline)
            if not self.slave.auto_eoi:
                self.slave.isr |= 1 << sline
            self._sync_cascade()
            return self.slave.vector_base + sline
        return self.master.vector_base + line

    def io_write(self, port: int, size: int, value: int):
        chip = self.master if port < 0xA0 else self.slave
        chip.write(port & 1, value)
        if chip is self.slave:
            self._sync_cascade()

    def io_read(self, port: int, size: int) -> int:
        chip = self.master if port < 0xA0 else self.slave
        return chip.read(port & 1)
