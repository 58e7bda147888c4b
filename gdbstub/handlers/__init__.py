"""Handlers grouped by capability; `default_capabilities` is the stub's set."""

from .base import BaseOps, MonitorOps
from .breakpoints import BreakpointOps
from .extended import ExtendedOps
from .reverse import ReverseOps
from .resume import ResumeOps
from .threads import ThreadOps
from .xfer import TargetDescriptionOps


def default_capabilities(ctx):
    threads = ThreadOps(ctx)
    base = BaseOps(ctx)
    reverse = ReverseOps(ctx)
    return [
        base,
        ExtendedOps(ctx, base, extra=reverse.packets()),
        reverse,
        TargetDescriptionOps(ctx, threads),
        BreakpointOps(ctx),
        ResumeOps(ctx),
        threads,
        MonitorOps(ctx),
    ]


__all__ = [
    "BaseOps", "MonitorOps", "BreakpointOps", "ResumeOps", "ThreadOps",
    "TargetDescriptionOps", "ExtendedOps", "ReverseOps", "default_capabilities",
]
