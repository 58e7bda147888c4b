"""Extended remote (`target extended-remote`): `!`, vRun, R, and kill that
keeps the connection.

* ``!`` turns extended mode on for this session (OK).
* ``vRun;...`` restarts the machine from its first instruction (multiboot
  entry, icount 0, history cleared) and answers with a stop reply there, as
  a freshly started program; ``R`` does the same without a reply.
* ``k`` / ``vKill`` in extended mode (BaseOps.kill reads ``ctx.extended``):
  the "process" is gone for gdb, which will insert its breakpoints again
  for the next `run`: we remove ours and the watchpoints, run the
  end-of-session hooks, answer OK and keep the session.  The machine itself
  stays where it was until `run` restarts it.  Outside extended mode kill
  ends the session.

Offered only when the target can restart (Target.support_restart); without
it `!`, vRun and R get the empty reply and gdb stays in plain remote mode.
"""

from __future__ import annotations

from machine.stop import Reason

from ..rsp import commands as C
from ..dispatch import Capability, Context
from ..target import SIGTRAP, Restart, StopEvent
from .stopreply import stop_reply


class ExtendedOps(Capability):
    def __init__(self, ctx: Context, target: Restart):
        self.ctx = ctx
        self.target = target

    def handlers(self):
        return {
            C.ExtendedMode: self.extended_mode,
            C.Run: self.run,
            C.Restart: self.restart,
        }

    def extended_mode(self, cmd):
        self.ctx.extended = True
        return b"OK"

    def run(self, cmd: C.Run):
        # vRun;FILE[;ARG]...: a file name is ignored (no host files)
        if not self.ctx.extended:
            return b""
        return self._restart(reply=True)

    def restart(self, cmd):
        if not self.ctx.extended:
            return b""
        self._restart(reply=False)
        return None

    def _restart(self, reply: bool):
        self.target.restart()
        self.ctx.threads.new_inferior()     # gdb numbers the new inferior's threads from 1
        pc = self.ctx.target.read_register("eip")
        self.ctx.last_stop = StopEvent(Reason.STEP, pc, SIGTRAP)
        return stop_reply(self.ctx, self.ctx.last_stop) if reply else None
