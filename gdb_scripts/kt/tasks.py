"""Tasks: kt-ps, $kt_task(pid), $kt_current([cpu]).

The kernel keeps every task on the circular list headed by
init_task.tasks (fork.c adds, exit.c removes in release_task); current_task
is the running one (only __switch_to() writes it), one per CPU: the symbol
is CPU 0's copy, CPU n's is at &current_task + __per_cpu_offset[n]
(asm/percpu.h).
"""
import gdb

from kt import taskstate, threads, utils

task_type = utils.CachedType("struct task_struct")


def init_task():
    return utils.lookup_variable("init_task", "head of the task list")


def current_task():
    """current_task (a struct task_struct *), or GdbError if unreadable/NULL."""
    ptr = utils.lookup_variable("current_task", "the running task")
    try:
        addr = int(ptr)
    except gdb.MemoryError as e:
        raise utils.memory_error(e, "current_task")
    if addr == 0:
        raise gdb.GdbError("current_task is NULL: the scheduler is not set up yet")
    return ptr


def _per_cpu_offsets():
    """__per_cpu_offset (a gdb.Value array), or None for a kernel without
    per-CPU areas (one CPU)."""
    try:
        return gdb.parse_and_eval("__per_cpu_offset")
    except gdb.error:
        return None


def _current_on(cpu, offsets, cur):
    """per_cpu(current_task, cpu) for cpu > 0, or None if its per-CPU area
    is not set up yet (__per_cpu_offset[cpu] still 0)."""
    off = int(offsets[cpu])
    if not off:
        return None
    base = int(gdb.parse_and_eval("&current_task"))
    return gdb.Value((base + off) & 0xFFFFFFFF).cast(cur.type.pointer()).dereference()


def cpu_current(cpu):
    """per_cpu(current_task, cpu), a struct task_struct *: CPU 0's is the
    symbol, CPU n's at &current_task + __per_cpu_offset[n].  GdbError for a
    CPU the kernel cannot have, or one not set up yet."""
    cur = current_task()
    if cpu == 0:
        return cur
    offsets = _per_cpu_offsets()
    ncpus = 1 if offsets is None else offsets.type.range()[1] + 1
    if not 0 <= cpu < ncpus:
        raise gdb.GdbError(f"no CPU {cpu}: this kernel has CPUs 0 to {ncpus - 1} (NR_CPUS)")
    try:
        task = _current_on(cpu, offsets, cur)
        if task is None or int(task) == 0:
            raise gdb.GdbError(f"CPU {cpu} is not up: it has no current task yet")
        return task
    except gdb.MemoryError as e:
        raise utils.memory_error(e, f"CPU {cpu}'s current_task")


def cpu_currents():
    """[struct task_struct *] of every CPU whose per-CPU area is set up,
    CPU 0's first (a CPU not started yet has __per_cpu_offset[n] == 0)."""
    cur = current_task()
    offsets = _per_cpu_offsets()
    if offsets is None:
        return [cur]
    found = [cur]
    try:
        for n in range(1, offsets.type.range()[1] + 1):
            task = _current_on(n, offsets, cur)
            if task is not None and int(task):
                found.append(task)
    except gdb.MemoryError as e:
        raise utils.memory_error(e, "__per_cpu_offset")
    return found


def selected_cpu():
    """The CPU of gdb's selected thread (kt.threads.selected_cpu), 0 without
    asking when no other CPU is set up (one CPU: no `monitor ps` per stop)."""
    offsets = _per_cpu_offsets()
    try:
        if offsets is None or not any(int(offsets[n])
                                      for n in range(1, offsets.type.range()[1] + 1)):
            return 0
    except gdb.MemoryError:
        return 0        # paging is off: CPU 0's current_task says so in its error
    return threads.selected_cpu()


def task_list():
    """Every task as a struct task_struct * gdb.Value: init_task first.

    Raises gdb.GdbError (never gdb.MemoryError) when the list cannot be
    read, e.g. at the reset vector before paging is on.
    """
    head_task = init_task()
    typ = task_type.get_type()
    try:
        tasks = [head_task.address]
        tasks += list(utils.list_entries(head_task["tasks"], typ, "tasks"))
        return tasks
    except gdb.MemoryError as e:
        raise utils.memory_error(e, "the task list (init_task.tasks)")


