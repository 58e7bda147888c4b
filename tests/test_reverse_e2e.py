"""Reverse execution in real gdb (no `record`: the stub's bs/bc with the
machine's own history), against the real kernel.

Every state check compares what gdb printed at a point going forward with
what it prints after coming back to that point in reverse: all registers,
the top of the stack, and the machine's instruction count.
"""
import re

import pytest

from gdbharness import match_in_order
from gdbstub.harness import session

STATE = ["info registers", "x/8xw $esp", "monitor icount"]


def state(tag):
    return [f"echo @@{tag}\\n"] + STATE + [f"echo @@end\\n"]


def states(text):
    """tag -> the lines gdb printed for state(tag) (registers, stack, icount)."""
    out = {}
    for m in re.finditer(r"^@@(\S+)\n(.*?)^@@end$", text, re.M | re.S):
        lines = [l for l in m.group(2).splitlines()
                 if not l.startswith("(gdb)") and not l.startswith("+")]
        assert any(l.startswith("eip") for l in lines), m.group(0)
        assert any(l.startswith("icount ") for l in lines), m.group(0)
        out[m.group(1)] = lines
    return out


def test_prettify_drops_the_echo_of_a_reverse_commands_forward_twin():
    raw = "+reverse-continue\n+continue \nContinuing.\n+rs 2\n+step 2\n+continue \nContinuing.\n"
    assert session.prettify(raw).splitlines() == [
        "(gdb) reverse-continue", "Continuing.", "(gdb) rs 2", "(gdb) continue ", "Continuing."]


def run_gdb(kernel, commands, stub_args=()):
    text, _ = session.run(commands=list(commands), kernel=kernel, stub_args=list(stub_args))
    return text


def test_reverse_continue_to_the_previous_breakpoint(kernel, gdb):
    text = run_gdb(kernel, ["break create_kthread", "continue", *state("first"),
                            "continue", *state("second"), "reverse-continue", *state("back"),
                            "bt 1", "continue", *state("again")])
    match_in_order([
        "Breakpoint 1, create_kthread (create=0x........) at kernel/kthread.c:85",
        "Breakpoint 1, create_kthread (create=0x........) at kernel/kthread.c:85",
        "(gdb) reverse-continue",
        "Breakpoint 1, create_kthread (create=0x........) at kernel/kthread.c:85",
        "#0  create_kthread (create=0x........) at kernel/kthread.c:85",
    ], text)
    # gdb runs reverse-continue as "continue " internally; the transcript shows
    # only what was typed
    after = text[text.index("(gdb) reverse-continue"):].splitlines()
    assert after[1] == "Continuing."
    s = states(text)
    assert s["back"] == s["first"] != s["second"]
    assert s["again"] == s["second"]          # forward again: the same future


def test_reverse_stepi_retraces_forward_steps(kernel, gdb):
    n = 12
    fwd = []
    for i in range(n):
        fwd += state(f"f{i}") + ["stepi"]
    back = []
    for i in reversed(range(n)):
        back += ["reverse-stepi"] + state(f"b{i}")
    text = run_gdb(kernel, ["break kthreadd", "continue", "delete", "advance 206"]
                   + fwd + state(f"f{n}") + back)
    s = states(text)
    for i in range(n):
        assert s[f"b{i}"] == s[f"f{i}"], (i, s[f"b{i}"], s[f"f{i}"])
    assert s[f"f{n}"] != s["f0"]


def test_reverse_nexti_over_a_call(kernel, gdb):
    # reverse-stepi from create_kthread's first instruction lands on the call
    text = run_gdb(kernel, ["break create_kthread", "continue", "delete", "reverse-stepi",
                            "x/i $pc", *state("call"), "nexti", *state("after"),
                            "reverse-nexti", *state("back"), "x/i $pc"])
    assert re.search(r"=> 0x[0-9a-f]+ <kthreadd\+\d+>:\s+call\s+0x[0-9a-f]+ <create_kthread>", text), text
    s = states(text)
    assert s["back"] == s["call"] != s["after"]


