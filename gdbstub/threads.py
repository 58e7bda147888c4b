"""The thread layer between the handlers and the target.

gdb sees threads; the machine has one CPU.  Every thread-shaped packet (H, T,
qC, qfThreadInfo, qThreadExtraInfo, qXfer:threads, the ``thread:`` field of
stop replies, and which registers ``g`` reads) goes through a `ThreadModel`.

* `SingleThread`: thread 1 is "the CPU" (a target without a kernel ELF, the
  fake target).
* `KernelThreads`: kernel tasks as threads, the way kgdb shows them (thread
  id = pid + 1, a sleeping task's registers from its saved switch_to
  context, register writes refused for tasks that are not running), with the
  task layout read from the kernel's DWARF (oskernel.py).  Off by default
  (`monitor tasks on`, or `kthread-stub --tasks`): with several threads gdb
  prints "Thread N hit Breakpoint M, ..." instead of "Breakpoint M, ...", and
  the documented kthreadd session must stay as the seed shows it.  Off, it
  behaves as `SingleThread`; the monitor's ps/dmesg work either way.
"""

from __future__ import annotations

from typing import Dict, List, Optional, Protocol

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


class ThreadNotRunning(TargetRegisterError):
    """Registers of a task that is not on the CPU cannot be written."""


def tid_of_pid(pid: int) -> int:
    """Thread id of a task: pid + 1 (pid 0, the idle task, would be thread id
    0, which the protocol reserves for "any thread")."""
    return pid + 1


def pid_of_tid(tid: int) -> int:
    return tid - 1


# Registers every kernel task shares with the CPU: one set of flat kernel
# segments, no per-task selectors (no user mode, no TLS).
_SHARED = ("cs", "ss", "ds", "es", "fs", "gs")


