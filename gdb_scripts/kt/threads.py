"""Kernel tasks as gdb threads: which gdb thread is task `pid`, and which
CPU gdb's selected thread stands for.

The stub (`monitor tasks on`, or kthread-stub --tasks) shows every task as a
thread, numbered per connection in the order gdb hears of them
(gdbstub/README.md, "Kernel tasks as threads"), so a task's thread is asked
for, never computed from its pid: `monitor ps` lists each task's pid with
its thread id, which is the `lwp` of the gdb thread's ptid (and gdb's own
thread number).  Needs the kthread stub; another target has no such
monitor command.
"""
import re

import gdb

# `monitor ps` rows: PID [CPU] THREAD STATE COMM (the CPU column with --cpus > 1)
_PS_ROW = re.compile(r"^[* ]\s*(\d+)\s+(\d+|-)\s")
_PS_ROW_CPU = re.compile(r"^[* ]\s*(\d+)\s+(\d+)\s+(\d+|-)\s")
_CPU_THREAD = re.compile(r"CPU#(\d+)")     # a CPU's thread with tasks off (as QEMU's vCPUs)


def show_tasks():
    """Have the stub show tasks as threads and gdb fetch the thread list.

    Returns True if they were shown already (the stub says so: counting
    gdb's threads cannot tell, since with more than one CPU each CPU is a
    thread)."""
    try:
        was_on = "as threads: on" in gdb.execute("monitor tasks", to_string=True)
        gdb.execute("monitor tasks on", to_string=True)
        # any command that updates gdb's thread list; `thread find` reads no frames
        gdb.execute("thread find .", to_string=True)
    except gdb.error as e:
        raise gdb.GdbError(f"cannot list the kernel tasks as threads: {e} "
                           "(is gdb connected to kthread-stub?)")
    return was_on


def ps_rows():
    """[(pid, cpu, thread id or None)] of `monitor ps` (cpu 0 when it has no
    CPU column: one CPU)."""
    try:
        out = gdb.execute("monitor ps", to_string=True)
    except gdb.error as e:
        raise gdb.GdbError(f"cannot ask the stub for its tasks: {e}")
    lines = out.splitlines()
    # the header tells the columns (gdb may echo the command before it)
    smp = any(line.split()[:2] == ["PID", "CPU"] for line in lines)
    rows = []
    for line in lines:
        m = (_PS_ROW_CPU if smp else _PS_ROW).match(line)
        if m:
            pid, cpu, tid = (m.groups() if smp else (m.group(1), "0", m.group(2)))
            rows.append((int(pid), int(cpu), None if tid == "-" else int(tid)))
    return rows


def thread_ids():
    """{pid: thread id} of the tasks gdb knows as threads (from `monitor ps`)."""
    return {pid: tid for pid, _cpu, tid in ps_rows() if tid is not None}


def selected_cpu():
    """The CPU of gdb's selected thread, as Linux's get_current_cpu(): a
    CPU's own thread (`CPU#k` with tasks off) is CPU k; a task's thread
    (tasks on) is on its task->cpu, the CPU column of `monitor ps`.  No
    thread (not connected): CPU 0."""
    thread = gdb.selected_thread()
    if thread is None:
        return 0
    m = _CPU_THREAD.match(thread.details or "")
    if m:
        return int(m.group(1))
    tid = thread.ptid[1]
    for _pid, cpu, row_tid in ps_rows():
        if row_tid == tid:
            return cpu
    raise gdb.GdbError(f"cannot tell the CPU of thread {thread.num}: "
                       "monitor ps does not list it (say $kt_current(CPU))")


def task_threads():
    """{(pid, cpu): gdb.InferiorThread} of every task gdb knows as a thread:
    keyed with the CPU too, since every CPU's idle task is pid 0."""
    by_id = {t.ptid[1]: t for t in gdb.selected_inferior().threads()}
    return {(pid, cpu): by_id[tid] for pid, cpu, tid in ps_rows() if tid in by_id}
