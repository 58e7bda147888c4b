"""Range stepping (vCont;r): gdb's step/next run a line's range inside the
stub.  Real gdb, real kernel: the transcript and the machine state after
`next` over create_kthread(create) and over schedule() are the same with
range stepping on (the default once the stub offers it) and off, and gdb
really used vCont;r."""
import os
import re

import pytest

from gdbharness import kernel_source, match_in_order, source_line
from gdbstub.harness import session

# kthreadd's schedule() while its request list is empty, and the line after it
SCHED, SCHED_TEXT = source_line("kernel/kthread.c", "schedule();", after="int kthreadd(")
AFTER_TEXT = kernel_source("kernel/kthread.c")[SCHED]

WALK = ["break kthreadd", "continue", "delete"] + ["next"] * 8 + [
    "next",                     # over create_kthread(create): back in kthreadd at 209
    f"tbreak kernel/kthread.c:{SCHED}", "continue",
    "next",                     # over schedule()
    "next", "step", "next",
    "info registers", "x/4xw $esp", "monitor icount"]


def walk(kernel, tmp_path, range_stepping):
    log = os.path.join(tmp_path, f"rsp-{range_stepping}.log")
    pre = [] if range_stepping else ["set range-stepping off"]
    text, _ = session.run(commands=pre + WALK, kernel=kernel,
                          stub_args=["--debug-rsp", log])
    with open(log) as f:
        packets = f.read()
    return text, packets


@pytest.fixture(scope="module")
def both(kernel, gdb, tmp_path_factory):
    tmp = str(tmp_path_factory.mktemp("range"))
    return walk(kernel, tmp, True), walk(kernel, tmp, False)


def test_gdb_uses_vcont_r(both):
    (_, on), (_, off) = both
    assert 'getpkt ("vCont?' in on and "vCont;c;C;s;S;r" in on
    assert len(re.findall(r'getpkt \("vCont;r[0-9a-f]+,[0-9a-f]+', on)) >= 5
    assert "vCont;r" not in off.replace("vCont;c;C;s;S;r", "")


def test_next_over_create_kthread_and_schedule(both):
    (text, _), _ = both
    match_in_order([
        "208\t\t\tcreate_kthread(create);",
        "(gdb) next",
        "209\t\t\tspin_lock(&kthread_create_lock);",
        "Temporary breakpoint 2, kthreadd (unused=<optimized out>)",
        f"{SCHED}\t{SCHED_TEXT}",
        "(gdb) next",
        f"{SCHED + 1}\t{AFTER_TEXT}",
        "(gdb) step",
        "list_empty (head=0x........ <kthread_create_list>) at include/linux/list.h:78",
    ], text)


def test_same_transcript_and_state_as_single_steps(both):
    (on, _), (off, _) = both
    strip = lambda t: [l for l in t.splitlines()
                       if "range-stepping" not in l and "Remote debugging using" not in l
                       and "target remote" not in l]
    assert strip(on) == strip(off)
    assert re.search(r"^icount \d+$", on, re.M)  # the state compared includes virtual time