class KernelThreads:
    """Kernel tasks as gdb threads, the way kgdb shows them.

    * Thread id = pid + 1: swapper (pid 0) is thread 1, init 2, kthreadd 3...
    * The running task (``current_task``) has the CPU's registers.
    * A task that is not running has the registers its ``switch_to`` saved:
      eip = thread.ip (label 1 in switch_to, inside schedule()), esp =
      thread.sp, ebp = the word at thread.sp (pushed by switch_to), eflags =
      the word above it.  A task that never ran has eip = ret_from_fork and
      esp = thread.sp (its pt_regs) only.  The segment registers are the
      CPU's (every task runs on the same flat kernel segments).  Everything
      else (eax..edi, x87) was not saved anywhere and reads as unavailable
      ('x' in g replies).  Writing any register of such a task is refused.
    * Before the kernel has a task list (reset vector, paging off:
      current_task unreadable or NULL) there is one thread, 1, the CPU, as
      with `SingleThread`; it becomes swapper (also thread 1) once the
      kernel's data are mapped, since the boot code runs as task 0.

    The view is recomputed once per register generation of the target (that
    is, after the machine ran or gdb wrote a register) and on `invalidate()`
    (gdb wrote memory).
    """

    CPU = 1

    def __init__(self, target: Target, layout, enabled: bool = True):
        from .oskernel import TaskWalker

        self.target = target
        self.layout = layout
        self.walker = TaskWalker(layout, target.read_memory)
        self.enabled = enabled  # False: show the CPU as thread 1 (`monitor tasks off`)
        self._key = object()
        self._cur = None       # (task addr, tid) of the running task, or None
        self._tasks = None     # {tid: Task} in list order, or None when not computed
        # (tid, task addr) of a task that released itself and that a step gdb
        # asked for switched off the CPU for good: still a thread until gdb
        # resumes (see keep_departed).
        self._departed = None

    # -- snapshots
    def invalidate(self) -> None:
        self._key = object()

    def set_enabled(self, on: bool) -> None:
        self.enabled = on
        self.invalidate()

    def _fresh(self) -> None:
        key = getattr(self.target, "generation", None)
        if key is None or key != self._key:
            self._key = key if key is not None else object()
            self._cur = self._read_current()
            self._tasks = None

    def task_table(self):
        """{tid: Task} read from the kernel whether or not tasks are shown as
        threads (for `monitor ps`); None before the kernel has a task list."""
        if self.enabled:
            return self.tasks()
        self.enabled = True
        self.invalidate()
        try:
            return self.tasks()
        finally:
            self.enabled = False
            self.invalidate()

    def running_tid(self):
        """Thread id of the task on the CPU (even when tasks are not shown)."""
        cur = self._current_raw()
        return None if cur is None else cur[1]

    def _read_current(self):
        return self._current_raw() if self.enabled else None

    def _current_raw(self):
        addr = self.walker.current_task()
        if not addr:
            return None
        task = self.walker.read_task(addr)
        if task is None or task.pid < 0:
            return None
        return task, tid_of_pid(task.pid)

    def tasks(self):
        """{tid: Task} of every task (list order, init_task first); None in CPU mode."""
        self._fresh()
        if self._cur is None:
            return None
        if self._tasks is None:
            found = self.walker.tasks() or []
            out = {}
            for t in found:
                if t.pid >= 0:          # a corrupt pid (-2) must not become thread -1 or 0
                    out.setdefault(tid_of_pid(t.pid), t)
            cur, ctid = self._cur
            out.setdefault(ctid, cur)  # the current task, even if not (or no longer) listed
            if self._departed is not None:
                t = self.walker.read_task(self._departed[1])
                if t is not None:
                    out.setdefault(self._departed[0], t)
            self._tasks = out
        return self._tasks

    def keep_departed(self, tid: int, addr: int) -> None:
        """Keep task `tid` (at `addr`) a thread though it is neither listed nor
        running: a kthread releases itself (release_task() unlinks it) before
        its last switch, and when that switch is the step gdb asked of it, gdb
        needs the step to end naming it; it is dropped at the next resume."""
        self._departed = (tid, addr)
        self._tasks = None

    def forget_departed(self, keep: Optional[int] = None) -> None:
        if self._departed is not None and self._departed[0] != keep:
            self._departed = None
            self._tasks = None

    def kernel_mode(self) -> bool:
        """True once the kernel's task list is readable."""
        self._fresh()
        return self._cur is not None

    def current_task(self):
        self._fresh()
        return None if self._cur is None else self._cur[0]

    # -- ThreadModel
    def thread_ids(self) -> List[int]:
        tasks = self.tasks()
        return [self.CPU] if tasks is None else list(tasks)

    def current(self) -> int:
        self._fresh()
        return self.CPU if self._cur is None else self._cur[1]

    def is_alive(self, tid: int) -> bool:
        tasks = self.tasks()
        return tid == self.CPU if tasks is None else tid in tasks

    def is_running(self, tid: int) -> bool:
        return tid == self.current()

    def task(self, tid: int):
        tasks = self.tasks()
        return None if tasks is None else tasks.get(tid)

    def state(self, tid: int) -> Optional[str]:
        t = self.task(tid)
        return None if t is None else t.state_name(self.is_running(tid))

    def thread_name(self, tid: int) -> Optional[str]:
        t = self.task(tid)
        return None if t is None else t.comm

    def extra_info(self, tid: int) -> Optional[str]:
        tasks = self.tasks()
        if tasks is None:
            return "CPU#0" if tid == self.CPU else None
        t = tasks.get(tid)
        if t is None:
            return None
        return f"{t.comm} (pid {t.pid}, {t.state_name(self.is_running(tid))})"

    def resume_pc(self, tid: int) -> Optional[int]:
        """Where a task that is not running will resume (its thread.ip)."""
        t = self.task(tid)
        return None if t is None or self.is_running(tid) else t.ip

    # -- registers
    def _cpu(self, tid: int) -> bool:
        tasks = self.tasks()
        if tasks is None:
            if tid != self.CPU:
                raise TargetRegisterError(f"no thread {tid}")
            return True
        if tid not in tasks:
            raise TargetRegisterError(f"no thread {tid}")
        return tid == self.current()

    def saved_registers(self, tid: int) -> Dict[str, int]:
        """The registers of a task that is not running, as far as they were saved."""
        t = self.task(tid)
        if t is None:
            raise TargetRegisterError(f"no thread {tid}")
        out = {"eip": t.ip, "esp": t.sp}
        if t.ip != self.layout.sym("ret_from_fork"):
            ebp = self.walker.read_u32(t.sp)
            flags = self.walker.read_u32(t.sp + 4)
            if ebp is not None:
                out["ebp"] = ebp
            if flags is not None:
                out["eflags"] = flags
        return out

    def read_register(self, tid: int, name: str) -> int:
        if self._cpu(tid) or name in _SHARED:
            return self.target.read_register(name)
        saved = self.saved_registers(tid)
        if name not in saved:
            raise TargetRegisterError(f"{name} of a task that is not running was not saved")
        return saved[name]

    def read_registers(self, tid: int, names: List[str]) -> List[int]:
        if self._cpu(tid):
            return self.target.read_registers(names)
        return [self.read_register(tid, n) for n in names]

    def write_register(self, tid: int, name: str, value: int) -> None:
        if not self._cpu(tid):
            t = self.task(tid)
            raise ThreadNotRunning(
                f"cannot write {name} of thread {tid} ({t.comm}, pid {t.pid}): "
                "the task is not running; its registers are what switch_to saved")
        self.target.write_register(name, value)


def make_thread_model(target: Target, kernel_path=None, tasks: bool = False):
    """KernelThreads when the kernel ELF describes its tasks; SingleThread otherwise
    (no ELF given, no DWARF, a fake target).  Returns (model, why-not or None)."""
    if kernel_path is None:
        return SingleThread(target), "no kernel ELF"
    from .oskernel import KernelLayout, LayoutError

    try:
        layout = KernelLayout.from_elf(kernel_path)
    except (OSError, LayoutError, Exception) as e:  # pyelftools raises its own errors
        return SingleThread(target), f"kernel tasks are not shown as threads: {e}"
    return KernelThreads(target, layout, enabled=tasks), None
