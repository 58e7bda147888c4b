"""`kthread-lab mermaid`: the kthread_create handshakes of a boot as a Mermaid sequence diagram.

The events are the machine's scheduling trace (gdbstub/kernelaware/schedtrace.py), the
same ones `kthread-stub --trace` writes as Chrome trace JSON: probes on the
kernel's kthread_create, wake_up_process, create_kthread, kthread() and
complete(), recorded from outside the guest on a fresh deterministic boot up
to `oops_test` (right after "init: boot complete").  Only recorded events are
drawn: a sleep in wait_for_completion() is not probed, so it is not shown.
"""
import os

from . import ROOT


def record(kernel=None, cmdline=""):
    """The boot's handshake events (schedtrace.handshake_events), no gdb needed."""
    from gdbstub.kernelaware import schedtrace
    if kernel is None:
        from machine.kbuild import ensure_kernel
        kernel = os.path.relpath(ensure_kernel(), ROOT)
    return schedtrace.record_boot(kernel, cmdline=cmdline).handshake_events()


def _names(events):
    """pid -> the name to show: a created thread by the name it was asked for
    (at its first events it still carries kthreadd's comm), others by their
    latest comm."""
    asked = {e["request"]: e["name"] for e in events
             if e["kind"] == "kthread_create" and e.get("name")}
    names = {}
    for e in events:
        if e.get("target_pid") is not None:
            names.setdefault(e["target_pid"], e.get("target_comm") or "?")
        if e.get("waiter_pid") is not None:
            names.setdefault(e["waiter_pid"], e.get("waiter_comm") or "?")
    for e in events:
        names[e["pid"]] = e["comm"]
    for e in events:
        if e["kind"] == "kthread" and e["request"] in asked:
            names[e["pid"]] = asked[e["request"]]
    return names


def render(events):
    seen = []

    def part(pid):
        if pid not in seen:
            seen.append(pid)
        return f"P{pid}"

    creator = {}                  # request -> pid of the kthreadd that ran create_kthread
    out = []
    for e in events:
        kind, me, req = e["kind"], part(e["pid"]), e["request"]
        if kind == "kthread_create":
            out.append(f"    {me}->>{me}: kthread_create({e.get('name') or e.get('threadfn')}): "
                       f"queue request {req}")
        elif kind == "wake_up_process":
            out.append(f"    {me}->>{part(e['target_pid'])}: wake_up_process() in {e['caller']}")
        elif kind == "create_kthread":
            creator[req] = e["pid"]
        elif kind == "kthread":
            src = part(creator[req]) if req in creator else me
            out.append(f"    {src}->>{me}: create_kthread(): kernel_thread(kthread)")
        elif kind == "complete":
            if e.get("waiter_pid") is not None:
                out.append(f"    {me}->>{part(e['waiter_pid'])}: complete() in {e['caller']}")
            else:
                out.append(f"    Note over {me}: complete() in {e['caller']} (nobody waiting yet)")
    names = _names(events)
    head = ["sequenceDiagram"] + [f"    participant P{pid} as {names.get(pid, '?')} ({pid})"
                                   for pid in seen]
    return "\n".join(head + out) + "\n"
