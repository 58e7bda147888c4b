"""The kernel-awareness layer's part of the stub: `monitor` commands that
read our kernel (ps, tasks, dmesg, trace) and the end-of-session hook that
writes the scheduling trace, added to the stub's registries by `install`
(cli.py composes the stub with it and with `threads.make_thread_model`; the
stub imports nothing of this package).
"""

from __future__ import annotations

from ..dispatch import Context
from ..monitor import MonitorError, shown
from .oskernel import walkers
from .schedtrace import TAIL_DEFAULT, TraceError, TraceSlot
from .threads import KernelThreads

# Each command's help rows: the forms it takes (gdbstub/monitor.py checks them)
HELP = {
    "ps": (("monitor ps", "kernel tasks: pid, thread id, state, comm (* = on the CPU)"),),
    "dmesg": (("monitor dmesg", "the kernel log buffer (log_buf)"),),
    "cpus": (("monitor cpus", "each CPU: state, pc and current task (* the running one, "
                              "gdb's stop thread)"),),
    "tasks": (("monitor tasks [on|off]",
               "show kernel tasks as gdb threads (default off: a thread per CPU)"),),
    "trace": (("monitor trace on", "record scheduling from now (Chrome trace JSON, for Perfetto)\n"
                                   "into the stub's --trace FILE or a new file in its --trace-dir"),
              ("monitor trace off", "stop recording and write the file"),
              ("monitor trace tail [N]", "the last N trace events, one a line (default 20)"),
              ("monitor trace [status]", "whether recording, how many events, which file")),
}


def install(ctx: Context, trace_slot: TraceSlot) -> None:
    """Our monitor commands and the trace flush at the end of each session
    (kernel tasks as threads are the composer's: make_thread_model)."""
    for words, run in (("ps", ps), ("dmesg", dmesg), ("cpus", cpus), ("tasks", tasks_command),
                       ("trace", lambda ctx, args: trace(trace_slot, args))):
        ctx.monitor_commands.add(words, run, HELP[words])
    ctx.session_end_hooks.append(trace_slot.flush)


def _kernel(ctx) -> KernelThreads:
    if not isinstance(ctx.threads, KernelThreads):
        raise MonitorError("the stub has no kernel layout (no kernel ELF with DWARF)")
    return ctx.threads


def ps(ctx, args) -> str:
    threads = _kernel(ctx)
    tasks = threads.task_table()
    if tasks is None:
        raise MonitorError("the kernel has not set up its task list yet "
                           "(current_task is not readable)")
    running_keys = threads.running_keys()
    smp = threads.target.cpus > 1    # one CPU: no CPU column, the output it always had
    rows = []
    for key, t in tasks.items():
        running = key in running_keys
        tid = threads.thread_of(key)
        rows.append((running, t.pid, f"{t.cpu:3d}  " if smp else "",
                     "-" if tid is None else str(tid),
                     f"{t.state_letter(running)} ({t.state_name(running)})", t.comm))
    width = max([16] + [len(r[4]) for r in rows])   # 'D (uninterruptible)' is 19
    lines = [f"  PID  {'CPU  ' if smp else ''}THREAD  {'STATE':<{width}} COMM"]
    for running, pid, cpu, tid, state, comm in rows:
        lines.append(f"{'*' if running else ' '}{pid:4d}  {cpu}{tid:>6}  {state:<{width}} {comm}")
    return "\n".join(lines) + "\n"


def cpus(ctx, args) -> str:
    """The machine's `monitor cpus` rows, each with the task that CPU runs
    (per_cpu(current_task, n)): the row a layer that knows the kernel adds."""
    own = ctx.target.support_monitor()
    text = own.monitor("cpus") if own else None
    if text is None:
        raise MonitorError("the target has no CPUs to list")
    rows = text.splitlines()
    currents = ctx.threads.currents() if isinstance(ctx.threads, KernelThreads) else {}
    for k, t in currents.items():
        rows[k] += f"  {t.comm} (pid {t.pid})"
    return "".join(row + "\n" for row in rows)


def tasks_command(ctx, args) -> str:
    threads = _kernel(ctx)
    if args:                                  # on or off (the registry checked)
        on = args[0] == "on"
        threads.set_enabled(on)
        if not on:
            ctx.general_thread = ctx.continue_thread = 0   # any thread: the running CPU
        elif ctx.general_thread in (0, -1):
            # gdb took the last stop's thread, the CPU, as selected (Hg):
            # from now on that thread is swapper (pid 0), so its registers are swapper's
            ctx.general_thread = threads.thread_of(threads.CPU_PID) or 0
    state = "on" if threads.enabled else "off"
    text = f"kernel tasks as threads: {state}\n"
    if args:
        text += ("gdb sees the new thread list at its next stop or 'info threads' "
                 "(run 'maintenance flush register-cache' to re-read registers now)\n")
        cpu = threads.thread_of(threads.CPU_PID)
        cur = threads.running_pid() if threads.enabled else None
        if cur is not None and cur != threads.CPU_PID and cpu is not None:
            # gdb stays on its CPU thread, which is now swapper (pid 0), not the CPU
            task = threads.task_table()[cur]
            text += (f"gdb's current thread {cpu} is now swapper (pid 0); the CPU runs "
                     f"{task.comm} (pid {task.pid}): 'info threads' lists it\n")
    return text


def trace(slot: TraceSlot, args) -> str:
    """The machine's scheduling trace (schedtrace.py); the registry let only
    its forms through (`monitor trace on` takes no file name: a client never
    names a host file)."""
    sub = args[0] if args else "status"
    try:
        tr = slot.get()
        if sub == "on":
            old = tr.start_chosen()
            text = f"trace on from icount {tr.start_ic}: "
            text += (f"writing {tr.path} (on 'monitor trace off', when gdb detaches "
                     "and when the stub exits)\n" if tr.path else
                     "in memory ('monitor trace tail'; start the stub with --trace FILE "
                     "or --trace-dir DIR to save it)\n")
            return (f"previous trace written to {old}\n" if old else "") + text
        if sub == "off":
            if not tr.recording:
                return "trace is off already\n"
            path = tr.stop()
            where = f"written to {path}" if path else "kept in memory"
            return f"trace off: {len(tr.records)} events {where}\n"
        if sub == "tail":
            try:
                n = int(args[1]) if len(args) == 2 else TAIL_DEFAULT
            except ValueError:
                n = -1
            if n < 0:
                raise MonitorError(f"bad count {shown(args[1])}: say tail N, N >= 0")
            return tr.tail(n)
        return tr.status()
    except TraceError as e:
        raise MonitorError(str(e)) from None


def dmesg(ctx, args) -> str:
    try:
        text = _kernel(ctx).walker.log_bytes().decode("latin-1")
    except walkers.WalkError as e:
        raise MonitorError(str(e))
    if not text:
        return "(the log is empty)\n"
    return text if text.endswith("\n") else text + "\n"
