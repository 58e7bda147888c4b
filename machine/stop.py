"""Why a run stopped: the one Stop record and its Reason (pure, no unicorn).

Contract (docs/ARCHITECTURE.md, "Machine API"):
  Stop(reason, pc, signal=SIGTRAP, vector=None, detail="", watch=None)
    reason: a Reason member (anything else, a string naming one included,
    raises TypeError: a typo cannot make a new reason).  signal is the gdb signal number: 5 TRAP
    (breakpoint/step/limit/watchpoint/history), 4 ILL, 8 FPE, 11 SEGV for
    faults.  watch is (watch|rwatch|awatch, vaddr) for a watchpoint stop.
    Reason is a StrEnum: `stop.reason == "limit"` still reads naturally.

Every stop anyone reports has its reason here, named by who produces it, so
the stub's StopEvent (its RSP-side view, built from a Stop) cannot invent one.
"""
import enum
from dataclasses import dataclass
from typing import Optional, Tuple

SIGILL = 4
SIGTRAP = 5
SIGFPE = 8
SIGSEGV = 11


class Reason(enum.StrEnum):
    # Machine.cont() / step()
    BREAKPOINT = "breakpoint"
    STEP = "step"
    LIMIT = "limit"                 # the slice of virtual time (max_insns) ran out
    STOP_REQUESTED = "stop_requested"   # request_stop() / stop_after_instruction()
    HALTED = "halted"               # cont(None) halted for good; detail says why
    FAULT = "fault"                 # an exception not delivered (caught, or no handler reachable)
    TRIPLE_FAULT = "triple_fault"
    # TimeMachine (history.py)
    WATCHPOINT = "watchpoint"
    HISTORY = "history"             # reverse execution reached the beginning of history
    # the debugger front end (gdbstub), never the machine
    INTERRUPT = "interrupt"         # Ctrl-C
    DEADLINE = "deadline"           # `monitor deadline` reached


@dataclass
class Stop:
    reason: Reason
    pc: int
    signal: int = SIGTRAP
    vector: Optional[int] = None
    detail: str = ""
    watch: Optional[Tuple[str, int]] = None     # (watch|rwatch|awatch, vaddr)

    def __post_init__(self):
        if not isinstance(self.reason, Reason):
            raise TypeError("stop reason must be a Reason, not %r" % (self.reason,))

    @property
    def history(self) -> str:
        """gdb's replaylog value: "begin" when history ran out, else ""."""
        return "begin" if self.reason == Reason.HISTORY else ""


def signal_for_vector(vector: int) -> int:
    """gdb signal for a CPU exception vector that the machine could not deliver."""
    if vector in (0, 16, 19):          # #DE, #MF, #XM
        return SIGFPE
    if vector == 6:                     # #UD
        return SIGILL
    if vector in (1, 3):                # #DB, #BP
        return SIGTRAP
    return SIGSEGV
