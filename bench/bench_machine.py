"""Benchmarks of the emulated PC (machine/).

  python bench/bench_machine.py [--insns N] [--repeat R]

1. boot: wall time from process start (a fresh `python -m machine --kernel
   kernel_src/vmlinux`, so interpreter start-up and imports count) to the
   console line `init: boot complete`.  Target < 1 s.
2. free-running guest: a tiny multiboot guest (machine/testkit.py TIMER_OS,
   "busy", "mixed" and "stores" loops: the last stores to a page without
   code, what machine/mmu.py makes fast) with the PIT at HZ=100 delivering
   IRQ 0 every 100,001 instructions; reports guest instructions per wall
   second and per CPU second (process time: what a loaded host leaves of a
   core) of Machine.cont().  Target >= 50 M/s (busy loop: >= 200 M/s).
   (The real kernel idles in hlt after boot, and idle time is skipped, so
   it would overstate the speed.)
3. watchpoints: the "busy" guest under TimeMachine (the stub's history
   wrapper) with no watchpoint, `watch` on its tick counter and on the
   counter's second byte (every overlapping write stops, as the stub
   reports each to gdb), for a quarter of --insns: guest instructions per
   second and stops.
4. breakpoint hits with and without history: the real kernel from kthreadd on,
   a breakpoint on do_timer (once per tick, the CPU idles in hlt between: each
   hit is 100,001 instructions of virtual time later), 2,000 hits, on the
   Machine alone and under TimeMachine (a RAM snapshot every 2 M instructions).
Each figure is the best of --repeat runs, printed with its command line.
--tlb cpu runs rows 2-4 with unicorn's own page walker (Machine(tlb="cpu"), the
machine before machine/mmu.py), for before/after figures from one tree.
"""
import argparse
import os
import subprocess
import sys
import tempfile
import time
from hostinfo import host_line  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)


def bench_boot(repeat):
    from machine.kbuild import ensure_kernel
    vmlinux = ensure_kernel()
    cmd = [sys.executable, "-m", "machine", "--kernel", os.path.relpath(vmlinux, ROOT)]
    best = None
    for _ in range(repeat):
        t = time.perf_counter()
        r = subprocess.run(cmd, cwd=ROOT, capture_output=True)
        dt = time.perf_counter() - t
        if r.returncode != 0 or b"init: boot complete" not in r.stdout:
            print("boot FAILED:", r.stderr.decode(errors="replace"))
            return
        best = dt if best is None else min(best, dt)
        summary = r.stderr.decode().strip().splitlines()[-1]
    print("boot to 'init: boot complete': %.3f s wall from process start "
          "(target < 1 s)\n  command: cd %s && %s\n  %s"
          % (best, ROOT, " ".join(["python"] + cmd[1:]), summary))


def bench_free_running(insns, repeat, tlb="virtual"):
    from machine import Machine
    from machine.testkit import build_timer_os
    with tempfile.TemporaryDirectory() as tmp:
        for mode in ("busy", "mixed", "stores"):
            path = build_timer_os(tmp, mode, 10 ** 9)
            best = best_cpu = 0
            for _ in range(repeat):
                m = Machine(path, tlb=tlb)
                t, c = time.perf_counter(), time.process_time()
                m.cont(insns)
                dt, dc = time.perf_counter() - t, time.process_time() - c
                best = max(best, m.icount / dt)
                best_cpu = max(best_cpu, m.icount / dc)
                irqs = m.irqs_delivered
            print("free-running guest (%s loop, timer at HZ=100, %d IRQs delivered): "
                  "%.1f M guest instructions/s, %.1f M per CPU second (target %s)"
                  % (mode, irqs, best / 1e6, best_cpu / 1e6,
                     ">= 200" if mode == "busy" else ">= 50"))
    print("  command: cd %s && python bench/bench_machine.py --insns %d --repeat %d --tlb %s"
          % (ROOT, insns, repeat, tlb))


def bench_watch(insns, repeat, tlb="virtual"):
    run = insns // 4            # a quarter of --insns: three configurations to run
    from machine import Machine
    from machine.history import TimeMachine
    from machine.testkit import build_timer_os, symbols
    with tempfile.TemporaryDirectory() as tmp:
        path = build_timer_os(tmp, "busy", 10 ** 9)
        ticks = symbols(path)["ticks"]
        for label, watch in (("no watchpoint", None), ("watch ticks", (ticks, 4)),
                             ("watch byte ticks+1", (ticks + 1, 1))):
            best = best_cpu = 0
            for _ in range(repeat):
                tm = TimeMachine(Machine(path, ram_mb=16, tlb=tlb))
                if watch:
                    tm.add_watchpoint("watch", *watch)
                stops = 0
                t, c = time.perf_counter(), time.process_time()
                while tm.icount < run:
                    stops += tm.cont(run - tm.icount).reason == "watchpoint"
                best = max(best, tm.icount / (time.perf_counter() - t))
                best_cpu = max(best_cpu, tm.icount / (time.process_time() - c))
            print("TimeMachine, busy loop reading `ticks`, the timer ISR writing it, %s: "
                  "%.1f M guest instructions/s, %.1f M per CPU second, %d watchpoint stops"
                  % (label, best / 1e6, best_cpu / 1e6, stops))
    print("  command: cd %s && python bench/bench_machine.py --insns %d --repeat %d --tlb %s"
          % (ROOT, insns, repeat, tlb))


def bench_hits(repeat, hits=2000, tlb="virtual"):
    from machine import Machine
    from machine.history import TimeMachine
    from machine.kbuild import ensure_kernel
    from machine.testkit import symbols
    vmlinux = ensure_kernel()
    sym = symbols(vmlinux)
    for label, wrap in (("Machine", lambda m: m), ("TimeMachine (history on)", TimeMachine)):
        best = None
        for _ in range(repeat):
            m = wrap(Machine(vmlinux, tlb=tlb))
            m.add_breakpoint(sym["kthreadd"])
            m.cont()
            m.remove_breakpoint(sym["kthreadd"])
            m.add_breakpoint(sym["do_timer"])
            t = time.perf_counter()
            for _ in range(hits):
                assert m.cont().reason == "breakpoint"
            rate = hits / (time.perf_counter() - t)
            best = rate if best is None else max(best, rate)
        print("breakpoint hits at do_timer, %s: %.0f /s" % (label, best))
    print("  command: cd %s && python bench/bench_machine.py --repeat %d --tlb %s"
          % (ROOT, repeat, tlb))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--insns", type=int, default=200_000_000)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--tlb", choices=("virtual", "cpu"), default="virtual",
                    help="Machine(tlb=...): the virtual TLB, or unicorn's walker (before it)")
    args = ap.parse_args()
    print(host_line())
    bench_boot(args.repeat)
    bench_free_running(args.insns, args.repeat, args.tlb)
    bench_watch(args.insns, args.repeat, args.tlb)
    bench_hits(args.repeat, tlb=args.tlb)


if __name__ == "__main__":
    main()
