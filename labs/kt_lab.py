"""gdb helpers the labs add beside gdb_scripts/kt.py (load with `source labs/kt_lab.py`).

    kt-bt PID|COMM     backtrace of one task (any state: running, runnable, sleeping)
    kt-bt-all          every task's backtrace, headed by pid, comm and state
    kt-completions     who waits on which completion (tasks in wait_for_completion)
    kt-runq            the scheduler's run queue, in the order schedule() picks
    kt-stop-hook on|off  print `[task: pid N "comm"]` at every stop (off by default)

kt-bt and kt-bt-all switch the stub's kernel-tasks-as-threads mode on
(`monitor tasks on`), read gdb's thread list and run `bt` in the task's
thread, then return to the thread that was selected.  Once on, gdb announces
stops with thread names (`Thread 3 "kthreadd" hit Breakpoint 2`): that is
gdb's behaviour with more than one thread, not an error.
kt-stop-hook needs gdb_scripts/kt.py (`$kt_current()`).
"""
import re

import gdb

THREAD = re.compile(r'^(\*)?\s*(\d+)\s+Thread \d+ "([^"]*)" \(pid (\d+)(?:, ([^)]*))?\)')


def task_threads():
    """[(gdb thread number, comm, pid, state, running)] of every kernel task.

    Switches the stub's tasks-as-threads mode on; if it was off (gdb knew one
    thread, the CPU), gdb's register cache is flushed and the thread of the
    running task is selected, so gdb's view matches the CPU again."""
    was_on = len(gdb.selected_inferior().threads()) > 1
    try:
        gdb.execute("monitor tasks on", to_string=True)
        out = gdb.execute("info threads", to_string=True)
    except gdb.error as e:
        raise gdb.GdbError(f"kt-bt: cannot list the tasks as threads: {e}")
    res = []
    for line in out.splitlines():
        m = THREAD.match(line)
        if m:
            state = m.group(5) or ""
            res.append((int(m.group(2)), m.group(3), int(m.group(4)), state,
                        state == "running"))
    if not res:
        raise gdb.GdbError("kt-bt: the stub lists no kernel tasks (is the kernel past "
                           "start_kernel? `monitor tasks on` needs the task list)")
    if not was_on:
        running = [t for t in res if t[4]]
        if running:
            _thread(running[0][0]).switch()
    # gdb may have cached thread 1's registers when thread 1 was the CPU; with
    # tasks on it is swapper (pid 0): re-read (gdb sends Hg for the thread it needs next).
    gdb.execute("maintenance flush register-cache", to_string=True)
    return res


def _thread(num):
    for t in gdb.selected_inferior().threads():
        if t.num == num:
            return t
    raise gdb.GdbError(f"kt-bt: gdb has no thread {num}")


def _bt_in(num, header):
    gdb.write(header + "\n")
    selected = gdb.selected_thread()
    try:
        _thread(num).switch()
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
        for num, comm, pid, state, cur in task_threads():
            if (arg.isdigit() and int(arg) == pid) or arg == comm:
                _bt_in(num, _header(comm, pid, state, cur))
                return
        raise gdb.GdbError(f"kt-bt: no task {arg} (kt-ps lists them)")


class KtBtAll(gdb.Command):
    """kt-bt-all: every kernel task's backtrace."""

    def __init__(self):
        super().__init__("kt-bt-all", gdb.COMMAND_STACK)

    def invoke(self, arg, from_tty):
        for num, comm, pid, state, cur in sorted(task_threads(), key=lambda t: t[2]):
            _bt_in(num, _header(comm, pid, state, cur))


def _completion_waits():
    """[(pid, comm, completion address, done count or None, caller text)]."""
    res = []
    selected = gdb.selected_thread()
    try:
        for num, comm, pid, state, cur in sorted(task_threads(), key=lambda t: t[2]):
            _thread(num).switch()
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
    head = sym.value()
    task_t = gdb.lookup_type("struct task_struct")
    off = int(gdb.parse_and_eval("(unsigned long)&((struct task_struct *)0)->run_list"))
    res = []
    try:
        node = head["next"]
        n = 0
        while int(node) != int(head.address):
            t = gdb.Value(int(node) - off).cast(task_t.pointer())
            res.append((int(t["pid"]), t["comm"].string(length=16).split("\0")[0],
                        int(t["state"])))
            node = node["next"]
            n += 1
            if n > 4096:
                raise gdb.GdbError("kt-runq: runqueue is corrupt or changing (over 4096 entries)")
    except gdb.MemoryError as e:
        raise gdb.GdbError(f"kt-runq: cannot read the run queue: {e}")
    return res


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
        comm = task["comm"].string(length=16).split("\0")[0]
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
