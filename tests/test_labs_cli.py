"""kthread-lab list, doctor and start (real gdb, real stub, real kernel)."""
import os
import subprocess
import sys

import pytest

from labs import all_labs, cli, get_lab
from gdbharness import opening_brace_line

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def run_lab(*args, input=None, env_extra=None, timeout=120):
    env = dict(os.environ, **(env_extra or {}))
    return subprocess.run([sys.executable, "-m", "labs", *args], input=input,
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                          cwd=ROOT, env=env, timeout=timeout)


def start_batch(tmp_path, lab, commands, *args):
    """`kthread-lab start LAB --batch-commands` with `commands`; it must succeed."""
    cmds = tmp_path / "cmds.gdb"
    cmds.write_text(commands)
    r = run_lab("start", str(lab), "--batch-commands", str(cmds), *args,
                env_extra={"KTHREAD_LAB_RUNDIR": str(tmp_path)})
    assert r.returncode == 0, r.stderr
    return r


def test_list_names_every_lab_with_its_handout():
    r = run_lab("list")
    assert r.returncode == 0, r.stderr
    assert "1  kthreadd: the documented session  (100 points)  labs/1-kthreadd/handout.md" in r.stdout
    assert "2  the kthread_create handshake  (100 points)  labs/2-handshake/handout.md" in r.stdout
    assert "3  the scheduler and the context switch  (100 points)  labs/3-scheduler/handout.md" in r.stdout
    assert ("5  kthreads of your own: a producer and a consumer  (100 points)  "
            "labs/5-producer-consumer/handout.md") in r.stdout
    assert ("4  thread lifetime: kthread_stop, do_exit, release; a bug hunt  (100 points)  "
            "labs/4-lifetime/handout.md") in r.stdout
    assert ("6  an SMP race in kthread creation, found by seed and replayed backwards  "
            "(100 points)  labs/6-smp-race/handout.md") in r.stdout


def test_every_lab_has_its_files():
    labs = all_labs()
    assert [lab.number for lab in labs] == [1, 2, 3, 4, 5, 6]
    for lab in labs:
        for name in ("handout.md", "start.gdb", "questions.md", "grading.json"):
            assert os.path.exists(lab.file(name)), (lab, name)
        code = lab.spec.get("kind") == "code"      # lab 5: C hand-in, the grader's check.gdb
        kit = (("key.json", "lab5.c", "wrong-lab5.c") if code else
               ("key.json", "reference.gdb", "reference-answers.txt", "wrong.gdb",
                "wrong-answers.txt"))
        for name in kit:
            assert os.path.exists(lab.key_file(name)), (lab, name)
        assert not code or os.path.exists(lab.file("check.gdb"))
        assert all(t.get("hint") for t in lab.spec["tests"]), lab
        assert not any(k in t for t in lab.spec["tests"]
                       for k in ("transcript", "patterns", "any", "absent")), lab
        assert lab.total_points == 100


def test_doctor_passes_here(kernel, gdb):
    r = run_lab("doctor")
    assert r.returncode == 0, r.stdout + r.stderr
    for name in ("gdb version: 1", "gdb Python support: yes", "gcc: ",
                 "kernel image: kernel_src/vmlinux is up to date",
                 "i386 target description: accepted"):
        assert name in r.stdout, r.stdout
    assert "all checks passed" in r.stdout


def test_doctor_names_the_fix_and_fails(monkeypatch, capsys):
    real = cli.shutil.which
    monkeypatch.setattr(cli.shutil, "which",
                        lambda name: None if name in ("gdb", "gcc") else real(name))
    assert cli.main(["doctor"]) == 1
    out = capsys.readouterr().out
    assert "FAIL  gdb: not found" in out
    assert "fix: install gdb 12 or newer" in out
    assert "FAIL  gcc: not found" in out
    assert "fix: install gcc" in out


def test_start_runs_the_stub_the_harness_builds(gdb, tmp_path):
    """One builder of the stub's command line: `kthread-lab start` gives gdb
    the harness's stdio stub (the lab's options and the trace added), its
    stderr left to the terminal."""
    from gdbstub.harness.session import stub_pipe
    lab = get_lab(3)
    trace = tmp_path / "t.json"
    cmd = cli.start_command(lab, "vmlinux", trace=str(trace))
    remote = cmd[cmd.index("-ex") + 1]
    assert remote == "target remote " + stub_pipe(
        "vmlinux", [*lab.stub_args, "--trace", str(trace)], stderr_path=None)
    assert "2>" not in remote


def test_unknown_lab_is_one_line():
    r = run_lab("start", "9")
    assert r.returncode == 2
    assert r.stderr.strip() == "kthread-lab: no lab 9 (labs: 1, 2, 3, 4, 5, 6; see `kthread-lab list`)"


