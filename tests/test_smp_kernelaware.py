"""Kernel awareness per CPU, through real gdb on the real kernel with `--cpus 2`:
each CPU's current task is per_cpu(current_task, n), at &current_task +
__per_cpu_offset[n] (kernel_src/README.md), not the symbol (CPU 0's copy)."""
import re

import pytest

from gdbharness import run_gdb, section
from gdbstub.harness import session
from gdbstub.harness.mi import GdbSession

PS_ROW = re.compile(r"([* ])\s*(\d+)\s+(\d+)\s+(\d+|-)\s+(\w) \((\w+)\)\s+(\S+)")


@pytest.fixture(scope="module")
def ps_two_cpus(kernel, gdb):
    text = run_gdb(kernel, "break oops_test", "continue", "monitor ps", "monitor cpus",
                   stub_args=("--cpus", "2"))
    return section(text, "(gdb) monitor ps\n", "(gdb) monitor cpus")


def test_ps_shows_each_task_cpu_and_each_cpu_current(ps_two_cpus):
    lines = ps_two_cpus.splitlines()
    assert re.fullmatch(r"  PID  CPU  THREAD  STATE +COMM", lines[1]), lines[1]
    rows = [PS_ROW.fullmatch(line) for line in lines[2:]]
    assert all(rows), lines
    cpu = {r[7]: int(r[3]) for r in rows if r[2] != "0"}
    for n in (0, 1):    # the per-CPU kthreads, on the CPU the kernel bound them to
        for name in ("migration", "ksoftirqd", "events"):
            assert cpu[f"{name}/{n}"] == n, (name, n, ps_two_cpus)
    running = [(int(r[3]), r[7], r[6]) for r in rows if r[1] == "*"]
    # the stop is init's (oops_test) on CPU 0; CPU 1 idles: its own swapper runs
    assert sorted(running) == [(0, "init", "running"), (1, "swapper", "running")], running


def test_ps_on_one_cpu_has_no_cpu_column(kernel, gdb):
    text = run_gdb(kernel, "break oops_test", "continue", "monitor ps", "monitor cpus")
    lines = section(text, "(gdb) monitor ps\n", "(gdb) monitor cpus").splitlines()
    assert re.fullmatch(r"  PID  THREAD  STATE +COMM", lines[1]), lines[1]
    assert [line for line in lines if line.startswith("*")] == [
        "*   1       -  R (running)      init"]


def test_tasks_on_two_cpus_have_cores_and_their_cpu_registers(kernel, gdb):
    """Stopped on CPU 1 (migration/1's first run): gdb's thread is migration/1,
    core 1; CPU 0's current task has CPU 0's registers and unwinds to
    kernel_thread_helper too."""
    with GdbSession(kernel, stub_args=["--cpus", "2", "--tasks"]) as s:
        s.cmd("break migration_thread if data == (void *) 1")
        s.cmd("continue")
        info = s.mi("-thread-info")
        threads = {t["name"]: t for t in info["threads"]}
        me = next(t for t in info["threads"] if t["id"] == info["current-thread-id"])
        assert (me["name"], me["core"], me["frame"]["func"]) == (
            "migration/1", "1", "migration_thread")
        assert threads["migration/0"]["core"] == "0"
        cpus = s.cmd("monitor cpus")
        eip0 = int(re.search(r"CPU#0 +\w+ +eip (0x\w+)", cpus)[1], 16)
        cpu0 = [t for t in info["threads"] if t["details"].endswith(", running")
                and t is not me]
        assert [(t["core"], int(t["frame"]["addr"], 16)) for t in cpu0] == [("0", eip0)], cpus
        bt = s.cmd("thread apply all bt")
        for t in (me, cpu0[0]):
            part = bt[bt.index(f'Thread {t["id"]} "{t["name"]}"'):]
            part = part[:part.index("\n\n")] if "\n\n" in part else part
            assert "in kernel_thread_helper ()" in part, part


def test_kt_ps_marks_each_cpu_current_task(kernel, gdb):
    """gdb's own kt-ps (gdb_scripts/kt) reads per_cpu(current_task, n) too."""
    text = run_gdb(kernel, "source gdb_scripts/kt.py", "break oops_test", "continue",
                   "kt-ps", "monitor cpus", stub_args=("--cpus", "2"))
    rows = section(text, "(gdb) kt-ps\n", "(gdb) monitor cpus").splitlines()[2:]
    running = sorted(re.sub(r"0x\w+", "ADDR", r) for r in rows if r.startswith("*"))
    assert running == ["* ADDR     0  R (running)           swapper",
                       "* ADDR     1  R (running)           init"], rows


