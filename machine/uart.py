"""16550A UART, COM1 at 0x3f8-0x3ff: transmit-only console.

Contract: a byte written to THR (offset 0, DLAB=0) is passed at once to the
`output(bytes)` callback.  LSR (offset 5) always reads 0x60 (THR empty,
transmitter empty): the guest never waits.  No input: RBR reads 0 and LSR
never reports data ready.  IER, LCR, MCR, SCR, DLL/DLM (DLAB=1) are stored
and read back; IIR reads 0x01 (no interrupt pending) or 0xc1 with FIFOs on.
The UART never raises an IRQ.
"""

LSR_THRE = 0x20
LSR_TEMT = 0x40


class UART16550:
    BASE = 0x3F8
    PORTS = tuple(range(0x3F8, 0x400))

    def __init__(self, output, base: int = 0x3F8):
        self.output = output
        self.base = base
        self.PORTS = tuple(range(base, base + 8))
        self.reset()

    def reset(self):
        self.ier = 0
        self.lcr = 0x03
        self.mcr = 0
        self.scr = 0
        self.dll = 0x01
        self.dlm = 0
        self.fcr = 0

    @property
    def dlab(self) -> bool:
        return bool(self.lcr & 0x80)

    def io_write(self, port: int, size: int, value: int):
        off = port - self.base
        value &= 0xFF
        if off == 0:
            if self.dlab:
                self.dll = value
            else:
                self.output(bytes((value,)))
        elif off == 1:
            if self.dlab:
                self.dlm = value
            else:
                self.ier = value & 0x0F
        elif off == 2:
            self.fcr = value
        elif off == 3:
            self.lcr = value
        elif off == 4:
            self.mcr = value
        elif off == 7:
            self.scr = value
        # LSR/MSR writes are ignored

    def io_read(self, port: int, size: int) -> int:
        off = port - self.base
        if off == 0:
            return self.dll if self.dlab else 0
        if off == 1:
            return self.dlm if self.dlab else self.ier
        if off == 2:
            return 0xC1 if self.fcr & 1 else 0x01
        if off == 3:
            return self.lcr
        if off == 4:
            return self.mcr
        if off == 5:
            return LSR_THRE | LSR_TEMT
        if off == 6:
            return 0xB0            # CTS, DSR, DCD
        return self.scr