def test_start_1_stops_in_start_kernel_batch(kernel, gdb, tmp_path):
    r = start_batch(tmp_path, 1, "bt 1\nkt-ps\n")
    out = r.stdout
    line = opening_brace_line("init/main.c", "void __init start_kernel(")
    assert f"Breakpoint 1, start_kernel () at init/main.c:{line}" in out
    assert f"#0  start_kernel () at init/main.c:{line}" in out
    # kt.py was loaded explicitly: kt-ps is defined
    assert "PID  STATE" in out
    assert "Undefined command" not in out + r.stderr
    assert "auto-loading has been declined" not in out + r.stderr
    assert not os.path.exists(tmp_path / f"kthread-lab-{os.getuid()}.pid")


def test_start_2_interactive_from_stdin(kernel, gdb, tmp_path):
    r = run_lab("start", "2", input="bt 1\nkt-kthreads\n",
                env_extra={"KTHREAD_LAB_RUNDIR": str(tmp_path)})
    assert r.returncode == 0, r.stderr
    out = r.stdout
    head, _, rest = out.partition("(gdb) ")
    assert "Breakpoint 1, kthread_create (threadfn=0x" in head
    assert "<ksoftirqd>" in head
    assert "kernel/kthread.c:116" in head
    assert "kthread_create_list is empty" in rest


def test_second_start_names_the_running_one(tmp_path):
    # a live process of this user stands for the running start
    (tmp_path / f"kthread-lab-{os.getuid()}.pid").write_text(f"{os.getpid()} 1\n")
    r = run_lab("start", "2", env_extra={"KTHREAD_LAB_RUNDIR": str(tmp_path)})
    assert r.returncode == 1
    assert f"you already run lab 1 (kthread-lab pid {os.getpid()})" in r.stderr
    assert "--force" in r.stderr


def test_kt_bt_helpers_in_a_lab_session(kernel, gdb, tmp_path):
    """kt-bt PID, kt-bt-all and kt-stop-hook (labs/kt_lab.py, loaded by start)."""
    r = start_batch(tmp_path, 1, "kt-stop-hook on\nbreak kthreadd\ncontinue\nkt-bt 1\nkt-bt-all\nbt 1\n")
    out = r.stdout.split("Breakpoint 2, kthreadd", 1)[1]
    assert '[task: pid 2 "swapper"]' in out      # kthreadd has not named itself yet
    init_bt = out.split('pid 1 "init" (uninterruptible):', 1)[1]
    assert "in wait_for_completion (x=0x" in init_bt.splitlines()[2]
    idle = out.split('pid 0 "swapper" (runnable):', 1)[1]
    assert "in cpu_idle ()" in idle.splitlines()[2]
    assert '* pid 2 "swapper" (running):\n#0  kthreadd (unused=0x0)' in out
    # back in the running task's thread afterwards
    assert out.rstrip().splitlines()[-2].startswith("#0  kthreadd (unused=0x0)")
    assert "Switching to thread" not in out


def test_kt_completions_and_the_next_stop_reads_the_right_task(kernel, gdb, tmp_path):
    r = start_batch(tmp_path, 1, "kt-completions\nbreak kthreadd\ncontinue\nkt-completions\n"
                                 "break complete\ncontinue\nbt 1\n")
    out = r.stdout
    assert "no task waits in wait_for_completion()" in out
    assert "init (pid 1) waits on completion 0x" in out
    assert "(done 0), called from kthread_create() at kernel/kthread.c:128" in out
    # after the helper switched threads, the next stop's registers are the stopped task's
    assert 'hit Breakpoint 3, complete (x=0x' in out
    assert "#0  complete (x=0x" in out
    assert "<unavailable>" not in out


def test_start_3_and_kt_runq(kernel, gdb, tmp_path):
    r = start_batch(tmp_path, 3, "kt-runq\nbreak __switch_to\ncontinue\nkt-runq\n")
    out = r.stdout
    assert "Breakpoint 1, kthreadd (unused=0x0) at kernel/kthread.c:192" in out
    assert ("run queue (1 task, head first; current: pid 2):\n"
            "  0  pid 2   swapper          state 0  (current)\n") in out
    assert ("run queue (1 task, head first; current: pid 2):\n"
            "  0  pid 3   kthreadd         state 0\n") in out


def test_start_4_stops_in_do_exit_of_kthread_demo(kernel, gdb, tmp_path):
    r = start_batch(tmp_path, 4, "print $kt_current()->pid\n")
    line = opening_brace_line("kernel/exit.c", "void do_exit(")
    assert f"Breakpoint 1, do_exit (code=42) at kernel/exit.c:{line}" in r.stdout
    assert "$1 = 6" in r.stdout


def test_start_with_a_trace_writes_chrome_trace_json_when_gdb_quits(kernel, gdb, tmp_path):
    import trace_check

    out = tmp_path / "lab1.json"
    r = start_batch(tmp_path, 1, "break oops_test\ncontinue\n", "--trace", str(out))
    trace = trace_check.load(out)
    assert trace_check.problems(trace) == []
    names = {e["args"]["name"] for e in trace["traceEvents"]
             if e["ph"] == "M" and e["name"] == "thread_name"}
    assert {"init (pid 1)", "kthreadd (pid 2)", "kthread_demo (pid 6)"} <= names, names
