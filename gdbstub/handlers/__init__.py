"""Handlers grouped by capability; `default_capabilities` is the stub's set."""

from .base import BaseOps, MonitorOps
from .breakpoints import BreakpointOps
from .resume import ResumeOps
from .threads import ThreadOps
from .xfer import TargetDescriptionOps


def default_capabilities(ctx):
    threads = ThreadOps(ctx)
    return [
        BaseOps(ctx),
        TargetDescriptionOps(ctx, threads),
        BreakpointOps(ctx),
        ResumeOps(ctx),
        threads,
        MonitorOps(ctx),
    ]


__all__ = [
    "BaseOps", "MonitorOps", "BreakpointOps", "ResumeOps", "ThreadOps",
    "TargetDescriptionOps", "default_capabilities",
]
