"""Local APIC, one per CPU (xAPIC MMIO at 0xFEE00000), the subset our kernel uses.

No unicorn here: each CPU (machine/cpu.py) maps the page into its engine
and calls read()/write() with the offset; the APIC reaches the other CPUs
only through the `send_ipi(mode, vector, dest, shorthand, source_id)`
callback it is given (machine/smp.py routes it).

Registers (offset: meaning; others read 0 and ignore writes):
  0x020 ID (bits 24-31)          0x030 version (read only: 0x14, 6 LVT entries)
  0x0B0 EOI (write: the highest in-service vector is done)
  0x0F0 SVR (bit 8: APIC software enable; reset 0xFF)
  0x300 ICR low: vector 0-7, delivery mode 8-10 (0 fixed, 5 INIT, 6 STARTUP),
        level 14, trigger 15, shorthand 18-19 (0 none, 1 self, 2 all, 3 others);
        writing it sends the IPI; delivery status (bit 12) always reads idle:
        delivery is instantaneous
  0x310 ICR high: destination APIC id (bits 24-31), physical mode only
  0x320 LVT timer: vector 0-7, mask 16 (set at reset), periodic 17
  0x380 timer initial count (writing starts the count, 0 stops it)
  0x390 timer current count (read only)
  0x3E0 timer divide configuration (bits 0,1,3: 2,4,8,16,32,64,128,1)

Virtual time.  The timer counts machine virtual time (the icount the `now`
callback returns, the same clock as the PIT's): one bus clock per
instruction, so a count of C with divide D fires after C*D instructions.
It counts whether or not its CPU runs (a halted CPU wakes on it), and the
same run always fires it at the same icount.

Interrupt acceptance (fixed delivery, from the timer or an IPI): the vector
is latched in IRR; pending() says whether the highest IRR vector's priority
class (vector >> 4) is above the highest in-service one's; acknowledge()
moves it to ISR; EOI clears the highest ISR vector.  While the APIC is
software-disabled (SVR bit 8 clear, as at reset) fixed interrupts are not
accepted and the timer does not fire; INIT and STARTUP are the CPU's
business (machine/cpu.py: init(), start_ap()), never latched here.  Not
modelled: TPR/PPR, logical destinations, NMI/SMI/ExtINT, LINT0/1, error and
thermal LVTs.

Contract with the run loop (as pit.py's):
  next_deadline() -> int | None   absolute icount of the next timer edge
  advance(icount)                 fire every edge with deadline <= icount
"""
import logging

log = logging.getLogger("machine.lapic")

BASE = 0xFEE00000
SIZE = 0x1000

ID, VERSION, EOI, SVR = 0x20, 0x30, 0xB0, 0xF0
ICR_LOW, ICR_HIGH = 0x300, 0x310
LVT_TIMER, TIMER_INITIAL, TIMER_CURRENT, TIMER_DIVIDE = 0x320, 0x380, 0x390, 0x3E0

VERSION_VALUE = 0x00050014      # version 0x14 (integrated APIC), max LVT entry 5
SVR_ENABLE = 1 << 8
LVT_MASKED = 1 << 16
LVT_PERIODIC = 1 << 17

MODE_FIXED, MODE_INIT, MODE_STARTUP = 0, 5, 6
SHORTHAND_NONE, SHORTHAND_SELF, SHORTHAND_ALL, SHORTHAND_OTHERS = 0, 1, 2, 3
ICR_LEVEL_ASSERT = 1 << 14
ICR_TRIGGER_LEVEL = 1 << 15
ICR_LOGICAL = 1 << 11

_DIVIDERS = (2, 4, 8, 16, 32, 64, 128, 1)


def divider(value: int) -> int:
    """The timer divide configuration register's divisor (bits 0, 1 and 3)."""
    return _DIVIDERS[(value & 3) | ((value >> 1) & 4)]


