"""The kt-* gdb helpers (gdb_scripts/) in real gdb, through a real stub, on the real kernel.

Each module fixture is one gdb session stopped at a deterministic point of
the boot (time is the instruction count, so pids, states and the log are the
same on every run): the reset vector, kthreadd's first instruction (init's
request for ksoftirqd is pending), and oops_test(), which kernel_init calls
right after printing `init: boot complete`.
"""
import os
import re
import shutil
import subprocess

import pytest

from gdbharness import match_in_order, match_lines, run_gdb
from gdbstub.harness import session

pytestmark = pytest.mark.e2e

SOURCE = "source gdb_scripts/kt.py"
TRACEBACK = re.compile(r"Traceback|Python Exception|Error occurred in Python")


def outputs(transcript, command):
    """What gdb printed after each `(gdb) command` line, as lists of lines."""
    found, current = [], None
    for line in transcript.splitlines():
        if line.startswith("(gdb) "):
            current = [] if line == f"(gdb) {command}" else None
            if current is not None:
                found.append(current)
        elif current is not None:
            current.append(line)
    assert found, f"`{command}` not in the transcript:\n{transcript}"
    return found


def output(transcript, command, nth=0):
    return outputs(transcript, command)[nth]


# ---------------------------------------------------------------- reset vector

RESET_ERROR = (r"re:{cmd}: cannot read {what}: Cannot access memory at address 0x........ "
               r"\(pc 0x........: the kernel has not turned paging on yet; "
               r"continue to start_kernel or later\)")


@pytest.fixture(scope="module")
def at_reset(kernel, gdb):
    return run_gdb(kernel, SOURCE, "kt-ps", "kt-dmesg", "kt-kthreads",
                   "print $kt_current()", "print $kt_task(1)", "print 6*7")


def test_reset_vector_errors_are_one_clean_line(at_reset):
    assert not TRACEBACK.search(at_reset), at_reset
    assert "(pc 0x1000010: the kernel has not turned paging on yet;" in at_reset
    for cmd, what in [("kt-ps", r"the task list \(init_task\.tasks\)"),
                      ("kt-dmesg", r"the kernel log \(log_buf/log_end\)"),
                      ("kt-kthreads", "kthread_create_list"),
                      ("print $kt_current()", "current_task"),
                      ("print $kt_task(1)", r"the task list \(init_task\.tasks\)")]:
        prefix = re.escape(cmd.split()[-1].split("(")[0])
        match_lines([RESET_ERROR.format(cmd=prefix, what=what)], output(at_reset, cmd))


def test_reset_vector_error_leaves_gdb_usable(at_reset):
    assert output(at_reset, "print 6*7") == ["$1 = 42"]


# ---------------------------------------------------------------- at kthreadd

@pytest.fixture(scope="module")
def at_kthreadd(kernel, gdb):
    return run_gdb(kernel, SOURCE, "break kthreadd", "continue",
                   "kt-ps", "kt-kthreads", "print $kt_current()->pid",
                   "print $kt_current() == $kt_task(2)", "print $kt_task(1)->state",
                   "kt-dmesg",
                   # corrupt the list of requests in guest memory: the
                   # helpers must say so rather than wander or loop
                   "set var kthread_create_list.next->prev = 0", "kt-kthreads",
                   "set var kthread_create_list.next = 0", "kt-kthreads")


def test_kt_ps_at_kthreadd(at_kthreadd):
    # kthreadd (pid 2) has not run set_task_comm() yet: it still has the
    # comm it inherited from the idle task; init sleeps in kthread_create().
    match_lines([
        "  TASK         PID  STATE                 COMM",
        r"re:  0x........     0  R \(runnable\)          swapper",
        r"re:  0x........     1  D \(uninterruptible\)   init",
        r"re:\* 0x........     2  R \(running\)           swapper",
    ], output(at_kthreadd, "kt-ps"))


def test_kt_ps_task_addresses_are_the_task_structs(at_kthreadd):
    lines = output(at_kthreadd, "kt-ps")
    assert lines[1].split()[0] != lines[2].split()[0]
    assert not TRACEBACK.search(at_kthreadd), at_kthreadd


