"""Costs of three stub behaviours that run the guest without a stop to show for it.

  python bench/bench_stub_waits.py [--seconds S]

1. `thread 3` + `stepi` on kthreadd after boot (it sleeps for good): the stub
   waits for it up to STEP_WAIT_LIMIT instructions, then stops with SIGINT;
   wall time of the stepi (a real gdb session to oops_test with and without it).
2. `monitor info tlb` at kthreadd (one line per mapped page, 32768): wall
   time of the command through real gdb.
3. After `detach` the guest runs on in real time until the next gdb: the
   stub's CPU time over S seconds of wall time, and the guest's icount and
   jiffies the next gdb finds.
"""
import argparse
import os
import re
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

from gdbstub.harness import session  # noqa: E402
from gdbstub.kernelaware.stepwait import STEP_WAIT_LIMIT  # noqa: E402


def _timed(kernel, commands, args=()):
    t0 = time.monotonic()
    session.run(commands=commands, kernel=kernel, stub_args=list(args))
    return time.monotonic() - t0


def _cpu_seconds(pid):
    fields = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--seconds", type=float, default=3.0)
    ap.add_argument("--kernel", default=None)
    args = ap.parse_args(argv)
    kernel = args.kernel
    if kernel is None:
        from machine.kbuild import ensure_kernel
        kernel = os.path.relpath(ensure_kernel(), ROOT)
    os.chdir(ROOT)

    to_boot = ["break oops_test", "continue"]
    extra = (_timed(kernel, to_boot + ["thread 3", "stepi"], ["--tasks"])
             - _timed(kernel, to_boot, ["--tasks"]))
    print(f"stepi on a task that never runs: {extra:.2f} s "
          f"(gives up after {STEP_WAIT_LIMIT} instructions)")

    to_kthreadd = ["break kthreadd", "continue"]
    tlb = _timed(kernel, to_kthreadd + ["monitor info tlb"]) - _timed(kernel, to_kthreadd)
    print(f"monitor info tlb at kthreadd (32768 lines through gdb): {tlb:.2f} s")

    with session.StubProcess(kernel, (), once=False) as stub:
        subprocess.run(session.gdb_command(kernel, stub.address(), commands=to_kthreadd + ["detach"]),
                       stdin=subprocess.DEVNULL, capture_output=True, timeout=120)
        c0, w0 = _cpu_seconds(stub.proc.pid), time.monotonic()
        time.sleep(args.seconds)   # the guest runs on meanwhile: that is what is measured
        c1, w1 = _cpu_seconds(stub.proc.pid), time.monotonic()
        out = subprocess.run(session.gdb_command(kernel, stub.address(),
                                                 commands=["monitor icount", "p jiffies"]),
                             stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                             stderr=subprocess.STDOUT, text=True, timeout=120).stdout
    found = " ".join(re.findall(r"icount \d+|\$1 = \d+", out))
    print(f"guest running on after detach: stub CPU {c1 - c0:.2f} s in {w1 - w0:.2f} s of "
          f"wall time; the next gdb finds {found} (jiffies)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
