"""Z2/Z3/Z4 (watch, rwatch, awatch): data watchpoints on virtual addresses.

The machine (machine/watch.py) translates them through the guest page
tables, hooks memory only while one exists, and stops after the accessing
instruction; the stop reply then carries ``watch:``/``rwatch:``/``awatch:``
and the watched address (stopreply.py), from which gdb reports the old and
new values.  Called by BreakpointOps for the Z types 2-4 when the target
offers watchpoints (Target.support_watchpoints); empty reply (not
supported) otherwise.  Context.remove_all_breakpoints removes them all.
"""

from __future__ import annotations

from ..rsp import commands as C
from ..dispatch import E_INVALID, Context
from ..target import Watchpoints

WATCH_TYPES = (2, 3, 4)
KINDS = {2: "watch", 3: "rwatch", 4: "awatch"}

# Stated limits (README, Security): each watchpoint is translated page by
# page at insertion and after every run slice, so its cost must be bounded.
# x86 debug registers watch 1, 2 or 4 bytes, four at a time; we allow more
# (gdb sends one Z2 for a whole struct) but not a 256 MiB range.
MAX_WATCH_LEN = 4096
MAX_WATCHPOINTS = 32


def watchpoint(ctx: Context, target: Watchpoints, cmd: C.Breakpoint):
    kind = KINDS[cmd.type]
    addr = cmd.addr & 0xFFFFFFFF
    length = max(1, cmd.kind)
    table = ctx.watchpoints
    key = (kind, addr, length)
    if cmd.insert:
        if key in table:
            return b"OK"
        if length > MAX_WATCH_LEN or addr + length > 1 << 32 or len(table) >= MAX_WATCHPOINTS:
            return E_INVALID    # as gdbserver and QEMU beyond their debug registers
        target.add_watchpoint(kind, addr, length)
        table.add(key)
    elif key in table:
        table.discard(key)
        target.remove_watchpoint(kind, addr, length)
    return b"OK"