def test_monitor_cpus_names_each_cpu_current_task(kernel, gdb):
    """`monitor cpus` (issue 17: pc and current task): at ksoftirqd/1's first
    run (the second hit, on CPU 1) CPU 1's row names it and CPU 0's row names what `monitor ps` stars
    on CPU 0; one line, nothing run, for an extra word."""
    text = run_gdb(kernel, "break ksoftirqd", "continue", "continue",   # /0, then /1
                   "monitor cpus", "monitor ps", "monitor cpus x", stub_args=("--cpus", "2"))
    cpus = [r for r in section(text, "(gdb) monitor cpus\n", "(gdb) monitor ps").splitlines()
            if "CPU#" in r]
    ps = section(text, "(gdb) monitor ps\n", "(gdb) monitor cpus x").splitlines()
    pid1 = next(r.split()[1] for r in ps if r.endswith(" ksoftirqd/1"))
    on_cpu0 = next(r.split() for r in ps if r.startswith("*") and r.split()[2] == "0")
    assert len(cpus) == 2, cpus
    assert re.fullmatch(rf"\* CPU#1  running +eip 0x\w+  ksoftirqd/1 \(pid {pid1}\)",
                        cpus[1]), cpus
    assert re.fullmatch(rf"  CPU#0  \w+ +eip 0x\w+  {re.escape(on_cpu0[-1])} "
                        rf"\(pid {on_cpu0[1]}\)", cpus[0]), (cpus, ps)
    assert "monitor cpus: unexpected 'x' (usage: monitor cpus)\n" in text, text


def _value(text):
    """What gdb's `print` printed: `$n = VALUE` -> VALUE."""
    return re.fullmatch(r"\$\d+ = (.*)\n", text)[1]


def test_kt_current_takes_a_cpu_and_defaults_to_the_selected_threads(kernel, gdb):
    """$kt_current(CPU) is per_cpu(current_task, CPU), as Linux's
    $lx_current(cpu); without CPU it is the CPU of gdb's selected thread:
    CPU#k with tasks off, the selected task's CPU with tasks on."""
    with GdbSession(kernel, stub_args=["--cpus", "2"]) as s:
        s.cmd("source gdb_scripts/kt.py")
        s.cmd("break ksoftirqd")
        s.cmd("continue")
        s.cmd("continue")                    # the second hit is ksoftirqd/1's, on CPU 1
        assert s.stop.thread == 2
        assert _value(s.cmd("p $kt_current()->comm")).startswith('"ksoftirqd/1\\000')
        assert _value(s.cmd("p $kt_current(1)->pid")) == _value(s.cmd("p $kt_current()->pid"))
        s.cmd("thread 1")                    # CPU#0
        pid0 = _value(s.cmd("p $kt_current()->pid"))
        assert pid0 == _value(s.cmd("p $kt_current(0)->pid"))
        rows = [PS_ROW.fullmatch(line) for line in s.cmd("monitor ps").splitlines()[1:]]
        running = {int(r[3]): int(r[2]) for r in rows if r and r[1] == "*"}   # CPU -> pid
        assert running == {0: int(pid0), 1: int(_value(s.cmd("p $kt_current(1)->pid")))}
        for bad, why in (("9", "no CPU 9: this kernel has CPUs 0 to "),
                         ("3", "CPU 3 is not up: it has no current task yet"),
                         ('"x"', 'the CPU must be a number, not "x"')):
            with pytest.raises(AssertionError, match=re.escape(f"$kt_current: {why}")):
                s.cmd(f"p $kt_current({bad})")
        s.cmd("monitor tasks on")
        threads = s.mi("-thread-info")["threads"]
        rows = [PS_ROW.fullmatch(line) for line in s.cmd("monitor ps").splitlines()[1:]]
        cpu_of = {int(r[4]): int(r[3]) for r in rows if r and r[4] != "-"}
        assert len(threads) > 4 and {int(t["id"]) for t in threads} <= set(cpu_of)
        for t in threads:                    # each task: the current task of its CPU
            s.cmd(f"thread {t['id']}")
            want = running[cpu_of[int(t["id"])]]
            assert int(_value(s.cmd("p $kt_current()->pid"))) == want, (t, cpu_of)
        # kt.threads reads the THREAD column, not the CPU column before it
        ids = s.cmd("python import kt.threads; print(sorted(kt.threads.thread_ids().items()))")
        assert ids.strip() == str(sorted({int(r[2]): int(r[4]) for r in rows
                                          if r and r[4] != "-"}.items()))


# On 4 CPUs at --quantum 200 the per-second wake-ups of ksoftirqd/0..3
# overlap: at some pass through their loop (after schedule_timeout()) every
# CPU runs its own ksoftirqd (found with the scheduling trace's CPU tracks;
# virtual time makes it the same stop every run).
HELPER = "in kernel_thread_helper () at arch/x86/kernel/entry_32.S:1000"


def _all_cpus_in_ksoftirqd(kernel, args):
    """Continue from hit to hit of ksoftirqd's loop until each CPU's current
    task is its ksoftirqd; what gdb printed there, and the hits it took."""
    with GdbSession(kernel, stub_args=list(args)) as s:
        s.cmd("break kernel/softirq.c:21")
        for hit in range(1, 13):
            out = [s.cmd("continue"), s.cmd("monitor ps")]
            rows = [PS_ROW.fullmatch(line) for line in out[1].splitlines()[1:]]
            running = sorted((int(r[3]), r[7]) for r in rows if r and r[1] == "*")
            if running == [(n, f"ksoftirqd/{n}") for n in range(4)]:
                return out + [s.cmd("info threads"), s.cmd("thread apply all bt")], hit
    pytest.fail("no stop in 12 hits where all four CPUs run their ksoftirqd")


