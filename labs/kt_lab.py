"""gdb helpers the labs add beside gdb_scripts/kt.py (load with `source labs/kt_lab.py`).

    kt-bt PID|COMM     backtrace of one task (any state: running, runnable, sleeping)
    kt-bt-all          every task's backtrace, headed by pid, comm and state
    kt-completions     who waits on which completion (tasks in wait_for_completion)
    kt-runq            the scheduler's run queue, in the order schedule() picks
    kt-stop-hook on|off  print `[task: pid N "comm"]` at every stop (off by default)

kt-bt and kt-bt-all switch the stub's kernel-tasks-as-threads mode on
(`monitor tasks on`), ask the stub which gdb thread is which task
(kt.threads: its ids follow gdb's discovery order, so they are never
computed from pids) and run `bt` in the task's thread, then return to the
thread that was selected.  Once on, gdb announces stops with thread names
(`Thread 3 "kthreadd" hit Breakpoint 2`): that is gdb's behaviour with more
than one thread, not an error.  Tasks, lists and types come from the kt
package (gdb_scripts/kt.py, sourced here if it was not): its cached types
are forgotten when gdb loads other symbols, as Linux's scripts/gdb does.
"""
import os
import runpy
import sys

import gdb

if "kt" not in sys.modules:
    # gdb_scripts/kt.py puts the kt package on sys.path and registers kt-ps...;
    # run by path (a nested `source` would hand it this file's __file__)
    runpy.run_path(os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                                "gdb_scripts", "kt.py"))
from kt import taskstate, tasks, threads, utils  # noqa: E402


def task_threads():
    """[(gdb thread, comm, pid, state, running)] of every kernel task, in
    task-list order; state is the word `monitor ps` and `info threads` use.

    Switches the stub's tasks-as-threads mode on; if it was off (gdb's
    threads were the CPUs), gdb's register cache is flushed and the thread
    of the task running on the selected CPU is selected, so gdb's view
    matches that CPU again.  The tasks are read through gdb (kt.tasks),
    their threads asked of the stub (kt.threads): the stub numbers threads
    as gdb discovers them."""
    cpu = utils.with_prefix("kt-bt", threads.selected_cpu)
    was_on = utils.with_prefix("kt-bt", threads.show_tasks)
    by_key = utils.with_prefix("kt-bt", threads.task_threads)
    listed, curs = utils.with_prefix("kt-bt", tasks.tasks_and_currents)
    res, on_cpu = [], None
    for t in listed:
        pid, key = int(t["pid"]), (int(t["pid"]), int(t["cpu"]))
        if key not in by_key:
            continue
        running = int(t) in curs
        word = taskstate.decode(int(t["state"]), int(t["exit_state"]), running)[1]
        res.append((by_key[key], utils.read_string(t["comm"]), pid, word, running))
        if cpu < len(curs) and int(t) == curs[cpu]:
            on_cpu = by_key[key]
    if not res:
        raise gdb.GdbError("kt-bt: the stub lists no kernel tasks (is the kernel past "
                           "start_kernel? `monitor tasks on` needs the task list)")
    if not was_on and on_cpu is not None:
        on_cpu.switch()     # the selected CPU's task, as when gdb's thread was that CPU
    # gdb may have cached its first thread's registers when it was the CPU; with
    # tasks on it is swapper (pid 0): re-read (gdb sends Hg for the thread it needs next).
    gdb.execute("maintenance flush register-cache", to_string=True)
    return res


def _bt_in(thread, header):
    gdb.write(header + "\n")
    selected = gdb.selected_thread()
    try:
        thread.switch()
        gdb.write(gdb.execute("bt", to_string=True))
    finally:
        if selected is not None and selected.is_valid():
            selected.switch()


def _header(comm, pid, state, cur):
    return f"{'* ' if cur else ''}pid {pid} \"{comm}\"" + (f" ({state})" if state else "") + ":"


class KtBt(gdb.Command):
    """kt-bt PID|COMM: the backtrace of one kernel task, whatever its state."""

    def __init__(self):
        super().__init__("kt-bt", gdb.COMMAND_STACK)

    def invoke(self, arg, from_tty):
        arg = arg.strip()
        if not arg:
            raise gdb.GdbError("usage: kt-bt PID|COMM")
        for thread, comm, pid, state, cur in task_threads():
            if (arg.isdigit() and int(arg) == pid) or arg == comm:
                _bt_in(thread, _header(comm, pid, state, cur))
                return
        raise gdb.GdbError(f"kt-bt: no task {arg} (kt-ps lists them)")


