"""Z2/Z3/Z4 (watch, rwatch, awatch): data watchpoints on virtual addresses.

The machine (machine/watch.py) translates them through the guest page
tables, hooks memory only while one exists, and stops after the accessing
instruction; the stop reply then carries ``watch:``/``rwatch:``/``awatch:``
and the watched address (stopreply.py), from which gdb reports the old and
new values.  Called by BreakpointOps for the Z types 2-4; empty reply (not
supported) when the target has no watchpoints.
"""

from __future__ import annotations

from ..rsp import commands as C
from ..dispatch import E_INVALID, Context

WATCH_TYPES = (2, 3, 4)
KINDS = {2: "watch", 3: "rwatch", 4: "awatch"}

# Stated limits (README, Security): each watchpoint is translated page by
# page at insertion and after every run slice, so its cost must be bounded.
# x86 debug registers watch 1, 2 or 4 bytes, four at a time; we allow more
# (gdb sends one Z2 for a whole struct) but not a 256 MiB range.
MAX_WATCH_LEN = 4096
MAX_WATCHPOINTS = 32


def watchpoint(ctx: Context, cmd: C.Breakpoint):
    target = ctx.target
    supports = getattr(target, "supports", None)
    if not (supports and supports("add_watchpoint")):
        return b""
    kind = KINDS[cmd.type]
    addr = cmd.addr & 0xFFFFFFFF
    length = max(1, cmd.kind)
    table = ctx.__dict__.setdefault("watchpoints", {})
    key = (kind, addr, length)
    if cmd.insert:
        if key in table:
            return b"OK"
        if length > MAX_WATCH_LEN or addr + length > 1 << 32 or len(table) >= MAX_WATCHPOINTS:
            return E_INVALID    # as gdbserver and QEMU beyond their debug registers
        target.add_watchpoint(kind, addr, length)
        table[key] = True
    elif table.pop(key, None):
        target.remove_watchpoint(kind, addr, length)
    return b"OK"


def remove_all(ctx: Context) -> None:
    """Forget every watchpoint gdb inserted (kill, restart, end of session)."""
    table = ctx.__dict__.get("watchpoints") or {}
    for kind, addr, length in list(table):
        try:
            ctx.target.remove_watchpoint(kind, addr, length)
        except Exception:
            pass
    table.clear()
