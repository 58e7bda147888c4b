"""c, s, C, S, vCont, vCont?: resuming the target.

A signal in C/S/vCont (gdb `continue` after a fault stop passes the
signal it got) means: deliver the exception the machine stopped before
through the guest's IDT, so the kernel's own handler runs; no signal (gdb
`signal 0`) means the faulting instruction runs again.  Other signals have
nothing to deliver and are ignored.  With one CPU, the action that applies to the current
thread (or the default action) decides step vs continue.
"""

from __future__ import annotations

from .. import commands as C
from .. import regs
from ..dispatch import E_INVALID, Capability, Context, Resume


class ResumeOps(Capability):
    features = ("vContSupported+",)
    VCONT_ACTIONS = b"vCont;c;C;s;S"

    def __init__(self, ctx: Context):
        self.ctx = ctx

    def handlers(self):
        return {
            C.Continue: self.cont,
            C.Step: self.step,
            C.VCont: self.vcont,
            C.VContQuery: self.vcont_query,
        }

    def _set_pc(self, addr):
        if addr is not None:
            tid = self.ctx.threads.current()
            self.ctx.threads.write_register(tid, regs.REGISTERS[regs.PC].machine_name, addr)

    def cont(self, cmd: C.Continue):
        self._set_pc(cmd.addr)
        return Resume(step=False, signal=cmd.signal or 0)

    def step(self, cmd: C.Step):
        self._set_pc(cmd.addr)
        return Resume(step=True, signal=cmd.signal or 0)

    def vcont_query(self, cmd):
        return self.VCONT_ACTIONS

    def vcont(self, cmd: C.VCont):
        me = self.ctx.threads.current()
        chosen = None
        for act in cmd.actions:
            t = act.thread
            if t is None or t.tid in (-1, 0, me):
                chosen = act
                break
        if chosen is None:
            # Nothing applies to the only CPU thread: gdb asked to resume others only.
            return E_INVALID
        if chosen.action in ("c", "C"):
            return Resume(step=False, signal=chosen.signal or 0)
        if chosen.action in ("s", "S"):
            return Resume(step=True, signal=chosen.signal or 0)
        return b""  # 't' and 'r' are not advertised
