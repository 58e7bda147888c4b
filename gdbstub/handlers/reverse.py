"""bs / bc: reverse step and reverse continue (gdb's reverse-* commands
without `record`: ReverseStep+ / ReverseContinue+ in qSupported).

The machine keeps its own history (machine/history.py: snapshots and
deterministic replay).  `bs` goes back one instruction, `bc` to the last
breakpoint or watchpoint hit before the current point; both answer with a
stop reply, ``replaylog:begin`` when history runs out.  Offered only when
the target offers reverse execution (Target.support_reverse); without it
bs and bc get the empty reply.  `bc` runs in slices like `c`, so Ctrl-C
stops it (at a past point: a snapshot boundary it had scanned back to).
"""

from __future__ import annotations

from ..rsp import commands as C
from ..dispatch import Capability, Context, Resume
from ..target import ReverseExecution

# Snapshot segments (machine/history.py: 2M instructions each, ~35 ms to
# scan) per slice of a reverse continue: Ctrl-C is seen within ~0.15 s.
SEGMENTS_PER_SLICE = 4


class ReverseOps(Capability):
    features = ("ReverseStep+", "ReverseContinue+")

    def __init__(self, ctx: Context, target: ReverseExecution):
        self.ctx = ctx
        self.target = target

    def handlers(self):
        return {C.ReverseStep: self.reverse_step, C.ReverseContinue: self.reverse_cont}

    def reverse_step(self, cmd):
        return Resume(step=True, run=self.target.reverse_step)

    def reverse_cont(self, cmd):
        target = self.target
        return Resume(step=False, slices=lambda: target.reverse_cont(SEGMENTS_PER_SLICE))
