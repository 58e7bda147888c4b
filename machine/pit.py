"""Intel 8253/8254 programmable interval timer, channel 0 -> IRQ 0.

Virtual time.  The machine has no wall clock: time is the instruction count
(`icount`).  We define the guest CPU to run INSNS_PER_SECOND = 10,000,000
instructions per virtual second, so one input clock of the PIT
(PIT_HZ = 1,193,182 Hz) lasts 10e6/1.193182e6 ~= 8.38 instructions and a
divisor D fires IRQ 0 every
        period(D) = D * INSNS_PER_SECOND // PIT_HZ      instructions
(integer arithmetic, so it is exact and the same on every host).  The
kernel's HZ=100 divisor 11932 gives one tick per 100,001 instructions.

Ports: 0x40-0x42 channel data, 0x43 mode/command.  Channel 0 supports modes
2 (rate generator) and 3 (square wave), both periodic with period(D), and
mode 0 (one shot); lobyte, hibyte and lobyte/hibyte access; the counter
latch command.  Channels 1 and 2 store their programming but never fire.

Contract with the run loop (machine.py):
  next_deadline() -> int | None   absolute icount of the next IRQ 0 edge
  advance(icount)                 fire every edge with deadline <= icount
                                  through the `irq` callback
The PIT reads the current time only through the `now` callback.
"""

INSNS_PER_SECOND = 10_000_000
PIT_HZ = 1_193_182


def period_insns(divisor: int) -> int:
    """Instructions between two IRQ 0 edges for a channel divisor (0 = 65536)."""
    if divisor == 0:
        divisor = 0x10000
    return max(1, divisor * INSNS_PER_SECOND // PIT_HZ)


class _Channel:
    def __init__(self):
        self.mode = 0
        self.access = 3          # 1 lobyte, 2 hibyte, 3 lobyte/hibyte
        self.divisor = 0x10000
        self.write_low = None    # low byte seen, waiting for the high one
        self.read_high = False   # next read returns the high byte
        self.latched = None
        self.start = None        # icount when counting started
        self.armed = False


class PIT8253:
    PORTS = (0x40, 0x41, 0x42, 0x43)

    def __init__(self, now, irq):
        self._now = now          # () -> current icount
        self._irq = irq          # () -> raise IRQ 0
        self.reset()

    def reset(self):
        self.ch = [_Channel() for _ in range(3)]
        self.next_tick = None    # absolute icount of the next channel 0 edge

    # -- time ------------------------------------------------------------
    def next_deadline(self):
        return self.next_tick

    def advance(self, icount: int):
        c = self.ch[0]
        while self.next_tick is not None and self.next_tick <= icount:
            self._irq()
            if c.mode in (2, 3):
                self.next_tick += period_insns(c.divisor)
            else:                       # mode 0: one shot
                self.next_tick = None

    def _start(self, idx: int, divisor: int):
        c = self.ch[idx]
        c.divisor = divisor or 0x10000
        c.start = self._now()
        c.armed = True
        if idx == 0:
            self.next_tick = c.start + period_insns(c.divisor)

    def _count(self, idx: int) -> int:
        c = self.ch[idx]
        if c.start is None:
            return c.divisor & 0xFFFF
        elapsed = (self._now() - c.start) * PIT_HZ // INSNS_PER_SECOND
        if c.mode in (2, 3):
            return (c.divisor - elapsed % c.divisor) & 0xFFFF
        return max(0, c.divisor - elapsed) & 0xFFFF

    # -- ports -----------------------------------------------------------
    def io_write(self, port: int, size: int, value: int):
        value &= 0xFF
        if port == 0x43:
            idx = value >> 6
            if idx == 3:                # read-back (8254): not supported
                return
            c = self.ch[idx]
            access = (value >> 4) & 3
            if access == 0:             # counter latch
                c.latched = self._count(idx)
                c.read_high = False
                return
            c.access = access
            c.mode = (value >> 1) & 7
            if c.mode > 5:
                c.mode &= 3
            c.write_low = None
            c.read_high = False
            if idx == 0:                # reprogramming stops the count
                self.next_tick = None
            return
        idx = port - 0x40
        c = self.ch[idx]
        if c.access == 1:
            self._start(idx, value)
        elif c.access == 2:
            self._start(idx, value << 8)
        elif c.write_low is None:
            c.write_low = value
        else:
            self._start(idx, c.write_low | (value << 8))
            c.write_low = None

    def io_read(self, port: int, size: int) -> int:
        if port == 0x43:
            return 0xFF
        idx = port - 0x40
        c = self.ch[idx]
        val = c.latched if c.latched is not None else self._count(idx)
        if c.access == 1:
            c.latched = None
            return val & 0xFF
        if c.access == 2:
            c.latched = None
            return (val >> 8) & 0xFF
        if not c.read_high:
            c.read_high = True
            return val & 0xFF
        c.read_high = False
        c.latched = None
        return (val >> 8) & 0xFF
