"""Stop replies: ``T<sig>thread:<tid>;[swbreak:|hwbreak:;]<regnum>:<value>;...``"""

from __future__ import annotations

from machine.stop import Reason

from ..rsp import regs
from ..dispatch import Context
from ..target import StopEvent


_EXPEDITED = [(regs.BY_NAME[n], regs.REGISTERS[regs.BY_NAME[n]]) for n in regs.EXPEDITED]
_EXPEDITED_NAMES = [reg.machine_name for _, reg in _EXPEDITED]


def stop_reply(ctx: Context, stop: StopEvent) -> bytes:
    """The reply for `stop`.  The thread it names becomes the general thread
    (`Hg`): gdb assumes so after a stop (remote.c records the stop's thread as
    the one it last selected, as gdbserver does) and reads `g` without a new
    `Hg`, so keeping an older selection would show another task's registers."""
    tid = ctx.threads.current() if stop.thread is None else stop.thread
    ctx.general_thread = tid
    parts = [b"T%02x" % (stop.signal & 0xFF)]
    parts.append(b"thread:%02x;" % tid)
    if stop.reason == Reason.BREAKPOINT:
        types = ctx.breakpoints.get(stop.pc, set())
        # Report the reason only if gdb said it understands it (qSupported).
        if 0 in types and ctx.gdb_supports("swbreak"):
            parts.append(b"swbreak:;")
        elif 1 in types and ctx.gdb_supports("hwbreak"):
            parts.append(b"hwbreak:;")
    if stop.watch is not None:
        parts.append(b"%s:%x;" % (stop.watch[0].encode(), stop.watch[1]))
    if stop.history:
        parts.append(b"replaylog:%s;" % stop.history.encode())
    try:        # one look at the thread for all of them (every stop pays it)
        values = ctx.threads.read_registers(tid, _EXPEDITED_NAMES)
    except Exception:
        values = [_read_or_none(ctx, tid, name) for name in _EXPEDITED_NAMES]
    for (num, reg), value in zip(_EXPEDITED, values):
        if value is not None:       # a task's register switch_to did not save
            parts.append(b"%02x:%s;" % (num, regs.encode_value(reg, value).hex().encode()))
    return b"".join(parts)


def _read_or_none(ctx: Context, tid: int, name: str):
    try:
        return ctx.threads.read_register(tid, name)
    except Exception:
        return None
