"""Kernel tasks as gdb threads: which gdb thread is task `pid`.

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

_PS_ROW = re.compile(r"^[* ]\s*(\d+)\s+(\d+|-)\s")


def show_tasks():
    """Have the stub show tasks as threads and gdb fetch the thread list.

    Returns True if they were shown already (gdb knew more than the one CPU
    thread)."""
    was_on = len(gdb.selected_inferior().threads()) > 1
    try:
        gdb.execute("monitor tasks on", to_string=True)
        # any command that updates gdb's thread list; `thread find` reads no frames
        gdb.execute("thread find .", to_string=True)
    except gdb.error as e:
        raise gdb.GdbError(f"cannot list the kernel tasks as threads: {e} "
                           "(is gdb connected to kthread-stub?)")
    return was_on


def thread_ids():
    """{pid: thread id} of the tasks gdb knows as threads (from `monitor ps`)."""
    try:
        out = gdb.execute("monitor ps", to_string=True)
    except gdb.error as e:
        raise gdb.GdbError(f"cannot ask the stub for its tasks: {e}")
    ids = {}
    for line in out.splitlines():
        m = _PS_ROW.match(line)
        if m and m.group(2) != "-":
            ids[int(m.group(1))] = int(m.group(2))
    return ids


def task_threads():
    """{pid: gdb.InferiorThread} of every task gdb knows as a thread."""
    by_id = {t.ptid[1]: t for t in gdb.selected_inferior().threads()}
    return {pid: by_id[tid] for pid, tid in thread_ids().items() if tid in by_id}
