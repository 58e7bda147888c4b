"""kt-kthreads: pending kthread_create() requests (kernel_src/kernel/kthread.c).

kthread_create() puts a struct kthread_create_info (on the requester's
stack) on the file-static kthread_create_list, wakes kthreadd and sleeps
in wait_for_completion(&create->done); kthreadd takes requests off the
list and forks each; the new thread fills in ->result and completes ->done.
"""
import gdb

from kt import utils
from kt import tasks

create_info_type = utils.CachedType("struct kthread_create_info")
wait_queue_type = utils.CachedType("struct __wait_queue")


def completion_state(done):
    """(count, [waiting task pointers]) of a struct completion value."""
    waiters = [w["task"] for w in utils.list_entries(
        done["wait"]["task_list"], wait_queue_type.get_type(), "task_list")]
    return int(done["done"]), waiters


def pending_requests():
    """One dict per request on kthread_create_list, oldest (next served) first.

    Keys: address, threadfn (symbol), data, result (ints), done (count),
    waiters (list of (pid, comm)).
    """
    head = utils.lookup_variable("kthread_create_list", "kthread_create() requests")
    typ = create_info_type.get_type()
    try:
        out = []
        for info in utils.list_entries(head, typ, "list"):
            count, waiters = completion_state(info["done"])
            out.append({
                "address": int(info),
                "threadfn": utils.symbol_name(info["threadfn"]),
                "data": int(info["data"]),
                "result": int(info["result"]),
                "done": count,
                "waiters": [(int(t["pid"]), utils.read_string(t["comm"]))
                            for t in waiters],
            })
        return out
    except gdb.MemoryError as e:
        raise utils.memory_error(e, "kthread_create_list")


def format_requests(reqs):
    if not reqs:
        return "kthread_create_list is empty: no pending kthread_create() requests\n"
    n = len(reqs)
    lines = [f"{n} pending kthread_create() request{'s' if n != 1 else ''} "
             f"on kthread_create_list (kthreadd serves the first):"]
    for r in reqs:
        # ->result is written just before ->done is completed: until then
        # it is whatever was on the requester's stack.
        if r["done"] == 0:
            result = "not set yet"
        else:
            result = f"0x{r['result']:08x}" if r["result"] else "NULL"
        lines.append(f"request 0x{r['address']:08x}: threadfn {r['threadfn']}, "
                     f"data 0x{r['data']:x}, result {result}")
        if r["waiters"]:
            who = ", ".join(f"{comm} (pid {pid})" for pid, comm in r["waiters"])
            waiting = f"waited on by {who}"
        else:
            waiting = "nobody waiting"
        lines.append(f"  done: count {r['done']}, {waiting}")
    return "\n".join(lines) + "\n"


def kthreads_text():
    return format_requests(pending_requests())


class KtKthreads(gdb.Command):
    """List pending kthread_create() requests on kthread_create_list.

For each struct kthread_create_info: its address, the thread function,
data and result, and its `done` completion: the count of complete()
calls not yet consumed and the tasks sleeping in wait_for_completion()."""

    def __init__(self):
        super().__init__("kt-kthreads", gdb.COMMAND_DATA)

    def invoke(self, arg, from_tty):
        if arg.strip():
            raise gdb.GdbError("kt-kthreads takes no arguments")
        utils.no_target_note("kt-kthreads")
        gdb.write(utils.with_prefix("kt-kthreads", kthreads_text))


KtKthreads()
