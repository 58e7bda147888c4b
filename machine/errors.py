"""Exceptions of the machine API (the Stop record is in stop.py)."""


class KernelImageError(Exception):
    """The kernel image cannot be booted; the message says why and what to do."""


class MemoryFault(Exception):
    """A guest memory access hit an unmapped or out-of-RAM byte.

    `addr` is the first bad byte (virtual for read_memory/write_memory,
    physical for read_phys/write_phys).
    """

    def __init__(self, addr: int, message: str = ""):
        self.addr = addr
        super().__init__(message or "cannot access guest memory at 0x%08x" % addr)
