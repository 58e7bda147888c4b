"""gdb side of `kthread-lab mermaid`: record the kthread_create handshake.

Breakpoints whose stop() never stops (they run inside gdb at each hit and
return False) record who did what; `oops_test` (called right after "init:
boot complete") is the one real stop.  Each event is printed as one line
`KT-EVENT kind pid arg...` when the run ends (kt-handshake-dump).
Needs gdb_scripts/kt.py ($kt_current, $kt_task).
"""
import gdb

EVENTS = []


def _cur():
    t = gdb.parse_and_eval("$kt_current()")
    return int(t["pid"])


def _fn_name(fn):
    try:
        return gdb.block_for_pc(int(fn)).function.name
    except (RuntimeError, AttributeError, gdb.error):
        return hex(int(fn))


def _caller():
    try:
        f = gdb.newest_frame().older()
        return f.name() if f is not None else None
    except gdb.error:
        return None


class _Rec(gdb.Breakpoint):
    def __init__(self, spec, kind):
        super().__init__(spec, internal=True)
        self.kind = kind
        self.silent = True

    def stop(self):
        try:
            self.record()
        except gdb.error as e:
            EVENTS.append(("error", -1, str(e)))
        return False


class KthreadCreate(_Rec):
    def record(self):
        EVENTS.append(("create", _cur(), _fn_name(gdb.parse_and_eval("threadfn"))))


class Wake(_Rec):
    def record(self):
        if _caller() in ("kthread_create", "kthread_stop"):
            p = gdb.parse_and_eval("p")
            EVENTS.append(("wake", _cur(), str(int(p["pid"])), _caller()))


class Wait(_Rec):
    def record(self):
        if _caller() in ("kthread_create", "kthread_stop"):
            EVENTS.append(("wait", _cur(), _caller()))


class Complete(_Rec):
    def record(self):
        caller = _caller()
        if caller in ("kthread", "create_kthread", "do_exit", "complete_and_exit"):
            # who waits on it (the requester), from the completion's wait queue
            x = gdb.parse_and_eval("x")
            waiters = []
            head = x["wait"]["task_list"]
            node = head["next"]
            wq = gdb.lookup_type("struct __wait_queue")
            off = int(gdb.parse_and_eval("(unsigned long)&((struct __wait_queue *)0)->task_list"))
            n = 0
            while int(node) != int(head.address) and n < 16:
                w = gdb.Value(int(node) - off).cast(wq.pointer())
                waiters.append(str(int(w["task"]["pid"])))
                node = node["next"]
                n += 1
            fn = "-"
            if caller == "kthread":
                try:
                    create = gdb.newest_frame().older().read_var("_create")
                    create = create.cast(gdb.lookup_type("struct kthread_create_info").pointer())
                    fn = _fn_name(create["threadfn"])
                except gdb.error:
                    pass
            EVENTS.append(("complete", _cur(), caller, ",".join(waiters) or "-", fn))


class Fork(_Rec):
    def record(self):
        EVENTS.append(("fork", _cur()))


class Dump(gdb.Command):
    """kt-handshake-dump: print the recorded events and every pid's comm."""

    def __init__(self):
        super().__init__("kt-handshake-dump", gdb.COMMAND_DATA)

    def invoke(self, arg, from_tty):
        pids = sorted({e[1] for e in EVENTS if e[1] >= 0}
                      | {int(e[2]) for e in EVENTS if e[0] == "wake"})
        for pid in pids:
            try:
                comm = gdb.parse_and_eval(f"$kt_task({pid})")["comm"].string(length=16)
                comm = comm.split("\0")[0]
            except gdb.error:
                comm = "?"
            gdb.write(f"KT-COMM {pid} {comm}\n")
        for e in EVENTS:
            gdb.write("KT-EVENT " + " ".join(str(x) for x in e) + "\n")


KthreadCreate("kthread_create", "create")
Wake("wake_up_process", "wake")
Wait("wait_for_completion", "wait")
Complete("complete", "complete")
Fork("create_kthread", "fork")
Dump()
