"""The emulated i386 PC that runs kernel_src/vmlinux (see docs/ARCHITECTURE.md).

    from machine import Machine, Stop, Reason, KernelImageError, MemoryFault
"""
from .errors import KernelImageError, MemoryFault
from .stop import Reason, Stop

__all__ = ["Machine", "Stop", "Reason", "KernelImageError", "MemoryFault", "REGISTER_NAMES"]


def __getattr__(name):
    # Machine needs unicorn; imported on first use so that the unicorn-free
    # parts (Stop, Reason, errors, paging) serve the stub and pure tests alone.
    if name in ("Machine", "REGISTER_NAMES"):
        from . import machine
        return getattr(machine, name)
    raise AttributeError("module 'machine' has no attribute %r" % (name,))
