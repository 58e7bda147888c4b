"""The thread layer between the handlers and the target.

gdb sees threads; the machine has one CPU.  Every thread-shaped packet (H, T,
qC, qfThreadInfo, qThreadExtraInfo, qXfer:threads, the ``thread:`` field of
stop replies, and which registers ``g`` reads) goes through a `ThreadModel`.

* `SingleThread`: thread 1 is "the CPU" (a target without a kernel ELF, the
  fake target), the stub's default; with more than one CPU, thread k+1 is
  CPU k, as QEMU shows vCPUs.
* kernelaware/threads.py's `KernelThreads`: kernel tasks as threads, given
  to the stub by whoever composes it (cli.py).

A step of a thread goes through the model too (`ThreadModel.step`): a model
whose threads can be off the CPU may answer with a `Wait`, and the session
runs the target until the wait says which stop ends the step.
"""

from __future__ import annotations

from typing import Callable, Dict, List, Optional, Protocol, Set, Union

from machine.stop import Reason

from .target import StopEvent, Target, TargetRegisterError


class Wait(Protocol):
    """A step that became a run: the session runs the target in slices (at
    most `budget()` instructions of each) and reports the stop `stopped`
    returns; `end()` undoes what the wait set up, whatever ended it (its
    stop, Ctrl-C, an error, the connection gone)."""

    # the thread a Ctrl-C stop names (None: the one on the CPU)
    interrupt_thread: Optional[int]
    # console text (an O packet) to send before the stop that ends the wait
    note: Optional[str]

    def budget(self) -> int: ...

    def stopped(self, stop: StopEvent) -> Optional[StopEvent]:
        """The stop to report, or None: run on."""
        ...

    def end(self) -> None: ...


class ThreadModel(Protocol):
    """The thread layer.  Models subclass it: the kernel view (tasks, their
    names, where a sleeping one resumes) has the defaults of a model without
    tasks, which kernelaware/threads.py's KernelThreads overrides."""

    # Tasks are known: threads have names and tasks (qXfer:threads), and a
    # thread that is not on the CPU can be stepped once it gets there.
    tasks_known = False
    # Tasks are shown as threads now (`monitor tasks on|off`).
    enabled = False

    def invalidate(self) -> None:
        """Memory changed behind the model's back: forget what it read."""

    def forget_departed(self, keep: Optional[int] = None) -> None:
        """The target resumes: tasks that exited may go (but `keep`)."""

    def running_pid(self) -> Optional[int]:
        """The pid of the task on the CPU, if tasks are known."""
        return None

    def task(self, tid: int):
        """The task behind thread `tid`, if tasks are known."""
        return None

    def thread_name(self, tid: int) -> Optional[str]:
        return None

    def core(self, tid: int) -> int:
        """The CPU thread `tid` runs on, or last ran on (qXfer:threads' core)."""
        return 0

    def resume_pc(self, tid: int) -> Optional[int]:
        """Where a task that is not on the CPU resumes."""
        return None

    def step(self, tid: Optional[int], others_run: bool, step: Callable[[], StopEvent],
             breakpoints: Dict[int, Set[int]]) -> Union[StopEvent, Wait]:
        """Step thread `tid` (None: whoever runs; `others_run`: gdb resumed
        the other threads too) with `step`, one instruction of the CPU.
        `breakpoints` are gdb's.  Every thread is on the CPU here."""
        return step()

    def new_inferior(self) -> None:
        """gdb knows no thread now: a new connection, or extended-remote `run`
        (gdb numbers the new inferior's threads from 1 again)."""
        ...

    def thread_ids(self) -> List[int]:
        """The thread list sent to gdb (qfThreadInfo, qXfer:threads)."""
        ...

    def current(self) -> int:
        """The thread that runs on the CPU now, as a stop reply or qC names it."""
        ...

    def running(self) -> Optional[int]:
        """The thread on the CPU if gdb knows it (to compare with ids gdb sent)."""
        ...

    def is_alive(self, tid: int) -> bool: ...

    def extra_info(self, tid: int) -> Optional[str]: ...

    def read_register(self, tid: int, name: str) -> int: ...

    def read_registers(self, tid: int, names: List[str]) -> List[int]: ...

    def write_register(self, tid: int, name: str, value: int) -> None: ...


class SingleThread(ThreadModel):
    CPU = 1         # CPU 0's thread (the only one with one CPU)

    def __init__(self, target: Target):
        self.target = target

    def new_inferior(self) -> None:
        pass

    def thread_ids(self) -> List[int]:
        return list(range(self.CPU, self.CPU + self.target.cpus))

    def current(self) -> int:
        return self.CPU + self.target.running_cpu

    def running(self) -> int:
        return self.current()

    def is_alive(self, tid: int) -> bool:
        return self.CPU <= tid < self.CPU + self.target.cpus

    def extra_info(self, tid: int) -> Optional[str]:
        if not self.is_alive(tid):
            return None
        state = self.target.cpu_state(tid - self.CPU)
        return f"CPU#{tid - self.CPU}" + ("" if state == "running" else f" [{state}]")

    def core(self, tid: int) -> int:
        return tid - self.CPU if self.is_alive(tid) else 0

    def _on_cpu(self, tid: int) -> bool:
        if not self.is_alive(tid):
            raise TargetRegisterError(f"no thread {tid}")
        return tid == self.current()

    def read_register(self, tid: int, name: str) -> int:
        if self._on_cpu(tid):
            return self.target.read_register(name)
        return self.target.read_cpu_registers(tid - self.CPU, [name])[0]

    def read_registers(self, tid: int, names: List[str]) -> List[int]:
        if self._on_cpu(tid):
            return self.target.read_registers(names)
        return self.target.read_cpu_registers(tid - self.CPU, names)

    def write_register(self, tid: int, name: str, value: int) -> None:
        if not self._on_cpu(tid):
            raise TargetRegisterError(f"cannot write {name} of CPU {tid - self.CPU}: only "
                                      "the CPU that ran last (the stop's thread) can be written")
        self.target.write_register(name, value)

    def step(self, tid, others_run, step, breakpoints):
        """A CPU that is not the running one becomes it, then steps."""
        if tid is not None and self.is_alive(tid) and tid != self.current():
            return step_cpu(self.target, tid - self.CPU, tid, step)
        return step()


def step_cpu(target: Target, cpu: int, tid: int, step: Callable[[], StopEvent]) -> StopEvent:
    """Step CPU `cpu` (thread `tid`): it becomes the running CPU (a new turn
    from there, recorded in the history), then runs one instruction.  One
    that cannot run yet (waiting for STARTUP) ends the step at once."""
    if not target.select_cpu(cpu):
        return StopEvent(Reason.STEP, target.read_cpu_registers(cpu, ["eip"])[0], thread=tid)
    return step()


class ThreadNotRunning(TargetRegisterError):
    """Registers of a task that is not on the CPU cannot be written."""
