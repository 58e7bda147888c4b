"""The scheduling trace through the stub and real gdb: `kthread-stub --trace
FILE`, `monitor trace on|off|tail|status`, restarts, reverse execution."""
import re
import subprocess

import pytest

import trace_check
from gdbharness import match_in_order
from gdbstub.harness import session
from test_trace import check_boot_trace

TO_BOOT_END = ["break oops_test", "continue"]     # init calls oops_test right after "boot complete"


def run(kernel, commands, stub_args=()):
    text, err = session.run(commands=list(commands), kernel=kernel, stub_args=list(stub_args))
    return text, err


def console_of(text):
    """What `monitor console` printed (the kernel's console so far)."""
    i = text.index("(gdb) monitor console\n") + len("(gdb) monitor console\n")
    j = text.index("(gdb) ", i)
    return text[i:j].encode()


def test_stub_trace_of_a_boot(kernel, gdb, tmp_path):
    path = tmp_path / "boot.json"
    text, err = run(kernel, TO_BOOT_END + ["monitor console", "monitor trace status",
                                           "monitor trace tail 3"],
                    ["--trace", str(path)])
    assert "init: boot complete" in text, text
    check_boot_trace(trace_check.load(path), console_of(text))
    match_in_order([
        "(gdb) monitor trace status",
        rf"re:trace on, file {re.escape(str(path))}: \d+ events, icount 0\.\.\d+",
        "(gdb) monitor trace tail 3",
        r"re:\s+\d+\s+[\d.]+ ms  \S+\[\d+\]  .*",
        r"re:\s+\d+\s+[\d.]+ ms  \S+\[\d+\]  .*",
        r"re:\s+\d+\s+[\d.]+ ms  kthread_demo\[6\]  switch -> init\[1\] \(leaves in state X\)",
    ], text)
    assert "trace not saved" not in err


def test_the_trace_is_the_same_every_run_and_after_reverse_execution(kernel, gdb, tmp_path):
    files = [tmp_path / f"t{i}.json" for i in range(3)]
    run(kernel, TO_BOOT_END, ["--trace", str(files[0])])
    # back to the last fork (probes fire again in the replays), forward again
    text, _ = run(kernel, TO_BOOT_END + ["break create_kthread", "reverse-continue",
                                         "delete 2", "continue"], ["--trace", str(files[1])])
    match_in_order(["(gdb) reverse-continue",
                    "re:Breakpoint 2, create_kthread .*",
                    "(gdb) continue",
                    "Breakpoint 1, oops_test () at kernel/oops_test.c:74"], text)
    # back, and gdb leaves there: the trace still covers everything recorded
    run(kernel, TO_BOOT_END + ["break create_kthread", "reverse-continue"],
        ["--trace", str(files[2])])
    data = [f.read_bytes() for f in files]
    assert data[0] and data[1] == data[0] and data[2] == data[0]


def test_monitor_trace_on_off_tail_and_errors(kernel, gdb, tmp_path):
    """`monitor trace on` takes no file name: it writes a file of the stub's
    own naming in --trace-dir (without one, or --trace, it stays in memory)."""
    text, _ = run(kernel, [
        "monitor trace", "monitor trace tail", "monitor trace on"] + TO_BOOT_END + [
        "monitor trace off", "monitor trace off", "monitor trace tail 2",
        "monitor trace on", "monitor trace status",
        f"monitor trace on {tmp_path}/t.json", "monitor trace status",
        "monitor trace tail x", "monitor trace frob"], ["--trace-dir", str(tmp_path)])
    made = rf"{re.escape(str(tmp_path))}/trace-\d+-"
    match_in_order([
        "(gdb) monitor trace",
        "trace off, in memory only: 0 events, icount 0..0",
        "(gdb) monitor trace tail",
        "(no trace events)",
        "(gdb) monitor trace on",
        rf"re:trace on from icount 0: writing ({made}1\.json) \(on 'monitor trace off', "
        r"when gdb detaches and when the stub exits\)",
        "(gdb) monitor trace off",
        rf"re:trace off: \d+ events written to {made}1\.json",
        "(gdb) monitor trace off",
        "trace is off already",
        "(gdb) monitor trace tail 2",
        r"re:.* kthread_demo\[6\]  complete 0x\.{8} -> init\[1\] from do_exit",
        r"re:.* kthread_demo\[6\]  switch -> init\[1\] \(leaves in state X\)",
        "(gdb) monitor trace on",
        rf"re:trace on from icount \d+: writing {made}2\.json .*",
        "(gdb) monitor trace status",
        rf"re:trace on, file {made}2\.json: 0 events, icount (\d+)\.\.\1",
        f"(gdb) monitor trace on {tmp_path}/t.json",
        r"re:monitor trace: unexpected '/.*' \(usage: monitor trace on \| monitor trace off "
        r"\| monitor trace tail \[N\] \| monitor trace \[status\]\)",
        "(gdb) monitor trace status",          # the refused `on` left the trace running
        rf"re:trace on, file {made}2\.json: 0 events, .*",
        "(gdb) monitor trace tail x",
        "monitor trace: bad count 'x': say tail N, N >= 0",
        "(gdb) monitor trace frob",
        "monitor trace: unexpected 'frob' (usage: monitor trace on | monitor trace off | "
        "monitor trace tail [N] | monitor trace [status])",
    ], text)
    assert not (tmp_path / "t.json").exists()
    path = re.search(rf"written to ({made}1\.json)", text).group(1)
    trace = trace_check.load(path)
    assert trace_check.problems(trace) == []
    assert len(trace_check.flows(trace)) >= 4