def test_reverse_step_next_finish_between_kthreadd_and_create_kthread(kernel, gdb):
    text = run_gdb(kernel, ["break kthreadd", "continue", "delete", "advance 208",
                            *state("at208"), "step", *state("in_create"),
                            "reverse-step", *state("rs"), "step", "reverse-finish",
                            "next", *state("at209"), "reverse-next", *state("rn"),
                            "reverse-next", "next", "next", *state("at209b")])
    match_in_order([
        "208\t\t\tcreate_kthread(create);",
        "(gdb) step",
        "create_kthread (create=0x........) at kernel/kthread.c:89",
        "(gdb) reverse-step",
        "kthreadd (unused=<optimized out>) at kernel/kthread.c:208",
        "208\t\t\tcreate_kthread(create);",
        "(gdb) reverse-finish",
        "Run back to call of #0  create_kthread (create=0x........)",
        r"re:0x........ in kthreadd \(unused=<optimized out>\) at kernel/kthread.c:208",
        "(gdb) next",
        "209\t\t\tspin_lock(&kthread_create_lock);",
        "(gdb) reverse-next",
        "208\t\t\tcreate_kthread(create);",
        "(gdb) reverse-next",
        "207\t\t\tspin_unlock(&kthread_create_lock);",
    ], text)
    s = states(text)
    assert s["rs"] == s["at208"]
    assert s["rn"] == s["at208"]
    assert s["at209b"] == s["at209"]


def test_watch_then_reverse_continue_finds_the_last_writer(kernel, gdb):
    back = run_gdb(kernel, ["break create_kthread", "continue", "continue", "delete",
                            "watch kthread_create_list.next", "reverse-continue", "bt 2",
                            "stepi", *state("writer")])
    match_in_order([
        "(gdb) reverse-continue",
        "Hardware watchpoint 2: kthread_create_list.next",
        r"re:Old value = \(struct list_head \*\) 0x........ <kthread_create_list>",
        r"re:New value = \(struct list_head \*\) 0x........",
        r"re:__list_del \(.*",
        "#1  list_del_init (entry=0x........) at include/linux/list.h:66",
        "(gdb) stepi",                          # executes the write: reported forward
        "Hardware watchpoint 2: kthread_create_list.next",
        r"re:New value = \(struct list_head \*\) 0x........ <kthread_create_list>",
    ], back)
    # Going forward from the start with the same watchpoint, its 4th stop is
    # that write (ksoftirqd queued, taken; events/0 queued, taken): the state
    # after the writing instruction is the one reverse execution found.
    fwd = run_gdb(kernel, ["watch kthread_create_list.next", "continue", "continue",
                           "continue", "continue", *state("writer")])
    assert states(fwd)["writer"] == states(back)["writer"]


def test_history_begins_at_the_first_instruction(kernel, gdb):
    text = run_gdb(kernel, ["break kthreadd", "continue", "delete", "reverse-continue",
                            "monitor icount", "reverse-stepi", "stepi", "monitor history"])
    match_in_order([
        "(gdb) reverse-continue",
        "No more reverse-execution history.",
        "0x01000010 in ?? ()",
        "icount 0",
        "(gdb) reverse-stepi",
        "No more reverse-execution history.",
        r"re:history: icount 0\.\.1, now at 1, \d+ snapshots, .*",
    ], text)


def test_bounded_history_memory_drops_the_oldest(kernel, gdb):
    """--history-mem 1M keeps about one snapshot: history then begins at the
    last periodic snapshot, and gdb is told so when reverse execution gets there."""
    text = run_gdb(kernel, ["break do_timer", "ignore 1 100", "continue", "delete",
                            "monitor history", "reverse-continue", "monitor icount",
                            "monitor history"], stub_args=["--history-mem", "1M"])
    match_in_order([
        r"re:Breakpoint 1, do_timer .*",
        r"re:history: icount [1-9]\d+\.\.\d+, now at \d+, \d+ snapshots, .*limit 1 MiB.*oldest dropped",
        "(gdb) reverse-continue",
        "No more reverse-execution history.",
    ], text)
    begin = int(re.search(r"history: icount (\d+)\.\.", text).group(1))
    assert re.search(rf"^icount {begin}$", text, re.M), text