def find_task(pid):
    """The struct task_struct * of task `pid`, or None."""
    for t in task_list():
        if int(t["pid"]) == pid:
            return t
    return None


def task_info(t, current_addrs=()):
    """(address, pid, state text, comm, is_current) of task pointer `t`;
    `current_addrs`: the tasks on a CPU."""
    addr = int(t)
    is_current = addr in current_addrs
    # kt.taskstate: the decoder the stub's `monitor ps` uses too
    state = taskstate.describe(int(t["state"]), int(t["exit_state"]), is_current)
    return addr, int(t["pid"]), state, utils.read_string(t["comm"]), is_current


def tasks_and_currents():
    """(every task, in task-list order, then any CPU's current task that is on
    no list; the addresses of every CPU's current task), as the stub lists them."""
    tasks = task_list()
    listed = {int(t) for t in tasks}
    curs = []
    for cur_task in cpu_currents():
        cur = int(cur_task)
        curs.append(cur)
        if cur not in listed:
            # released (exit.c unlinks it) but still on the CPU, or another CPU's
            # idle task (on no list): shown, as the stub shows it
            tasks.append(cur_task)
            listed.add(cur)
    return tasks, curs


def ps_rows():
    """One task_info() tuple per task, in task-list order."""
    try:
        tasks, curs = tasks_and_currents()
        return [task_info(t, curs) for t in tasks]
    except gdb.MemoryError as e:
        raise utils.memory_error(e, "a task_struct")


def format_ps(rows):
    lines = [f"  {'TASK':<10} {'PID':>5}  {'STATE':<20}  COMM"]
    for addr, pid, state, comm, is_current in rows:
        mark = "*" if is_current else " "
        lines.append(f"{mark} 0x{addr:08x} {pid:5d}  {state:<20}  {comm}")
    return "\n".join(lines) + "\n"


def ps_text():
    return format_ps(ps_rows())


class KtPs(gdb.Command):
    """List the kernel's tasks: address, pid, state and comm (like lx-ps).

Walks init_task.tasks; '*' marks current_task, the task on the CPU.
States: R (running/runnable), S (sleeping, interruptible),
D (uninterruptible), Z (zombie), X (dead)."""

    def __init__(self):
        super().__init__("kt-ps", gdb.COMMAND_DATA)

    def invoke(self, arg, from_tty):
        if arg.strip():
            raise gdb.GdbError("kt-ps takes no arguments")
        utils.no_target_note("kt-ps")
        gdb.write(utils.with_prefix("kt-ps", ps_text))


class KtTask(gdb.Function):
    """$kt_task(PID): the struct task_struct * of the task with that pid.

Example: print $kt_task(2)->comm"""

    def __init__(self):
        super().__init__("kt_task")

    def invoke(self, pid=None):
        if pid is None:
            raise gdb.GdbError("$kt_task: usage: $kt_task(PID)")
        pid = int(pid)
        t = utils.with_prefix("$kt_task", find_task, pid)
        if t is None:
            raise gdb.GdbError(f"$kt_task: no task with pid {pid}")
        return t


class KtCurrent(gdb.Function):
    """$kt_current([CPU]): the task running on CPU, a struct task_struct *
(per_cpu(current_task, CPU), as Linux's $lx_current(cpu)).  Without CPU: the
CPU of gdb's selected thread (thread CPU#k with tasks off; with tasks on,
the CPU of the selected task).

Example: print $kt_current()->pid, print $kt_current(1)->comm"""

    def __init__(self):
        super().__init__("kt_current")

    def invoke(self, cpu=None):
        if cpu is None:
            n = utils.with_prefix("$kt_current", selected_cpu)
        else:
            try:
                n = int(cpu)
            except gdb.error:
                raise gdb.GdbError(f"$kt_current: the CPU must be a number, not {cpu}")
        return utils.with_prefix("$kt_current", cpu_current, n)


KtPs()
KtTask()
KtCurrent()
