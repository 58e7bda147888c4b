"""kthread-lab mermaid: the boot's kthread_create handshakes, recorded with gdb breakpoints."""
import os
import subprocess
import sys

from labs import mermaid

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def test_render_unit():
    comms = {1: "init", 2: "kthreadd", 3: "?"}
    events = [["create", "1", "ksoftirqd"], ["wake", "1", "2", "kthread_create"],
              ["wait", "1", "kthread_create"], ["fork", "2"],
              ["complete", "3", "kthread", "1", "ksoftirqd"]]
    assert mermaid.render(comms, events).splitlines() == [
        "sequenceDiagram",
        "    participant P1 as init (1)",
        "    participant P2 as kthreadd (2)",
        "    participant P3 as ksoftirqd (3)",
        "    P1->>P1: kthread_create(ksoftirqd): queue request",
        "    P1->>P2: wake_up_process() from kthread_create",
        "    Note over P1: wait_for_completion() in kthread_create",
        "    P2->>P3: create_kthread(): kernel_thread(kthread)",
        "    P3->>P1: complete() in kthread",
    ]


def test_boot_handshakes_in_order(kernel, gdb, tmp_path):
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
    # every new thread: create -> wake kthreadd -> init waits -> fork by kthreadd -> complete
    for pid in (3, 4, 5, 6):
        i = body.index(f"    P2->>P{pid}: create_kthread(): kernel_thread(kthread)")
        assert body[i - 3].startswith("    P1->>P1: kthread_create(")
        assert body[i - 2] == "    P1->>P2: wake_up_process() from kthread_create"
        assert body[i - 1] == "    Note over P1: wait_for_completion() in kthread_create"
        assert body[i + 1] == f"    P{pid}->>P1: complete() in kthread"
    assert body[-3:] == ["    P1->>P6: wake_up_process() from kthread_stop",
                         "    Note over P1: wait_for_completion() in kthread_stop",
                         "    P6->>P1: complete() in do_exit"]