def test_kt_kthreads_shows_the_pending_request(at_kthreadd):
    match_lines([
        "1 pending kthread_create() request on kthread_create_list (kthreadd serves the first):",
        r"re:request 0x........: threadfn ksoftirqd, data 0x0, result not set yet",
        "  done: count 0, waited on by init (pid 1)",
    ], output(at_kthreadd, "kt-kthreads"))


def test_kt_current_at_kthreadd(at_kthreadd):
    assert output(at_kthreadd, "print $kt_current()->pid") == ["$1 = 2"]
    assert output(at_kthreadd, "print $kt_current() == $kt_task(2)") == ["$2 = 1"]
    assert output(at_kthreadd, "print $kt_task(1)->state") == ["$3 = 2"]  # TASK_UNINTERRUPTIBLE


def test_kt_dmesg_at_kthreadd(at_kthreadd):
    lines = output(at_kthreadd, "kt-dmesg")
    assert lines[0].startswith("Linux version 2.6.32-kthread")
    assert lines[-1] == "init: running as pid 1"
    assert not any(line.startswith("kthread: created") for line in lines)


def test_corrupt_lists_are_reported(at_kthreadd):
    bad_prev, null_next = outputs(at_kthreadd, "kt-kthreads")[1:]
    match_lines([r"re:kt-kthreads: list at 0x........ is corrupt or changing: "
                 r"0x........->prev is not 0x........"], bad_prev)
    match_lines([r"re:kt-kthreads: list at 0x........ is not initialised "
                 r"\(NULL link after 0x........\)"], null_next)


# ---------------------------------------------------------------- boot complete

@pytest.fixture(scope="module")
def booted(kernel, gdb):
    return run_gdb(kernel, SOURCE, "break oops_test", "continue",
                   "kt-ps", "kt-dmesg", "kt-kthreads",
                   "print $kt_task(2)->comm", 'print $_streq($kt_task(2)->comm, "kthreadd")',
                   "print $kt_task(5)->comm", "print $kt_current()->pid",
                   "print $kt_task(6)", "print $kt_task()", "kt-ps all",
                   SOURCE, "kt-ps")


def test_kt_ps_after_boot(booted):
    match_lines([
        "  TASK         PID  STATE                 COMM",
        r"re:  0x........     0  R \(runnable\)          swapper",
        r"re:\* 0x........     1  R \(running\)           init",
        r"re:  0x........     2  S \(sleeping\)          kthreadd",
        r"re:  0x........     3  S \(sleeping\)          ksoftirqd/0",
        r"re:  0x........     4  S \(sleeping\)          events/0",
        r"re:  0x........     5  S \(sleeping\)          khelper",
    ], output(booted, "kt-ps"))


def test_kt_dmesg_after_boot(booted):
    lines = output(booted, "kt-dmesg")
    assert lines[0].startswith("Linux version 2.6.32-kthread")
    match_in_order([
        "PIT: HZ=100, divisor 11932",
        "init: running as pid 1",
        "kthread: created ksoftirqd/0 pid 3",
        "kthread: created events/0 pid 4",
        "kthread: created khelper pid 5",
        "kthread: created kthread_demo pid 6",
        "kthreadd: request list empty",
        "release_task: pid 6 (kthread_demo) by kthread_demo",
        "kthread_stop: kthread_demo pid 6 returned 42",
    ], lines)
    assert lines[-1] == "init: boot complete"


def test_kt_kthreads_empty_after_boot(booted):
    assert output(booted, "kt-kthreads") == [
        "kthread_create_list is empty: no pending kthread_create() requests"]


def test_convenience_functions_after_boot(booted):
    assert output(booted, "print $kt_task(2)->comm") == [
        r'$1 = "kthreadd\000\000\000\000\000\000\000"']
    assert output(booted, 'print $_streq($kt_task(2)->comm, "kthreadd")') == ["$2 = 1"]
    assert output(booted, "print $kt_task(5)->comm")[0].startswith('$3 = "khelper\\000')
    assert output(booted, "print $kt_current()->pid") == ["$4 = 1"]


