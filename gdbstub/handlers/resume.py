"""c, s, C, S, vCont, vCont?: resuming the target.

A signal in C/S/vCont (gdb `continue` after a fault stop passes the
signal it got) means: deliver the exception the machine stopped before
through the guest's IDT, so the kernel's own handler runs; no signal (gdb
`signal 0`) means the faulting instruction runs again.  Other signals have
nothing to deliver and are ignored.  With one CPU, the action that applies to the current
thread (or the default action) decides step vs continue.

Threads are kernel tasks and there is one CPU, so "resume thread T" can only
mean "run the machine":

* a step action naming a thread (``vCont;s:T[;c]``, or ``Hc T`` then ``s``)
  steps task T; the thread model does it (`ThreadModel.step`, for kernel
  tasks kernelaware/stepwait.py).  If T is on the CPU that is one instruction.  With the other threads resumed too
  (``vCont;s:T;c``) a T that is not running (or that the instruction
  switched off the CPU) is waited for: the machine runs until the scheduler
  switches to T, stopping at other tasks' breakpoints on the way, or gives
  up after a bound of virtual time.  With ``vCont;s:T`` alone (gdb stepping
  T over a breakpoint) no other task runs: the step ends at once, naming T
  at its resume address.
* continue actions only for tasks that are not running (``vCont;c:T``,
  scheduler-locking) continue the machine: T runs when the scheduler picks it.
"""

from __future__ import annotations

from typing import Optional

from ..rsp import commands as C
from ..rsp import regs
from ..dispatch import E_INVALID, Capability, Context, Resume
from ..target import RangeStepping


class ResumeOps(Capability):
    features = ("vContSupported+",)
    VCONT_ACTIONS = b"vCont;c;C;s;S"

    def __init__(self, ctx: Context, ranges: Optional[RangeStepping] = None):
        self.ctx = ctx
        self.ranges = ranges   # vCont;r when the target offers range stepping

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
        tid = self.ctx.continue_thread
        if tid in (0, -1):
            return Resume(step=True, signal=cmd.signal or 0)
        # `Hc T` then `s`: only T is resumed
        return Resume(step=True, thread=tid, others_run=False, signal=cmd.signal or 0)

    def vcont_query(self, cmd):
        # `r` (range stepping: a line's range stepped inside the stub) when
        # the machine offers it (machine/history.py)
        return self.VCONT_ACTIONS + (b";r" if self.ranges else b"")

    def vcont(self, cmd: C.VCont):
        if any(act.action == "r" for act in cmd.actions) and self.ranges:
            return self._range(cmd)
        if any(act.action not in ("c", "C", "s", "S") for act in cmd.actions):
            return b""  # 't' is not advertised
        threads = self.ctx.threads
        me = threads.running()
        # A step naming a thread steps that kernel task (see the module doc).
        for act in cmd.actions:
            t = act.thread
            if act.action in ("s", "S") and t is not None and t.tid not in (-1, 0):
                if not threads.is_alive(t.tid):
                    return E_INVALID
                others = any(a.action in ("c", "C") and (a.thread is None or a.thread.tid in (-1, 0))
                             for a in cmd.actions)
                return Resume(step=True, thread=t.tid, others_run=others,
                              signal=act.signal or 0)
        for act in cmd.actions:
            t = act.thread
            if t is None or t.tid in (-1, 0, me):
                return Resume(step=act.action in ("s", "S"), signal=act.signal or 0)
        # Only other (not running) tasks are to continue: they run when the
        # scheduler picks them, so the machine runs.
        if all(threads.is_alive(a.thread.tid) for a in cmd.actions):
            return Resume(step=False)
        return E_INVALID

    def _range(self, cmd: C.VCont):
        """vCont;rSTART,END[:T]: step while START <= pc < END.  The stub may
        stop early (gdb checks the pc and asks again), so a range for a task
        that is not on the CPU is a plain step of that task."""
        me = self.ctx.threads.running()
        for act in cmd.actions:
            if act.action != "r":
                continue
            t = act.thread
            if t is not None and t.tid not in (-1, 0, me):
                return Resume(step=True, thread=t.tid,
                              others_run=any(a.action in ("c", "C") and a.thread is None
                                             for a in cmd.actions))
            start, end = act.range
            return Resume(step=True, run=lambda: self.ranges.range_step(start, end))
        return b""
