"""The thread layer between the handlers and the target.

gdb sees threads; the machine has one CPU.  Every thread-shaped packet (H, T,
qC, qfThreadInfo, qThreadExtraInfo, the ``thread:`` field of stop replies,
and which registers ``g`` reads) goes through a `ThreadModel`.

`SingleThread` is the whole story for now: thread 1 is "the CPU".  A later
model maps kernel tasks to threads the way kgdb does (thread ids from pids,
pid 0 remapped, a sleeping task's registers from its saved switch_to context,
register writes refused for tasks that are not running); it implements the
same methods and nothing else in the stub changes.
"""

from __future__ import annotations

from typing import List, Optional, Protocol

from .target import Target, TargetRegisterError


class ThreadModel(Protocol):
    def thread_ids(self) -> List[int]: ...

    def current(self) -> int:
        """The thread that runs on the CPU now (reported in stop replies)."""
        ...

    def is_alive(self, tid: int) -> bool: ...

    def extra_info(self, tid: int) -> Optional[str]: ...

    def read_register(self, tid: int, name: str) -> int: ...

    def read_registers(self, tid: int, names: List[str]) -> List[int]: ...

    def write_register(self, tid: int, name: str, value: int) -> None: ...


class SingleThread:
    CPU = 1

    def __init__(self, target: Target):
        self.target = target

    def thread_ids(self) -> List[int]:
        return [self.CPU]

    def current(self) -> int:
        return self.CPU

    def is_alive(self, tid: int) -> bool:
        return tid == self.CPU

    def extra_info(self, tid: int) -> Optional[str]:
        return "CPU#0" if tid == self.CPU else None

    def _check(self, tid: int) -> None:
        if tid != self.CPU:
            raise TargetRegisterError(f"no thread {tid}")

    def read_register(self, tid: int, name: str) -> int:
        self._check(tid)
        return self.target.read_register(name)

    def read_registers(self, tid: int, names: List[str]) -> List[int]:
        self._check(tid)
        return self.target.read_registers(names)

    def write_register(self, tid: int, name: str, value: int) -> None:
        self._check(tid)
        self.target.write_register(name, value)
