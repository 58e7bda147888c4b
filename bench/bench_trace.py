"""Cost of machine probes and of the scheduling trace (gdbstub/kernelaware/schedtrace.py).

  python bench/bench_trace.py [--repeat R] [--insns N]

1. boot: Machine.cont() from the first instruction to "init: boot complete"
   (in-process, after imports and the kernel layout are loaded), wall time:
     plain           no probes
     empty probes    the tracer's probe addresses, callbacks that do nothing
     traced          TimeMachine + SchedTracer recording (what --trace does)
   plus the one-time cost of reading the tracer's layout from the DWARF.
2. stub + gdb: wall time of a real gdb session to `oops_test` (right after
   boot complete) with and without `kthread-stub --trace FILE`.
3. free-running guest (machine/testkit.py TIMER_OS busy loop): guest
   instructions per second with no probe, and with one probe at an address
   the loop never executes (the per-instruction lookup while probes exist).
Each figure is the best of --repeat runs.
"""
import argparse
import os
import sys
import tempfile
import time
from hostinfo import host_line  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

BOOT_DONE = b"init: boot complete"


def _boot(m):
    t = time.perf_counter()
    while BOOT_DONE not in m.console_output:
        m.cont(100_000)
    return time.perf_counter() - t


def bench_boot(kernel, repeat):
    from machine import Machine
    from machine.history import TimeMachine
    from gdbstub.kernelaware import schedtrace

    t = time.perf_counter()
    layout = schedtrace.trace_layout(kernel)
    t_layout = time.perf_counter() - t
    rows = {"plain": [], "empty probes": [], "traced": []}
    events = 0
    for _ in range(repeat):
        rows["plain"].append(_boot(Machine(kernel)))
        m = Machine(kernel)
        for fi in layout.funcs.values():
            m.add_probe(fi.addr, lambda va, ic: None)
        rows["empty probes"].append(_boot(m))
        m = TimeMachine(Machine(kernel))
        tr = schedtrace.SchedTracer(m)
        tr.start()
        rows["traced"].append(_boot(m))
        events = len(tr.records)
        icount = m.icount
    base = min(rows["plain"])
    for name, ts in rows.items():
        print("boot to 'init: boot complete' (%d instructions), %-12s %.3f s  (x%.2f)"
              % (icount, name + ":", min(ts), min(ts) / base))
    print("  traced boot: %d events; reading the trace layout (DWARF, once per kernel): %.3f s"
          % (events, t_layout))


def bench_stub(kernel, repeat):
    from gdbstub.harness import session
    rel = os.path.relpath(kernel, ROOT)
    with tempfile.TemporaryDirectory() as tmp:
        for name, extra in (("without --trace", []),
                            ("with --trace", ["--trace", os.path.join(tmp, "t.json")])):
            best = None
            for _ in range(repeat):
                t = time.perf_counter()
                text, _ = session.run(commands=["break oops_test", "continue"], kernel=rel,
                                      stub_args=extra)
                dt = time.perf_counter() - t
                assert "Breakpoint 1, oops_test" in text, text
                best = dt if best is None else min(best, dt)
            print("stub + gdb to oops_test, %-16s %.3f s wall" % (name + ":", best))


def bench_free_running(insns, repeat):
    from machine import Machine
    from machine.testkit import build_timer_os
    with tempfile.TemporaryDirectory() as tmp:
        path = build_timer_os(tmp, "busy", 10 ** 9)
        for name, probe in (("no probe", False), ("one idle probe", True)):
            best = None
            for _ in range(repeat):
                m = Machine(path)
                if probe:
                    m.add_probe(0xFFFF0000, lambda va, ic: None)
                t = time.perf_counter()
                m.cont(insns)
                rate = m.icount / (time.perf_counter() - t)
                best = rate if best is None else max(best, rate)
            print("free-running busy loop, %-16s %.1f M guest instructions/s"
                  % (name + ":", best / 1e6))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--insns", type=int, default=100_000_000)
    args = ap.parse_args()
    from machine.kbuild import ensure_kernel
    kernel = ensure_kernel()
    print(host_line())
    bench_boot(kernel, args.repeat)
    bench_stub(kernel, max(1, args.repeat // 2))
    bench_free_running(args.insns, args.repeat)
    print("  command: cd %s && python bench/bench_trace.py --repeat %d --insns %d"
          % (ROOT, args.repeat, args.insns))


if __name__ == "__main__":
    main()
