"""Kernel tasks as gdb threads (`KernelThreads`), the way kgdb shows them:
a sleeping task's registers from its saved switch_to context, register
writes refused for tasks that are not running, with the task layout read
from the kernel's DWARF (oskernel.py).  Thread ids are `ThreadIds`: per
connection, in the order gdb discovers the threads, so that the id gdb
prints as "Thread N" is also gdb's own thread number N.  Off by default
(`monitor tasks on`, or `kthread-stub --tasks`): with several threads gdb
prints "Thread N hit Breakpoint M, ..." instead of "Breakpoint M, ...", and
the documented kthreadd session must stay as the seed shows it.  Off, it
behaves as the stub's `SingleThread` (threadmodel.py); the monitor's
ps/dmesg work either way.
"""

from __future__ import annotations

from typing import Dict, List, Optional

from ..target import Target, TargetRegisterError
from ..threadmodel import SingleThread, ThreadModel, ThreadNotRunning, step_cpu
from .stepwait import step_task


class ThreadIds:
    """gdb thread ids of one connection, in the order gdb discovers threads.

    gdb numbers threads 1, 2, 3... in the order it first hears of them (a
    stop reply's ``thread:``, qC, a thread list, in list order) and prints
    both that number and the stub's id: ``[Switching to Thread 9]`` is the
    stub's id, ``Thread 8 "late/1" hit`` gdb's number.  A fixed rule such as
    pid + 1 makes them differ as soon as gdb hears of a task out of pid
    order (a new task first named by a stop reply, before an older task gdb
    has not listed yet), so the stub numbers the same way gdb does: a task
    gets the next id when a packet first names it to gdb; an id is never
    given to another task within the connection; a task a thread list leaves
    out is forgotten (gdb deletes its thread) and gets a new id if it is
    listed again (gdb then numbers it anew); a new connection, and a new
    inferior (extended-remote `run`), start at 1 again, as gdb does.
    Keys are pids (unique among live tasks; a pid that comes back after
    its task was forgotten is a new thread, as for gdb).
    """

    def __init__(self):
        self.reset()

    def reset(self) -> None:
        self._tid: Dict[int, int] = {}     # key (pid) -> thread id
        self._key: Dict[int, int] = {}     # thread id -> key
        self._next = 1

    def reveal(self, key: int) -> int:
        """The id of `key`, given now if gdb has not heard of it."""
        tid = self._tid.get(key)
        if tid is None:
            tid = self._tid[key] = self._next
            self._key[tid] = key
            self._next += 1
        return tid

    def listed(self, keys: List[int]) -> List[int]:
        """A full thread list goes to gdb: ids for `keys` (new ones in list
        order), the others forgotten; the ids in ascending order (new ones
        last, in the order gdb numbers them)."""
        tids = [self.reveal(k) for k in keys]
        for k in [k for k in self._tid if k not in set(keys)]:
            del self._key[self._tid.pop(k)]
        return sorted(tids)

    def tid(self, key: int) -> Optional[int]:
        """The id gdb knows `key` by, or None."""
        return self._tid.get(key)

    def key(self, tid: int) -> Optional[int]:
        return self._key.get(tid)


# Registers every kernel task shares with the CPU: one set of flat kernel
# segments, no per-task selectors (no user mode, no TLS).
_SHARED = ("cs", "ss", "ds", "es", "fs", "gs")