def test_reverse_across_a_caught_exception_delivery(kernel, gdb):
    """oops=pf: gdb stops at the faulting store (SIGSEGV, caught before
    delivery), stepi passes the signal (delivered: the handler's first
    instruction); reverse execution comes back over the delivery exactly."""
    text = run_gdb(kernel, ["continue", *state("fault"), "stepi", *state("handler"),
                            "stepi", "stepi", "reverse-stepi", "reverse-stepi",
                            *state("handler_back"),
                            # back over the delivery to the start of the store
                            "reverse-stepi", "info registers eip",
                            # the store again: it faults (SIGSEGV), then is delivered
                            "stepi", *state("fault_again"), "stepi", *state("handler_again")],
                   stub_args=["--append", "oops=pf"])
    match_in_order([
        "Program received signal SIGSEGV, Segmentation fault.",
        "oops_test () at kernel/oops_test.c:92",
        "(gdb) stepi",
        r"re:page_fault \(\) at arch/x86/kernel/entry_32.S:\d+",
    ], text)
    s = states(text)
    assert s["handler_back"] == s["handler"] != s["fault"]
    assert s["fault_again"] == s["fault"]
    assert s["handler_again"] == s["handler"]
    assert "Program received signal SIGSEGV" in text[text.rindex("@@handler_back"):]


def test_ctrl_c_stops_a_long_reverse_continue(kernel, gdb):
    """reverse-continue runs in slices like continue, so Ctrl-C (gdb's SIGINT,
    sent to the stub as 0x03) stops it at a past point; a second
    reverse-continue goes on from there to the watchpoint's last writer.
    (The interrupt is asynchronous: only where it lands varies, not what.)"""
    import os
    import signal
    import subprocess
    import time     # measures how long the stop took, never waits

    commands = ["continue", "monitor icount", "watch -l kthreadd_task->pid",
                "reverse-continue", "echo @@interrupted\\n", "monitor icount",
                "reverse-continue", "bt 1"]
    with session.StubProcess(kernel, ["--deadline", "200M", "--debug-rsp", "-"], once=True) as stub:
        cmd = session.gdb_command(kernel, stub.address())
        proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                stderr=subprocess.STDOUT, cwd=session.ROOT, text=True,
                                start_new_session=True)
        proc.stdin.write("\n".join(commands) + "\n")
        proc.stdin.flush()
        seen = []
        for line in proc.stdout:                 # until gdb runs reverse-continue
            seen.append(line)
            if "+reverse-continue" in line:
                break
        stub.wait_for('getpkt ("bc")', "stderr")    # the stub took its bc: running back
        t0 = time.monotonic()
        os.killpg(proc.pid, signal.SIGINT)
        rest, _ = proc.communicate(timeout=120)     # closes stdin: gdb quits after the rest
    text = session.prettify("".join(seen) + rest)
    after = text[text.index("(gdb) reverse-continue"):]
    match_in_order([
        "Program received signal SIGINT, Interrupt.",
        "@@interrupted",
        r"re:icount \d+",
        "(gdb) reverse-continue",
        "Old value = 2",
        "New value = 0",
        r"re:#0  0x........ in copy_process \(.*",
    ], after)
    icount = int(re.search(r"@@interrupted\n(?:.*\n)*?icount (\d+)", after).group(1))
    assert 449_000 < icount < 200_000_000
    assert time.monotonic() - t0 < 60


def _stdio_session(kernel, commands):
    """gdb -batch on `target remote | kthread-stub --stdio`: the stub's console
    output reaches gdb's stderr, as a user on a terminal sees it."""
    import subprocess
    cmd = ["gdb", "-q", "-nx", "-batch", *session.gdb_settings(), kernel,
           "-ex", f"target remote {session.stub_pipe(kernel, stderr_path=None)}"]
    for c in commands:
        cmd += ["-ex", c]
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=300,
                       stdin=subprocess.DEVNULL, cwd=session.ROOT)
    return r.stdout, r.stderr


def test_reverse_execution_never_prints_the_console_again(kernel, gdb):
    """Going back replays the past, console output included: the user must
    not see it again.  reverse-continue, reverse-step, reverse-finish and
    reverse-stepi, then forward to the end of the boot: the console stream is
    the one a forward-only session prints, each line once."""
    end = ["delete", "break oops_test", "continue"]
    out, console = _stdio_session(kernel, [
        "break kthread_stop", "continue", "break create_kthread", "reverse-continue",
        "reverse-step", "reverse-finish", "reverse-stepi", *end])
    match_in_order([
        r"re:Breakpoint 1, kthread_stop \(k=0x........\) at kernel/kthread.c:\d+",
        "Breakpoint 2, create_kthread (create=0x........) at kernel/kthread.c:85",
        "kthreadd (unused=<optimized out>) at kernel/kthread.c:208",
        r"re:Breakpoint 3, oops_test \(\) at kernel/oops_test.c:\d+",
    ], out)
    _, forward = _stdio_session(kernel, end)
    assert "init: boot complete" in forward, forward
    assert console == forward
