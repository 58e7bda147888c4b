"""Z0/z0 and Z1/z1: software and hardware breakpoints, both as machine code hooks.

We answer Z0 with OK so gdb never writes 0xCC into guest memory.  Both kinds
are the same machine breakpoint (a hook on the virtual address); the stop
reply says swbreak or hwbreak according to what gdb inserted.  Watchpoints
(Z2-Z4) are handled in watch.py.
"""

from __future__ import annotations

from typing import Optional

from ..rsp import commands as C
from ..dispatch import Capability, Context
from ..target import Refused, Watchpoints
from . import watch

SUPPORTED_TYPES = (0, 1)

# The machine's breakpoint table holds 128 addresses; one is kept for the
# stub's own (stepping a task that is not on the CPU, rspsession.py).
MAX_BREAKPOINTS = 127


class BreakpointOps(Capability):
    features = ("swbreak+", "hwbreak+")

    def __init__(self, ctx: Context, watchpoints: Optional[Watchpoints] = None):
        self.ctx = ctx
        self.watchpoints = watchpoints   # Z2-Z4 go there; None: not supported

    def handlers(self):
        return {C.Breakpoint: self.breakpoint}

    def breakpoint(self, cmd: C.Breakpoint):
        if cmd.type in watch.WATCH_TYPES:
            if self.watchpoints is None:
                return b""
            return watch.watchpoint(self.ctx, self.watchpoints, cmd)
        if cmd.type not in SUPPORTED_TYPES:
            return b""
        addr = cmd.addr & 0xFFFFFFFF
        bps = self.ctx.breakpoints
        if cmd.insert:
            if addr not in bps:
                if len(bps) >= MAX_BREAKPOINTS:
                    # gdb 13 shows this as "Cannot access memory": say it here too
                    raise Refused(f"breakpoint limit reached: at most {MAX_BREAKPOINTS} "
                                  "breakpoints")
                self.ctx.target.add_breakpoint(addr)
                bps[addr] = set()
            bps[addr].add(cmd.type)
        else:
            types = bps.get(addr)
            if types is not None:
                types.discard(cmd.type)
                if not types:
                    del bps[addr]
                    self.ctx.target.remove_breakpoint(addr)
        return b"OK"