class KtBtAll(gdb.Command):
    """kt-bt-all: every kernel task's backtrace."""

    def __init__(self):
        super().__init__("kt-bt-all", gdb.COMMAND_STACK)

    def invoke(self, arg, from_tty):
        for thread, comm, pid, state, cur in sorted(task_threads(), key=lambda t: t[2]):
            _bt_in(thread, _header(comm, pid, state, cur))


def _completion_waits():
    """[(pid, comm, completion address, done count or None, caller text)]."""
    res = []
    selected = gdb.selected_thread()
    try:
        for thread, comm, pid, state, cur in sorted(task_threads(), key=lambda t: t[2]):
            thread.switch()
            f = gdb.newest_frame()
            while f is not None:
                if f.name() == "wait_for_completion":
                    try:
                        x = f.read_var("x")
                        addr = int(x)
                        count = int(x.dereference()["done"])
                    except (gdb.error, ValueError):
                        addr, count = None, None
                    caller = f.older()
                    where = ""
                    if caller is not None:
                        sal = caller.find_sal()
                        loc = (f" at {sal.symtab.filename}:{sal.line}"
                               if sal.symtab is not None else "")
                        where = f"{caller.name() or '??'}(){loc}"
                    res.append((pid, comm, addr, count, where))
                    break
                f = f.older()
    finally:
        if selected is not None and selected.is_valid():
            selected.switch()
    return res


class KtCompletions(gdb.Command):
    """kt-completions: every task sleeping in wait_for_completion(), and on what."""

    def __init__(self):
        super().__init__("kt-completions", gdb.COMMAND_DATA)

    def invoke(self, arg, from_tty):
        waits = _completion_waits()
        if not waits:
            gdb.write("no task waits in wait_for_completion()\n")
            return
        for pid, comm, addr, count, where in waits:
            what = (f"completion 0x{addr:08x} (done {count})" if addr is not None
                    else "a completion (address optimized out)")
            gdb.write(f"{comm} (pid {pid}) waits on {what}, called from {where}\n")


def runqueue():
    """[(pid, comm, state)] of the tasks on kernel/sched.c's `runqueue`, head first."""
    sym = gdb.lookup_static_symbol("runqueue")
    if sym is None:
        raise gdb.GdbError("kt-runq: no symbol 'runqueue' (kernel/sched.c): is this the kthread kernel?")
    try:
        return [(int(t["pid"]), utils.read_string(t["comm"]), int(t["state"]))
                for t in utils.list_entries(sym.value(), tasks.task_type.get_type(), "run_list")]
    except gdb.GdbError as e:
        raise gdb.GdbError(f"kt-runq: {e}")
    except gdb.MemoryError as e:
        raise gdb.GdbError(f"kt-runq: cannot read the run queue: {e}")


class KtRunq(gdb.Command):
    """kt-runq: the run queue (runnable tasks but the idle task), next to run first."""

    def __init__(self):
        super().__init__("kt-runq", gdb.COMMAND_DATA)

    def invoke(self, arg, from_tty):
        rq = runqueue()
        cur = int(gdb.parse_and_eval("$kt_current()->pid"))
        if not rq:
            gdb.write(f"run queue empty: schedule() picks the idle task (current: pid {cur})\n")
            return
        gdb.write(f"run queue ({len(rq)} task{'s' if len(rq) != 1 else ''}, head first; "
                  f"current: pid {cur}):\n")
        for i, (pid, comm, state) in enumerate(rq):
            gdb.write(f"  {i}  pid {pid:<3} {comm:<16} state {state}"
                      f"{'  (current)' if pid == cur else ''}\n")


_hooked = [False]


def _on_stop(event):
    try:
        task = gdb.parse_and_eval("$kt_current()")
        pid = int(task["pid"])
        comm = utils.read_string(task["comm"])
        gdb.write(f"[task: pid {pid} \"{comm}\"]\n")
    except gdb.error:
        pass


class KtStopHook(gdb.Command):
    """kt-stop-hook on|off: print the current task's pid and name at every stop."""

    def __init__(self):
        super().__init__("kt-stop-hook", gdb.COMMAND_STATUS)

    def invoke(self, arg, from_tty):
        arg = arg.strip()
        if arg == "on" and not _hooked[0]:
            gdb.events.stop.connect(_on_stop)
            _hooked[0] = True
        elif arg == "off" and _hooked[0]:
            gdb.events.stop.disconnect(_on_stop)
            _hooked[0] = False
        elif arg not in ("on", "off"):
            raise gdb.GdbError("usage: kt-stop-hook on|off")


KtBt()
KtBtAll()
KtStopHook()
KtCompletions()
KtRunq()
