"""One source of kernel knowledge: a scratch copy of the kernel with other
struct layouts, and every view still agrees on it.

The copy adds a member before `state` (so every task_struct member, comm
and state included, moves), puts struct completion's `done` after its wait
queue, the wait queue head's list before its lock, and list_head's `prev`
before `next`.  Built in a temporary folder and booted under a real stub
with a trace; real gdb then compares `monitor ps` (the stub, offsets from
DWARF), kt-ps (gdb's types), the labs' kt-bt-all and kt-runq (kt_lab on
kt), and the trace's complete() events (the stub's probes) with what gdb
reads at the same stops.  The old trace read completion.done and
list_head.next at +0.
"""
import json
import os
import re
import shutil
import subprocess

import pytest

from gdbharness import run_gdb, section
from gdbstub.kernelaware.oskernel import KernelLayout
from gdbstub.kernelaware.schedtrace import trace_layout
from gdbstub.harness.session import ROOT

EDITS = {   # file -> [(text, replacement)]: each text must be there once
    "include/linux/sched.h": [
        ("struct task_struct {\n\tvolatile long state;",
         "struct task_struct {\n\tunsigned long layout_test[3];\t/* moves every member */\n"
         "\tvolatile long state;")],
    "include/linux/completion.h": [
        ("\tunsigned int done;\n\twait_queue_head_t wait;\n",
         "\twait_queue_head_t wait;\n\tunsigned int done;\n"),
        ("{ 0, __WAIT_QUEUE_HEAD_INITIALIZER((work).wait) }",
         "{ .done = 0, .wait = __WAIT_QUEUE_HEAD_INITIALIZER((work).wait) }")],
    "include/linux/wait.h": [
        ("\tspinlock_t lock;\n\tstruct list_head task_list;\n} wait_queue_head_t;",
         "\tstruct list_head task_list;\n\tspinlock_t lock;\n} wait_queue_head_t;")],
    "include/linux/list.h": [
        ("\tstruct list_head *next, *prev;", "\tstruct list_head *prev, *next;")],
}

# gdb Python at a stop in complete(x): what the trace's probe should have seen
COMPLETE = """python
from kt import utils
x = gdb.parse_and_eval("x")
head = x["wait"]["task_list"]
waiter = -1
if int(head["next"]) != int(head.address):
    wq = utils.container_of(head["next"], gdb.lookup_type("wait_queue_t"), "task_list")
    waiter = int(wq["task"]["pid"])
icount = gdb.execute("monitor icount", to_string=True).split()[-1]
gdb.write("COMPLETE %s 0x%08x %d %d\\n" % (icount, int(x), int(x["done"]), waiter))
end"""

MON = re.compile(r"^([* ])\s*(\d+)\s+(?:\d+|-)\s+(\S) \(([^)]*)\)\s+(\S+)$")
KT = re.compile(r"^([* ]) 0x[0-9a-f]{8}\s+(\d+)\s+(\S) \(([^)]*)\)\s+(\S+)$")
BT = re.compile(r'^(\* )?pid (\d+) "([^"]*)" \(([^)]*)\):$')
RUNQ = re.compile(r"^  \d+  pid (\d+)\s+(\S+)\s+state (\d+)")


def rows(text, pattern):
    out = {}
    for line in text.splitlines():
        m = pattern.match(line)
        if m:
            mark, pid, letter, word, comm = m.groups()
            out[int(pid)] = (mark, word, comm)
    return out


@pytest.fixture(scope="module")
def moved(tmp_path_factory, kernel):
    tree = tmp_path_factory.mktemp("layout") / "kernel_src"
    shutil.copytree(os.path.join(ROOT, "kernel_src"), tree,
                    ignore=shutil.ignore_patterns("build", "vmlinux", "vmlinux.sources"))
    for name, edits in EDITS.items():
        path = tree / name
        text = path.read_text()
        for old, new in edits:
            assert text.count(old) == 1, (name, old)
            text = text.replace(old, new)
        path.write_text(text)
    r = subprocess.run(["make", "-s", "-C", str(tree)], stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT, text=True, timeout=600)
    assert r.returncode == 0, r.stdout[-3000:]
    return str(tree / "vmlinux")


