"""Exceptions and the Stop record that the machine API hands to its callers.

Contract (docs/ARCHITECTURE.md, "Machine API"):
  Stop(reason, pc, signal, vector=None, detail="")
    reason in breakpoint | step | limit | fault | triple_fault
    signal is the gdb signal number: 5 TRAP (breakpoint/step/limit),
    4 ILL, 8 FPE, 11 SEGV for faults.
"""
from dataclasses import dataclass
from typing import Optional

SIGILL = 4
SIGTRAP = 5
SIGFPE = 8
SIGSEGV = 11

REASONS = ("breakpoint", "step", "limit", "fault", "triple_fault")


class KernelImageError(Exception):
    """The kernel image cannot be booted; the message says why and what to do."""


class MemoryFault(Exception):
    """A guest memory access hit an unmapped or out-of-RAM byte.

    `addr` is the first bad byte (virtual for read_memory/write_memory,
    physical for read_phys/write_phys).
    """

    def __init__(self, addr: int, message: str = ""):
        self.addr = addr
        super().__init__(message or "cannot access guest memory at 0x%08x" % addr)


@dataclass
class Stop:
    reason: str
    pc: int
    signal: int
    vector: Optional[int] = None
    detail: str = ""

    def __post_init__(self):
        if self.reason not in REASONS:
            raise ValueError("bad stop reason %r" % (self.reason,))


def signal_for_vector(vector: int) -> int:
    """gdb signal for a CPU exception vector that the machine could not deliver."""
    if vector in (0, 16, 19):          # #DE, #MF, #XM
        return SIGFPE
    if vector == 6:                     # #UD
        return SIGILL
    if vector in (1, 3):                # #DB, #BP
        return SIGTRAP
    return SIGSEGV
