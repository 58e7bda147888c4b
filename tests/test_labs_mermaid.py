"""kthread-lab mermaid: the boot's kthread_create handshakes, from the machine's scheduling trace."""
import os
import subprocess
import sys

from labs import mermaid

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _ev(kind, pid, comm, request, **kw):
    return dict(kind=kind, pid=pid, comm=comm, request=request, icount=0, **kw)


def test_render_unit():
    events = [
        _ev("kthread_create", 1, "init", 1, threadfn="ksoftirqd", name="ksoftirqd/0"),
        _ev("wake_up_process", 1, "init", 1, target_pid=2, target_comm="swapper",
            caller="kthread_create"),
        _ev("create_kthread", 2, "kthreadd", 1),
        _ev("kthread", 3, "kthreadd", 1),          # still kthreadd's comm: named by the request
        _ev("complete", 3, "kthreadd", 1, waiter_pid=1, waiter_comm="init", caller="kthread"),
        _ev("complete", 3, "ksoftirqd/0", None, waiter_pid=None, caller="do_exit"),
    ]
    assert mermaid.render(events).splitlines() == [
        "sequenceDiagram",
        "    participant P1 as init (1)",
        "    participant P2 as kthreadd (2)",
        "    participant P3 as ksoftirqd/0 (3)",
        "    P1->>P1: kthread_create(ksoftirqd/0): queue request 1",
        "    P1->>P2: wake_up_process() in kthread_create",
        "    P2->>P3: create_kthread(): kernel_thread(kthread)",
        "    P3->>P1: complete() in kthread",
        "    Note over P3: complete() in do_exit (nobody waiting yet)",
    ]


def test_boot_handshakes_in_order(kernel, tmp_path):
    out = tmp_path / "h.mmd"
    r = subprocess.run([sys.executable, "-m", "labs", "mermaid", "--out", str(out)],
                       cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                       timeout=120)
    assert r.returncode == 0, r.stderr
    lines = out.read_text().splitlines()
    assert lines[0] == "sequenceDiagram"
    for pid, comm in ((1, "init"), (2, "kthreadd"), (3, "ksoftirqd/0"), (4, "events/0"),
                      (5, "khelper"), (6, "kthread_demo")):
        assert f"    participant P{pid} as {comm} ({pid})" in lines
    body = [l for l in lines if "participant" not in l]
    # every new thread: create -> wake kthreadd -> kthreadd forks it -> it completes init's wait
    for pid, name in ((3, "ksoftirqd/0"), (4, "events/0"), (5, "khelper"), (6, "kthread_demo")):
        i = body.index(f"    P2->>P{pid}: create_kthread(): kernel_thread(kthread)")
        assert body[i - 2] == f"    P1->>P1: kthread_create({name}): queue request {pid - 2}"
        assert body[i - 1] == "    P1->>P2: wake_up_process() in kthread_create"
        assert body[i + 1] == f"    P{pid}->>P1: complete() in kthread"
    assert body[-2:] == ["    P1->>P6: wake_up_process() in kthread_stop",
                         "    P6->>P1: complete() in do_exit"]
    assert len(body) == 1 + 4 * 4 + 2
