"""Extended remote (`target extended-remote`): `!`, vRun, R, and kill that
keeps the connection.

* ``!`` turns extended mode on for this session (OK).
* ``vRun;...`` restarts the machine from its first instruction (multiboot
  entry, icount 0, history cleared) and answers with a stop reply there, as
  a freshly started program; ``R`` does the same without a reply.
* ``k`` / ``vKill`` in extended mode: the "process" is gone for gdb, which
  will insert its breakpoints again for the next `run`: we remove ours and
  the watchpoints, answer OK and keep the session.  The machine itself
  stays where it was until `run` restarts it.  Outside extended mode kill
  ends the session as before (base.py).

The parser does not know these packets (commands.py returns Unknown for
them); this capability routes Unknown payloads by prefix, also for the
reverse-execution packets (reverse.py).
"""

from __future__ import annotations

from ..rsp import commands as C
from ..dispatch import Capability, Context
from . import watch
from ..kernelaware.schedtrace import flush_trace
from .stopreply import stop_reply
from ..target import SIGTRAP, StopEvent


class ExtendedOps(Capability):
    def __init__(self, ctx: Context, base, extra=None):
        self.ctx = ctx
        self.base = base
        self.extra = dict(extra or {})
        supports = getattr(ctx.target, "supports", None)
        self.enabled = bool(supports and supports("restart"))
        # k / vKill belong to BaseOps; in extended mode they do not end the session
        self._base_kill = base.kill
        base.kill = self.kill

    def handlers(self):
        return {C.Unknown: self.unknown}

    def unknown(self, cmd: C.Unknown):
        data = cmd.data
        fn = self.extra.get(data)
        if fn is not None:
            return fn(data)
        if not self.enabled:
            return b""
        if data == b"!":
            self.ctx.extended = True
            return b"OK"
        if data.startswith(b"vRun;") and self.ctx.extended:
            # vRun;FILE[;ARG]...: hex, each (a file name is ignored: no host files)
            if any(not C.is_hex(part) for part in data[5:].split(b";")):
                return b"E01"
            return self._restart(reply=True)
        if data.startswith(b"R") and self.ctx.extended:
            self._restart(reply=False)
            return None
        return b""

    def _forget_breakpoints(self):
        for addr in list(self.ctx.breakpoints):
            self.ctx.target.remove_breakpoint(addr)
        self.ctx.breakpoints.clear()
        watch.remove_all(self.ctx)

    def _restart(self, reply: bool):
        self.ctx.target.restart()
        self.ctx.threads.new_inferior()     # gdb numbers the new inferior's threads from 1
        pc = self.ctx.target.read_register("eip")
        self.ctx.last_stop = StopEvent("step", pc, SIGTRAP)
        return stop_reply(self.ctx, self.ctx.last_stop) if reply else None

    def kill(self, cmd):
        if not getattr(self.ctx, "extended", False):
            watch.remove_all(self.ctx)
            return self._base_kill(cmd)
        self._forget_breakpoints()
        flush_trace(self.ctx.target, lambda text: None)   # the program is gone for gdb
        return b"OK"
