"""bs / bc: reverse step and reverse continue (gdb's reverse-* commands
without `record`: ReverseStep+ / ReverseContinue+ in qSupported).

The machine keeps its own history (machine/history.py: snapshots and
deterministic replay).  `bs` goes back one instruction, `bc` to the last
breakpoint or watchpoint hit before the current point; both answer with a
stop reply, ``replaylog:begin`` when history runs out.  Advertised only when
the target has history.  `bc` runs in slices like `c`, so Ctrl-C stops it
(at a past point: a snapshot boundary it had scanned back to).
"""

from __future__ import annotations

from ..dispatch import Capability, Context, Resume

# Snapshot segments (machine/history.py: 2M instructions each, ~35 ms to
# scan) per slice of a reverse continue: Ctrl-C is seen within ~0.15 s.
SEGMENTS_PER_SLICE = 4


class ReverseOps(Capability):
    def __init__(self, ctx: Context):
        self.ctx = ctx
        supports = getattr(ctx.target, "supports", None)
        self.enabled = bool(supports and supports("reverse_step"))
        self.features = ("ReverseStep+", "ReverseContinue+") if self.enabled else ()

    def handlers(self):
        return {}

    def packets(self):
        """Packets the command parser does not know (routed by ExtendedOps)."""
        if not self.enabled:
            return {}
        return {b"bs": self.reverse_step, b"bc": self.reverse_cont}

    def reverse_step(self, payload: bytes):
        return Resume(step=True, run=self.ctx.target.reverse_step)

    def reverse_cont(self, payload: bytes):
        target = self.ctx.target
        return Resume(step=False, slices=lambda: target.reverse_cont(SEGMENTS_PER_SLICE))