def test_bad_trace_file_is_a_one_line_error(tmp_path):
    r = subprocess.run(session.stub_command(None, ["--trace", str(tmp_path / "x" / "t.json"),
                                                   "--port", "0"]),
                       capture_output=True, text=True, cwd=session.ROOT,
                       timeout=120, stdin=subprocess.DEVNULL)
    assert r.returncode == 2
    assert r.stderr == (f"kthread-stub: --trace: cannot write {tmp_path}/x/t.json: "
                        f"no directory {tmp_path}/x\n")


def test_a_restart_starts_a_new_trace(kernel, gdb, tmp_path):
    path = tmp_path / "r.json"
    with session.StubProcess(kernel, ["--trace", str(path)], once=True) as stub:
        cmd = session.gdb_command(kernel, stub.address(), commands=[
            "break create_kthread", "run", "monitor trace status", "kill",
            "run", "monitor trace status", "monitor reset", "monitor trace status"])
        i = cmd.index(f"target remote {stub.address()}")
        cmd[i] = f"target extended-remote {stub.address()}"
        r = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                           timeout=300, stdin=subprocess.DEVNULL, cwd=session.ROOT)
    text = r.stdout
    status = re.findall(r"trace on, file .*: (\d+) events, icount (\d+)\.\.(\d+)", text)
    assert len(status) == 3, text
    # each run stops at the first fork: the same few events since icount 0
    assert status[0] == status[1] and status[0][1] == "0" and int(status[0][0]) > 0
    assert status[2] == ("0", "0", "0")
    trace = trace_check.load(path)                 # written at kill, then at the end
    assert trace_check.problems(trace) == []
    assert trace["otherData"]["end_icount"] == 0


def test_two_cpus_trace_has_a_track_per_cpu_through_gdb(kernel, gdb, tmp_path):
    """kthread-stub --cpus 2 --trace: ksoftirqd/1 runs on CPU 1's track, the
    tail names each event's CPU, and the file is the same after going back
    across both CPUs and forward again."""
    files = [tmp_path / f"c{i}.json" for i in range(2)]
    text, _ = run(kernel, TO_BOOT_END + ["monitor trace tail 2"],
                  ["--cpus", "2", "--trace", str(files[0])])
    match_in_order(["(gdb) monitor trace tail 2",
                    r"re:\s+\d+\s+[\d.]+ ms  CPU 0  kthread_demo\[\d+\]  complete .*",
                    r"re:\s+\d+\s+[\d.]+ ms  CPU 0  kthread_demo\[\d+\]  switch -> init\[1\] "
                    r"\(leaves in state X\)"], text)
    trace = trace_check.load(files[0])
    assert trace_check.problems(trace) == []
    names = trace_check.thread_names(trace)
    cpu1 = [tid for tid, name in names.items() if name == "CPU 1"]
    assert len(cpu1) == 1
    on1 = {e["name"] for e in trace["traceEvents"] if e["ph"] == "X" and e["tid"] == cpu1[0]}
    assert {"ksoftirqd/1", "migration/1", "events/1"} <= on1 and "init" not in on1, on1
    text, _ = run(kernel, TO_BOOT_END + ["break ksoftirqd", "reverse-continue", "delete 2",
                                         "continue"],
                  ["--cpus", "2", "--trace", str(files[1])])
    match_in_order(["(gdb) reverse-continue", "re:.*Breakpoint 2, ksoftirqd .*",
                    "(gdb) continue", "re:.*Breakpoint 1, oops_test .*"], text)
    assert files[1].read_bytes() == files[0].read_bytes()
