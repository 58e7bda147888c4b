"""Stepping a kernel task that is not on the CPU (`KernelThreads.step`).

There is one CPU: a task that is not running executes nothing until the
scheduler switches to it.  When gdb steps such a task, this module decides
what that means (where the task resumes, which stop is the step's end, how
long to wait for a task that may sleep for good).  That is policy about our
kernel, so it lives here; the session only runs the target while the `Wait`
returned here says so (threadmodel.Wait) and knows nothing of tasks.
"""

from __future__ import annotations

from typing import Callable, Dict, Optional, Set, Union

from ..target import SIGINT, StopEvent, Target
from machine.stop import Reason

# After this much virtual time (5 s at 10 M instructions/s, 500 timer ticks)
# a step that waits for its task stops instead: the task sleeps for good
# (kthreadd with no requests).
STEP_WAIT_LIMIT = 50_000_000


def step_task(threads, tid: Optional[int], others_run: bool,
              step: Callable[[], StopEvent],
              breakpoints: Dict[int, Set[int]]) -> Union[StopEvent, "TaskWait"]:
    """Step task `tid` (None: whoever runs).  A task on the CPU steps one
    instruction; one that is not (or that this instruction switched off the
    CPU) is waited for (`off_cpu`)."""
    if tid is None:
        return step()
    if tid != threads.running():
        return off_cpu(threads, tid, others_run, breakpoints)
    before = threads.task(tid)
    stop = step()
    if stop.reason == Reason.STEP and threads.running() != tid:
        if before is not None and not threads.is_alive(tid):
            # It had released itself (EXIT_DEAD, unlinked) and this was
            # its last switch: still gdb's thread until gdb resumes.
            threads.keep_departed(tid, before.addr)
        if threads.is_alive(tid):
            return off_cpu(threads, tid, others_run, breakpoints)
    return stop


def off_cpu(threads, tid: int, others_run: bool,
            breakpoints: Dict[int, Set[int]]) -> Union[StopEvent, "TaskWait"]:
    """A step of task `tid`, which is not on the CPU.

    Resumed alone (``vCont;s:T``: gdb steps T over a breakpoint, or
    scheduler-locking), the step ends at once, naming T at its resume
    address: T cannot run without the other tasks, and gdb believes them
    stopped, so running them would pass their breakpoints unreported (a
    stop named for another thread makes gdb 13 fail an assertion in
    infrun.c finish_step_over).  Exception: a gdb breakpoint at that very
    address (gdb would take the stop for a hit, and its next step-over of
    T would end there again): then the machine runs until T reaches it.

    Resumed with the others (``vCont;s:T;c``): the machine runs until the
    scheduler switches to T and stops at its resume address, or at any
    breakpoint first, or after STEP_WAIT_LIMIT instructions (a task that
    sleeps for good) with SIGINT and a message."""
    target = threads.target
    pc = threads.resume_pc(tid)
    if pc is None:  # gone
        return StopEvent(Reason.STEP, target.read_register("eip"))
    if not others_run and pc not in breakpoints:
        return StopEvent(Reason.STEP, pc, thread=tid)
    return TaskWait(threads, target, tid, pc, others_run, breakpoints)


class TaskWait:
    """The machine runs until task `thread` is switched in at `pc`, where the
    stub plants a breakpoint of its own unless gdb has one there."""

    def __init__(self, threads, target: Target, tid: int, pc: int, others_run: bool,
                 breakpoints: Dict[int, Set[int]]):
        self.threads, self.target = threads, target
        self.thread, self.pc, self.others_run = tid, pc, others_run
        self.breakpoints = breakpoints       # gdb's, live
        self.limit = target.icount + STEP_WAIT_LIMIT
        self.note: Optional[str] = None
        self._planted: Optional[int] = None
        if pc not in breakpoints:
            target.add_breakpoint(pc)
            self._planted = pc

    @property
    def interrupt_thread(self) -> Optional[int]:
        # While gdb steps one task alone, only that task may report a stop.
        return None if self.others_run else self.thread

    def budget(self) -> int:
        return max(0, self.limit - self.target.icount)

    def stopped(self, stop: StopEvent) -> Optional[StopEvent]:
        on_cpu = self.threads.running() == self.thread
        ours = stop.pc not in self.breakpoints  # only the stub's breakpoint is there
        if stop.reason == Reason.BREAKPOINT and stop.pc == self.pc and on_cpu:
            return StopEvent(Reason.STEP, stop.pc, stop.signal) if ours else stop
        if stop.reason == Reason.BREAKPOINT and (ours or not self.others_run):
            pass  # another task at the resume address, or gdb resumed only this one
        elif not stop.slice_expired:
            return stop
        if self.budget() == 0:
            return self._gave_up()
        return None

    def _gave_up(self) -> StopEvent:
        threads = self.threads
        if self.others_run:
            threads.current()   # the stop reply names the task on the CPU
        self.note = (f"{threads.label(threads.ids.key(self.thread))} did not run within "
                     f"{STEP_WAIT_LIMIT} instructions, so the step ended; the CPU runs "
                     f"{threads.label(threads.running_pid())}\n")
        # Name the stepped task if gdb believes the others stopped.
        return StopEvent(Reason.INTERRUPT, self.target.read_register("eip"), SIGINT,
                         thread=self.interrupt_thread)

    def end(self) -> None:
        if self._planted is not None:
            try:
                self.target.remove_breakpoint(self._planted)
            except Exception:
                pass  # the session is ending or failed already: nobody to tell
            self._planted = None
