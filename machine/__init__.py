"""The emulated i386 PC that runs kernel_src/vmlinux (see docs/ARCHITECTURE.md).

    from machine import Machine, Stop, KernelImageError, MemoryFault
"""
from .errors import KernelImageError, MemoryFault, Stop
from .machine import Machine, REGISTER_NAMES

__all__ = ["Machine", "Stop", "KernelImageError", "MemoryFault", "REGISTER_NAMES"]