def test_errors_after_boot(booted):
    # pid 6 (kthread_demo) was stopped and released itself before boot completed
    assert output(booted, "print $kt_task(6)") == ["$kt_task: no task with pid 6"]
    assert output(booted, "print $kt_task()") == ["$kt_task: usage: $kt_task(PID)"]
    assert output(booted, "kt-ps all") == ["kt-ps takes no arguments"]
    assert not TRACEBACK.search(booted), booted


def test_sourcing_again_reloads(booted):
    first, second = outputs(booted, "kt-ps")[0], outputs(booted, "kt-ps")[-1]
    assert outputs(booted, SOURCE) == [[], []]
    assert first == second


# ---------------------------------------------------------------- auto-load

def run_autoload(kernel, tmp_path, safe_path, *commands):
    """gdb on a vmlinux with gdb_scripts/vmlinux-gdb.py linked next to it.

    The link goes in a temporary directory (gdb looks next to the objfile's
    real path), so sessions elsewhere in the suite never see it.
    """
    vmlinux = tmp_path / "vmlinux"
    shutil.copyfile(os.path.join(session.ROOT, kernel), vmlinux)
    os.symlink(os.path.join(session.ROOT, "gdb_scripts", "vmlinux-gdb.py"),
               tmp_path / "vmlinux-gdb.py")
    with session.StubProcess(kernel, once=True) as stub:
        cmd = session.gdb_command(str(vmlinux), stub.address(), commands=commands)
        if safe_path:
            cmd[1:1] = ["-iex", f"add-auto-load-safe-path {tmp_path}"]
        res = subprocess.run(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                             stderr=subprocess.STDOUT, cwd=session.ROOT, timeout=120,
                             text=True)
    return session.prettify(res.stdout)


def test_autoload_with_safe_path(kernel, gdb, tmp_path):
    text = run_autoload(kernel, tmp_path, True, "info auto-load python-scripts",
                        "break kthreadd", "continue", "kt-ps", "print $kt_current()->pid")
    assert "declined" not in text
    match_in_order([
        r"re:Yes\s+.*/vmlinux-gdb\.py\s*",
        "  TASK         PID  STATE                 COMM",
        r"re:\* 0x........     2  R \(running\)           swapper",
    ], text)
    assert output(text, "print $kt_current()->pid") == ["$1 = 2"]


def test_autoload_declined_without_safe_path(kernel, gdb, tmp_path):
    text = run_autoload(kernel, tmp_path, False, "kt-ps")
    match_in_order([
        r"re:warning: File \".*/vmlinux-gdb\.py\" auto-loading has been declined "
        r"by your `auto-load safe-path' set to .*",
    ], text)
    assert output(text, "kt-ps") == ['Undefined command: "kt-ps".  Try "help".']


# ---------------------------------------------------------------- start_kernel

def test_at_start_kernel_only_the_boot_task_exists(kernel, gdb):
    # Paging is on and init_task is statically initialised: the helpers work
    # from the first C instruction, before any fork or printk.
    text = run_gdb(kernel, SOURCE, "break start_kernel", "continue", "kt-ps",
                   "kt-dmesg", "kt-kthreads", "print $kt_task(1)")
    match_lines(["  TASK         PID  STATE                 COMM",
                 r"re:\* 0x........     0  R \(running\)           swapper"],
                output(text, "kt-ps"))
    assert output(text, "kt-dmesg") == ["(the kernel log is empty)"]
    assert output(text, "kt-kthreads") == [
        "kthread_create_list is empty: no pending kthread_create() requests"]
    assert output(text, "print $kt_task(1)") == ["$kt_task: no task with pid 1"]


def test_kt_dmesg_is_the_console_output(kernel, booted):
    # Same kernel, same virtual time: what printk() logged is exactly what the
    # machine's UART printed up to `init: boot complete`.
    import sys
    res = subprocess.run([sys.executable, "-m", "machine", "--kernel", kernel],
                         cwd=session.ROOT, stdout=subprocess.PIPE,
                         stderr=subprocess.DEVNULL, text=True, timeout=120, check=True)
    console = res.stdout.split("init: boot complete\n")[0] + "init: boot complete"
    assert output(booted, "kt-dmesg") == console.splitlines()