class LocalAPIC:
    def __init__(self, apic_id: int, now, send_ipi):
        self.apic_id = apic_id
        self._now = now                 # () -> machine icount
        self._send_ipi = send_ipi       # (mode, vector, dest, shorthand, source_id)
        self.reset()

    def reset(self):
        """The state after power-on or INIT."""
        self.svr = 0xFF
        self.irr = 0                    # 256-bit request and in-service sets
        self.isr = 0
        self.icr_low = 0
        self.icr_high = 0
        self.lvt_timer = LVT_MASKED
        self.divide = 0                 # divide by 2
        self.initial = 0
        self.start = None               # icount when the count was (re)loaded
        self.fired = 0                  # periods already fired since start

    @property
    def enabled(self) -> bool:
        return bool(self.svr & SVR_ENABLE)

    # ------------------------------------------------------------ timer
    def _period(self):
        return self.initial * divider(self.divide)

    def next_deadline(self):
        """Absolute icount of the next timer edge, or None (stopped, or a
        one-shot that has fired)."""
        if self.start is None or self.initial == 0:
            return None
        if not self.lvt_timer & LVT_PERIODIC and self.fired:
            return None
        return self.start + (self.fired + 1) * self._period()

    def advance(self, icount: int):
        """Fire every timer edge due at or before icount."""
        while True:
            d = self.next_deadline()
            if d is None or d > icount:
                return
            self.fired += 1
            if self.enabled and not self.lvt_timer & LVT_MASKED:
                self.accept(self.lvt_timer & 0xFF)

    def current_count(self) -> int:
        if self.start is None or self.initial == 0:
            return 0
        elapsed = (self._now() - self.start) // divider(self.divide)
        if self.lvt_timer & LVT_PERIODIC:
            return self.initial - elapsed % self.initial
        return max(0, self.initial - elapsed)

    # ------------------------------------------------------- interrupts
    def accept(self, vector: int):
        """A fixed interrupt for this CPU (from its timer or an IPI)."""
        if self.enabled and vector >= 16:
            self.irr |= 1 << vector

    def pending(self) -> bool:
        """The highest request outranks (by priority class) all in service."""
        if not self.irr:
            return False
        if not self.isr:
            return True
        return (self.irr.bit_length() - 1) >> 4 > (self.isr.bit_length() - 1) >> 4

    def acknowledge(self) -> int:
        """INTA: the highest requested vector goes in service; it returns it."""
        v = self.irr.bit_length() - 1
        if v < 0:
            raise RuntimeError("local APIC acknowledge with nothing pending")
        self.irr &= ~(1 << v)
        self.isr |= 1 << v
        return v

    def _eoi(self):
        if self.isr:
            self.isr &= ~(1 << (self.isr.bit_length() - 1))

    # ---------------------------------------------------------- registers
    def read(self, offset: int) -> int:
        offset &= 0xFF0
        if offset == ID:
            return self.apic_id << 24
        if offset == VERSION:
            return VERSION_VALUE
        if offset == SVR:
            return self.svr
        if offset == ICR_LOW:
            return self.icr_low & ~(1 << 12)        # delivery status: idle
        if offset == ICR_HIGH:
            return self.icr_high
        if offset == LVT_TIMER:
            return self.lvt_timer
        if offset == TIMER_INITIAL:
            return self.initial
        if offset == TIMER_CURRENT:
            return self.current_count()
        if offset == TIMER_DIVIDE:
            return self.divide
        return 0

    def write(self, offset: int, value: int):
        offset &= 0xFF0
        value &= 0xFFFFFFFF
        if offset == EOI:
            self._eoi()
        elif offset == SVR:
            self.svr = value & 0x1FF
            if not self.enabled:
                self.lvt_timer |= LVT_MASKED
        elif offset == ICR_HIGH:
            self.icr_high = value & 0xFF000000
        elif offset == ICR_LOW:
            self.icr_low = value & 0x000CDFFF
            self._send()
        elif offset == LVT_TIMER:
            if not self.enabled:
                value |= LVT_MASKED
            self.lvt_timer = value & (0xFF | LVT_MASKED | LVT_PERIODIC)
        elif offset == TIMER_INITIAL:
            self.initial = value
            self.start = self._now() if value else None
            self.fired = 0
        elif offset == TIMER_DIVIDE:
            if self.start is not None:      # keep the count: restart from it
                self.initial, self.start, self.fired = self.current_count(), self._now(), 0
            self.divide = value & 0xB

    def _send(self):
        low = self.icr_low
        mode = (low >> 8) & 7
        if mode == MODE_INIT and not low & ICR_LEVEL_ASSERT and low & ICR_TRIGGER_LEVEL:
            return                          # INIT level de-assert: no effect
        if mode not in (MODE_FIXED, MODE_INIT, MODE_STARTUP):
            log.info("APIC %d: IPI delivery mode %d is not modelled (ignored)",
                     self.apic_id, mode)
            return
        if low & ICR_LOGICAL:
            log.info("APIC %d: logical destination mode is not modelled (ignored)",
                     self.apic_id)
            return
        self._send_ipi(mode, low & 0xFF, self.icr_high >> 24, (low >> 18) & 3,
                       self.apic_id)

    # ------------------------------------------------------ save / load
    _STATE = ("apic_id", "svr", "irr", "isr", "icr_low", "icr_high", "lvt_timer",
              "divide", "initial", "start", "fired")

    def save(self) -> tuple:
        return tuple(getattr(self, f) for f in self._STATE)

    def load(self, state: tuple):
        for f, v in zip(self._STATE, state):
            setattr(self, f, v)
