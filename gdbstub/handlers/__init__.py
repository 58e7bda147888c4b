"""Handlers grouped by capability; `default_capabilities` derives the stub's set."""

from .base import BaseOps, MonitorOps
from .breakpoints import BreakpointOps
from .extended import ExtendedOps
from .reverse import ReverseOps
from .resume import ResumeOps
from .threads import ThreadOps
from .xfer import TargetDescriptionOps


def default_capabilities(ctx):
    """The stub's capabilities, derived from the optional ops the target
    offers (Target.support_*): what it does not offer is neither advertised
    in qSupported / vCont? nor dispatched (its packets get the empty reply)."""
    target = ctx.target
    threads = ThreadOps(ctx)
    restart, reverse = target.support_restart(), target.support_reverse()
    # in this order: qSupported lists the features as the capabilities come
    return [
        BaseOps(ctx),
        *([ExtendedOps(ctx, restart)] if restart else []),
        *([ReverseOps(ctx, reverse)] if reverse else []),
        TargetDescriptionOps(ctx, threads),
        BreakpointOps(ctx, target.support_watchpoints()),
        ResumeOps(ctx, target.support_range_step()),
        threads,
        MonitorOps(ctx),
    ]


__all__ = [
    "BaseOps", "MonitorOps", "BreakpointOps", "ResumeOps", "ThreadOps",
    "TargetDescriptionOps", "ExtendedOps", "ReverseOps", "default_capabilities",
]