class KernelThreads(ThreadModel):
    """Kernel tasks as gdb threads, the way kgdb shows them.

    * Thread ids are given in the order gdb discovers the tasks
      (`ThreadIds`); inside, tasks are known by pid.
    * Each CPU's current task (``per_cpu(current_task, n)``) runs, with
      that CPU's registers.  CPU n's idle task (pid 0 like init_task, on no
      task list) is known by the key -n, as CPU n's thread is.
    * A task that is not running has the registers its ``switch_to`` saved:
      eip = thread.ip (label 1 in switch_to, inside schedule()), esp =
      thread.sp, ebp = the word at thread.sp (pushed by switch_to), eflags =
      the word above it.  A task that never ran has eip = ret_from_fork and
      esp = thread.sp (its pt_regs) only.  The segment registers are the
      CPU's (every task runs on the same flat kernel segments).  Everything
      else (eax..edi, x87) was not saved anywhere and reads as unavailable
      ('x' in g replies).  Writing any register of such a task is refused.
    * Before the kernel has a task list (reset vector, paging off:
      current_task unreadable or NULL), and with tasks not shown, there is
      one thread, the CPU, as with `SingleThread`; it has swapper's id (the
      boot code runs as task 0), so gdb's first thread stays the same
      thread when the kernel's data are mapped or tasks are turned on.

    The view is recomputed once per register generation of the target (that
    is, after the machine ran or gdb wrote a register) and on `invalidate()`
    (gdb wrote memory).
    """

    tasks_known = True

    CPU_PID = 0   # the key of CPU 0's thread: the boot code runs as task 0
    # With more than one CPU and tasks not shown, each CPU is a thread (as
    # QEMU shows vCPUs): CPU k > 0 has the key -k, no pid.

    def _cpu_keys(self) -> List[int]:
        return [-k for k in range(self.target.cpus)]

    def _cpu_of(self, key: int) -> Optional[int]:
        """The CPU whose thread has this key (CPU mode), or None."""
        return -key if key in self._cpu_keys() else None

    def __init__(self, target: Target, layout, enabled: bool = True):
        from .oskernel import TaskWalker

        self.target = target
        self.layout = layout
        self.walker = TaskWalker(layout, target.read_memory)
        self.enabled = enabled  # False: show the CPU as one thread (`monitor tasks off`)
        self.ids = ThreadIds()
        self._key = object()
        self._cur = None       # CPU 0's current Task, or None (no task list yet)
        self._curs = {}        # {cpu: its current Task}
        self._tasks = None     # {pid: Task} in list order, or None when not computed
        # (pid, task addr) of a task that released itself and that a step gdb
        # asked for switched off the CPU for good: still a thread until gdb
        # resumes (see keep_departed).
        self._departed = None

    def new_inferior(self) -> None:
        self.ids.reset()
        self.forget_departed()

    # -- snapshots
    def invalidate(self) -> None:
        self._key = object()

    def set_enabled(self, on: bool) -> None:
        self.enabled = on
        self.invalidate()

    def _fresh(self) -> None:
        key = self.target.generation
        if key is None or key != self._key:
            self._key = key if key is not None else object()
            self._curs = self.currents() if self.enabled else {}
            self._cur = self._curs.get(0)
            self._tasks = None

    def task_table(self):
        """{pid: Task} read from the kernel whether or not tasks are shown as
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

    def running_pid(self) -> Optional[int]:
        """Pid of the task on the running CPU (even when tasks are not shown)."""
        cur = self._current_raw(self.target.running_cpu)
        return None if cur is None else cur.pid

    def running_keys(self) -> Dict[int, int]:
        """{key: cpu} of each CPU's current task (even when tasks are not shown)."""
        return {self._key_of(cpu, t): cpu for cpu, t in self.currents().items()}

    @staticmethod
    def _key_of(cpu: int, task) -> int:
        return -cpu if task.pid == 0 and cpu > 0 else task.pid

    def thread_of(self, pid: int) -> Optional[int]:
        """The thread id gdb knows task `pid` by on this connection, or None."""
        return self.ids.tid(pid) if self.enabled else None

    def _current_raw(self, cpu: int = 0):
        addr = self.walker.current_task(cpu)
        if not addr:
            return None
        task = self.walker.read_task(addr)
        if task is None or task.pid < 0:
            return None
        return task

    def currents(self):
        """{cpu: its current Task} (per_cpu(current_task, cpu)) for the CPUs whose
        current_task is readable, whether or not tasks are shown as threads."""
        curs = {}
        for cpu in range(self.target.cpus):
            t = self._current_raw(cpu)
            if t is not None:
                curs[cpu] = t
        return curs

    def tasks(self):
        """{pid: Task} of every task (list order, init_task first); None in CPU mode."""
        self._fresh()
        if self._cur is None:
            return None
        if self._tasks is None:
            found = self.walker.tasks() or []
            out = {}
            for t in found:
                if t.pid >= 0:          # a corrupt pid (-2) is no thread
                    out.setdefault(t.pid, t)
            for cpu, cur in self._curs.items():   # even if not (or no longer) listed
                out.setdefault(self._key_of(cpu, cur), cur)
            if self._departed is not None:
                t = self.walker.read_task(self._departed[1])
                if t is not None:
                    out.setdefault(self._departed[0], t)
            self._tasks = out
        return self._tasks

    def keep_departed(self, tid: int, addr: int) -> None:
        """Keep thread `tid` (its task at `addr`) though the task is neither
        listed nor running: a kthread releases itself (release_task() unlinks
        it) before its last switch, and when that switch is the step gdb asked
        of it, gdb needs the step to end naming it; it is dropped at the next
        resume."""
        self._departed = (self.ids.key(tid), addr)
        self._tasks = None

    def forget_departed(self, keep: Optional[int] = None) -> None:
        if self._departed is not None and (keep is None or self.ids.key(keep) != self._departed[0]):
            self._departed = None
            self._tasks = None

    def kernel_mode(self) -> bool:
        """True once the kernel's task list is readable."""
        self._fresh()
        return self._cur is not None

    def current_task(self):
        self._fresh()
        return self._cur

    def _pid(self, tid: int) -> Optional[int]:
        """The pid of thread `tid` if it is a thread now (CPU mode: CPU_PID)."""
        pid = self.ids.key(tid)
        if pid is None:
            return None
        tasks = self.tasks()
        if tasks is None:
            return pid if self._cpu_of(pid) is not None else None
        return pid if pid in tasks else None

    # -- ThreadModel
    def thread_ids(self) -> List[int]:
        tasks = self.tasks()
        return self.ids.listed(self._cpu_keys() if tasks is None else list(tasks))

    def _running_key(self) -> int:
        self._fresh()
        cpu = self.target.running_cpu
        cur = self._curs.get(cpu)
        return -cpu if self._cur is None or cur is None else self._key_of(cpu, cur)

    def cpu_of_task(self, tid: int) -> Optional[int]:
        """The CPU that task thread `tid` is the current task of, or None."""
        key = self._pid(tid)
        return None if key is None or self.tasks() is None else self._cpu_running(key)

    def _cpu_running(self, key: int) -> Optional[int]:
        """The CPU whose current task has this key, or None."""
        self._fresh()
        return next((cpu for cpu, t in self._curs.items() if self._key_of(cpu, t) == key), None)

    def core(self, tid: int) -> int:
        """The CPU of thread `tid` for qXfer:threads: a task's task->cpu, a CPU's number."""
        t = self.task(tid)
        if t is not None:
            return t.cpu
        return self._cpu_of(self.ids.key(tid)) or 0

    def current(self) -> int:
        return self.ids.reveal(self._running_key())

    def running(self) -> Optional[int]:
        return self.ids.tid(self._running_key())

    def is_alive(self, tid: int) -> bool:
        return self._pid(tid) is not None

    def is_running(self, tid: int) -> bool:
        """On a CPU: the running CPU's thread, or any CPU's current task."""
        return self._pid(tid) == self._running_key() or self.cpu_of_task(tid) is not None

    def task(self, tid: int):
        pid = self._pid(tid)
        tasks = self.tasks()
        return None if pid is None or tasks is None else tasks[pid]

    def state(self, tid: int) -> Optional[str]:
        t = self.task(tid)
        return None if t is None else t.state_name(self.is_running(tid))

    def thread_name(self, tid: int) -> Optional[str]:
        t = self.task(tid)
        return None if t is None else t.comm

    def extra_info(self, tid: int) -> Optional[str]:
        if self._pid(tid) is None:
            return None
        t = self.task(tid)
        if t is None:
            cpu = self._cpu_of(self.ids.key(tid))
            state = self.target.cpu_state(cpu)
            return f"CPU#{cpu}" + ("" if state == "running" else f" [{state}]")
        return f"{t.comm} (pid {t.pid}, {t.state_name(self.is_running(tid))})"

    def label(self, pid: int) -> str:
        """'Thread 3 "kthreadd" (pid 2, sleeping)', as gdb's info threads shows
        task `pid`; 'pid 2 "kthreadd" (sleeping)' if gdb has not heard of it."""
        tasks = self.tasks() or {}
        t = tasks.get(pid)
        tid = self.ids.tid(pid)
        if t is None:
            return f"Thread {tid}" if tid is not None else f"pid {pid}"
        state = t.state_name(self._cpu_running(pid) is not None)
        if tid is None:
            return f'pid {pid} "{t.comm}" ({state})'
        return f'Thread {tid} "{t.comm}" (pid {pid}, {state})'

    def step(self, tid, others_run, step, breakpoints):
        """A task that is not on the CPU is waited for (stepwait.py); a CPU
        thread that is not running becomes the running CPU."""
        cpu = None if tid is None else self._other_cpu(tid)
        if cpu is None and tid is not None and tid != self.running():
            cpu = self.cpu_of_task(tid)   # the current task of another CPU
        if cpu is not None:
            return step_cpu(self.target, cpu, tid, step)
        return step_task(self, tid, others_run, step, breakpoints)

    def resume_pc(self, tid: int) -> Optional[int]:
        """Where a task that is not running will resume (its thread.ip)."""
        t = self.task(tid)
        return None if t is None or self.is_running(tid) else t.ip

    # -- registers
    def _cpu(self, tid: int) -> bool:
        """True when thread `tid` has the running CPU's registers."""
        if self._pid(tid) is None:
            raise TargetRegisterError(f"no thread {tid}")
        return self._pid(tid) == self._running_key()

    def saved_registers(self, tid: int) -> Dict[str, int]:
        """The registers of a task that is not running, as far as they were saved."""
        t = self.task(tid)
        if t is None:
            raise TargetRegisterError(f"no thread {tid}")
        return self.walker.saved_registers(t)

    def _other_cpu(self, tid: int) -> Optional[int]:
        """The CPU of thread `tid` when it is a CPU that is not running."""
        return self._cpu_of(self.ids.key(tid)) if self.tasks() is None else None

    def _cpu_registers(self, tid: int) -> Optional[int]:
        """The CPU (not the running one) whose registers thread `tid` has:
        a CPU thread, or the current task of that CPU; None otherwise."""
        cpu = self._other_cpu(tid)
        return self.cpu_of_task(tid) if cpu is None else cpu

    def read_register(self, tid: int, name: str) -> int:
        if self._cpu(tid) or name in _SHARED:
            return self.target.read_register(name)
        cpu = self._cpu_registers(tid)
        if cpu is not None:
            return self.target.read_cpu_registers(cpu, [name])[0]
        saved = self.saved_registers(tid)
        if name not in saved:
            raise TargetRegisterError(f"{name} of a task that is not running was not saved")
        return saved[name]

    def read_registers(self, tid: int, names: List[str]) -> List[int]:
        if self._cpu(tid):
            return self.target.read_registers(names)
        cpu = self._cpu_registers(tid)
        if cpu is not None:
            return self.target.read_cpu_registers(cpu, names)
        return [self.read_register(tid, n) for n in names]

    def write_register(self, tid: int, name: str, value: int) -> None:
        if not self._cpu(tid):
            cpu = self._cpu_registers(tid)
            if cpu is not None:
                raise ThreadNotRunning(f"cannot write {name} of CPU {cpu}: only the CPU "
                                       "that ran last (the stop's thread) can be written")
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