def test_the_copy_really_has_another_layout(moved, kernel):
    old, new = KernelLayout.from_elf(os.path.join(ROOT, kernel)), KernelLayout.from_elf(moved)
    for member in ("state", "pid", "comm", "tasks"):
        assert new.task[member] == old.task[member] + 12, member
    assert new.list_next == 4 and old.list_next == 0
    assert trace_layout(moved).completion_done > 0 == trace_layout(os.path.join(ROOT, kernel)).completion_done


@pytest.fixture(scope="module")
def views(moved, tmp_path_factory):
    trace = tmp_path_factory.mktemp("layout-trace") / "trace.json"

    def ps(name):
        return (f"echo ---{name}---\\n", "monitor ps", "echo ---kt-ps---\\n", "kt-ps",
                "echo ---bt---\\n", "kt-bt-all", "echo ---runq---\\n", "kt-runq",
                "echo ---end---\\n", "delete")
    text = run_gdb(moved, f"source {ROOT}/gdb_scripts/kt.py", f"source {ROOT}/labs/kt_lab.py",
                   "break complete", "continue", COMPLETE, "continue", COMPLETE,
                   "continue", COMPLETE, "delete",
                   "break __switch_to if prev->state != 0", "continue", *ps("switch"),
                   "break oops_test", "continue", *ps("booted"), "monitor trace off",
                   stub_args=("--trace", str(trace)))
    with open(trace) as f:
        return text, json.load(f)


@pytest.mark.parametrize("stop", ["switch", "booted"])
def test_monitor_ps_kt_ps_and_the_lab_helpers_agree(views, stop):
    text, _ = views
    part = section(text, f"---{stop}---\n", "---end---\n")
    mon, rest = part.split("---kt-ps---\n")
    kt, rest = rest.split("---bt---\n")
    bt, runq = rest.split("---runq---\n")
    mon, kt = rows(mon, MON), rows(kt, KT)
    assert len(mon) >= 5 and mon == kt, (mon, kt)
    assert any(comm == "kthreadd" for _, _, comm in kt.values())
    headers = {}
    for line in bt.splitlines():
        m = BT.match(line)
        if m:
            headers[int(m.group(2))] = ("*" if m.group(1) else " ", m.group(4), m.group(3))
    assert headers == kt, (headers, kt)
    queued = [(int(m.group(1)), m.group(2), int(m.group(3)))
              for m in map(RUNQ.match, runq.splitlines()) if m]
    for pid, comm, state in queued:       # TASK_RUNNING: waiting for the CPU, or on it
        assert state == 0 and kt[pid][2] == comm and kt[pid][1] in ("runnable", "running"), \
            (pid, comm, kt)


def test_the_trace_saw_what_gdb_sees(views):
    text, trace = views
    stops = [(int(ic), addr, int(done), int(waiter)) for ic, addr, done, waiter in
             re.findall(r"^COMPLETE (\d+) (0x[0-9a-f]{8}) (\d+) (-?\d+)$", text, re.M)]
    assert len(stops) == 3, text[-3000:]
    events = [e["args"] for e in trace["traceEvents"] if e.get("name") == "complete"
              and e.get("ph") == "i"]
    for ic, addr, done, waiter in stops:
        # the probe fires at complete()'s first instruction, gdb's breakpoint after the prologue
        ev = [a for a in events if a["icount"] <= ic][-1]
        assert (ev["completion"], ev["done"]) == (addr, done), (ev, addr, done)
        assert (ev["waiter"] is None) == (waiter < 0), (ev, waiter)
        if waiter >= 0:
            assert ev["waiter"].endswith(f"[{waiter}]"), (ev, waiter)
    names = {e["args"]["name"] for e in trace["traceEvents"] if e.get("name") == "thread_name"}
    ps = rows(section(text, "---booted---\n", "---bt---\n").split("---kt-ps---\n")[1], KT)
    for pid, (_, _, comm) in ps.items():
        assert f"{comm} (pid {pid})" in names, (pid, comm, names)
