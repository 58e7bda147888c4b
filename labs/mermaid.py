"""`kthread-lab mermaid`: the kthread_create handshake of a boot as a Mermaid sequence diagram.

Recorded with gdb breakpoints that never stop (labs/handshake_events.py) on a
fresh deterministic machine, from the reset vector to `oops_test` (right after
"init: boot complete"); rendered here.  This is the gdb-side stand-in for the
issue's trace: no machine hooks, no Chrome trace JSON (not done).
"""
import os
import re

from . import ROOT


def record(kernel=None, timeout=120.0):
    from gdbstub import session
    if kernel is None:
        from machine.kbuild import ensure_kernel
        kernel = os.path.relpath(ensure_kernel(), ROOT)
    text, _ = session.run(commands=[
        f"source {os.path.join(ROOT, 'gdb_scripts', 'kt.py')}",
        f"source {os.path.join(ROOT, 'labs', 'handshake_events.py')}",
        "break oops_test", "continue", "kt-handshake-dump"],
        kernel=kernel, timeout=timeout, batch=True)
    comms, events = {}, []
    for line in text.splitlines():
        m = re.match(r"KT-COMM (\d+) (.*)$", line)
        if m:
            comms[int(m.group(1))] = m.group(2)
        elif line.startswith("KT-EVENT "):
            events.append(line.split()[1:])
    return comms, events


def render(comms, events):
    out = []
    seen = []

    def part(pid):
        pid = int(pid)
        if pid not in seen:
            seen.append(pid)
        return f"P{pid}"

    # a thread that exited before the end has no comm left: name it by its threadfn
    for e in events:
        if e[0] == "complete" and e[2] == "kthread" and comms.get(int(e[1]), "?") == "?":
            comms[int(e[1])] = e[4]
    forker = None
    born = set()
    for e in events:
        kind, pid = e[0], e[1]
        if kind == "create":
            p = part(pid)
            out.append(f"    {p}->>{p}: kthread_create({e[2]}): queue request")
        elif kind == "wake":
            a, b = part(pid), part(e[2])
            out.append(f"    {a}->>{b}: wake_up_process() from {e[3]}")
        elif kind == "wait":
            a = part(pid)
            out.append(f"    Note over {a}: wait_for_completion() in {e[2]}")
        elif kind == "fork":
            forker = pid
        elif kind == "complete":
            if e[2] == "kthread" and pid not in born and forker is not None:
                born.add(pid)
                a, b = part(forker), part(pid)
                out.append(f"    {a}->>{b}: create_kthread(): kernel_thread(kthread)")
            a = part(pid)
            waiters = [w for w in e[3].split(",") if w != "-"]
            if waiters:
                for w in waiters:
                    out.append(f"    {a}->>{part(w)}: complete() in {e[2]}")
            else:
                out.append(f"    Note over {a}: complete() in {e[2]} (nobody waiting yet)")
    head = ["sequenceDiagram"] + [f"    participant P{pid} as {comms.get(pid, '?')} ({pid})"
                                   for pid in seen]
    return "\n".join(head + out) + "\n"