def _bts(text):
    """{thread header: its bt} of `thread apply all bt`'s output."""
    return dict(re.findall(r"(?:^|\n)Thread \d+ \(([^\n]*)\):\n(#.*?)(?=\n\n|\Z)", text, re.S))


@pytest.mark.parametrize("tasks", [(), ("--tasks",)], ids=["cpus", "tasks"])
def test_thread_apply_all_bt_on_four_cpus_reaches_kernel_thread_helper(kernel, gdb, tasks):
    """--cpus 4: every CPU's current kthread unwinds to kernel_thread_helper,
    with CPUs as threads and with tasks as threads; twice the same output."""
    args = ("--cpus", "4", "--quantum", "200") + tasks
    out, hits = _all_cpus_in_ksoftirqd(kernel, args)
    bts = _bts(out[3])
    if tasks:       # the four running tasks (the sleeping ones unwind too)
        on_cpu = {h: bt for h, bt in bts.items() if h.endswith(", running)")}
        assert sorted(h.split('"')[1] for h in on_cpu) == [f"ksoftirqd/{n}" for n in range(4)]
    else:
        on_cpu = bts
        assert sorted(on_cpu) == [f"Thread {n + 1} (CPU#{n})" for n in range(4)], out[3]
    for header, bt in on_cpu.items():
        assert bt.splitlines()[-1].endswith(HELPER), (header, bt)
        assert re.search(r"^#\d+ .*\bksoftirqd \(", bt, re.M), (header, bt)
    assert _all_cpus_in_ksoftirqd(kernel, args) == (out, hits)


def test_kt_bt_finds_each_task_thread_on_two_cpus(kernel, gdb):
    """The labs' helpers (kt-bt, kt-bt-all, kt-completions) ask `monitor ps` which thread
    is which task: with --cpus 2 its CPU column comes before THREAD (once read as the
    thread id, kt-bt showed a CPU's thread, cpu_idle, for the tasks of CPU 1)."""
    text = run_gdb(kernel, "break oops_test", "continue",
                   f"source {session.ROOT}/labs/kt_lab.py", "kt-bt ksoftirqd/1",
                   "kt-bt events/0", stub_args=("--cpus", "2"))
    soft = section(text, "(gdb) kt-bt ksoftirqd/1\n", "(gdb) kt-bt events/0")
    events = text[text.index("(gdb) kt-bt events/0\n"):]
    assert soft.split("\n")[1] == 'pid 6 "ksoftirqd/1" (sleeping):', soft
    assert re.search(r"^#\d+ .* in ksoftirqd \(", soft, re.M), soft
    assert "cpu_idle" not in soft
    assert events.split("\n")[1] == 'pid 7 "events/0" (sleeping):', events
    assert re.search(r"^#\d+ .* in worker_thread \(", events, re.M), events


def test_kt_bt_all_shows_each_cpu_idle_task_once(kernel, gdb):
    """Every CPU's idle task is pid 0: kt-bt-all keys threads by pid and CPU.
    Keyed by pid alone, CPU 1's idle thread stood in for CPU 0's swapper and
    CPU 1's own idle task was missing.  At ksoftirqd/0's first run CPU 1 idles."""
    text = run_gdb(kernel, "break ksoftirqd", "continue",
                   f"source {session.ROOT}/labs/kt_lab.py", "kt-bt-all", stub_args=("--cpus", "2"))
    out = text[text.index("(gdb) kt-bt-all\n"):]
    idle = re.findall(r'^(\*? ?pid 0 "swapper" \(\w+\):)\n(?:\(gdb\) bt\n)?((?:#.*\n)+)', out, re.M)
    assert [h for h, _ in idle] == ['pid 0 "swapper" (runnable):',
                                    '* pid 0 "swapper" (running):'], out
    assert "in rest_init ()" in idle[0][1] and "start_secondary" not in idle[0][1], out
    assert "in start_secondary ()" in idle[1][1], out


@pytest.mark.parametrize("cpu, task", [(0, r'"ksoftirqd/0" \(pid \d+, running\)'),
                                       (1, r'"swapper" \(pid 0, running\)')])
def test_kt_bt_all_leaves_the_selected_cpus_task_selected(kernel, gdb, cpu, task):
    """With tasks off each CPU is a thread; kt-bt-all turns tasks on, and gdb's
    selected thread must then be the task running on the CPU that was selected
    (the old test, "more than one thread known", took two CPUs for tasks on and
    left thread 1 selected: CPU 0's swapper, which is not running)."""
    text = run_gdb(kernel, "break ksoftirqd", "continue", f"thread {cpu + 1}",
                   f"source {session.ROOT}/labs/kt_lab.py", "kt-bt-all", "info threads",
                   stub_args=("--cpus", "2"))
    rows = text[text.index("(gdb) info threads\n"):]
    chosen = [line for line in rows.splitlines() if line.startswith("* ")]
    assert len(chosen) == 1 and re.search(task, chosen[0]), rows
