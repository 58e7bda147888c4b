"""More than one CPU: the same workloads on 1, 2 and 4 CPUs, and the cost of
the quantum (machine/smp.py), in virtual time (icount) and host CPU time.

  boot  the kernel to `init: boot complete` (--cpus 1, 2, 4; quantum sweep)
  lock  testkit's tiny SMP kernel: TOTAL increments of a shared counter under
        a spinlock, split over the CPUs (2 and 4; quantum sweep): the switch
        cost and the spinning a waiting CPU does until its turn ends

    .venv/bin/python bench/bench_smp.py [--kernel PATH] [--repeat R]
"""
import argparse
import os
import re
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

from machine import Machine                            # noqa: E402
from machine.kbuild import ensure_kernel               # noqa: E402
from machine.testkit import build_smp_os               # noqa: E402
from hostinfo import host_line  # noqa: E402

TOTAL = 400_000
BOOT_DONE = re.compile(rb"init: boot complete")


def boot(kernel, cpus, quantum):
    box = {}

    def console(_data):
        if BOOT_DONE.search(box["m"].console_output):
            box["m"].request_stop()
    m = box["m"] = Machine(kernel, console=console, cpus=cpus, quantum=quantum)
    t = time.process_time()
    while not BOOT_DONE.search(m.console_output) and m.icount < 2_000_000_000:
        m.cont(50_000_000)
    return m.icount, time.process_time() - t, b"CPUs online" in m.console_output


def lock(path, cpus, quantum):
    box = {}
    m = box["m"] = Machine(path, ram_mb=16, cpus=cpus, quantum=quantum,
                           console=lambda data: b"\n" in data and box["m"].request_stop())
    t = time.process_time()
    m.cont(2_000_000_000)
    assert m.console_output == b"%08x\n" % TOTAL, m.console_output
    return m.icount, time.process_time() - t


def best(fn, repeat):
    runs = [fn() for _ in range(repeat)]
    return min(runs, key=lambda r: r[1])


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--kernel", help="kernel ELF (default: build kernel_src/vmlinux)")
    ap.add_argument("--repeat", type=int, default=3, help="runs per row; the fastest is shown")
    args = ap.parse_args()
    kernel = ensure_kernel(args.kernel)
    print(host_line())
    for cpus, quantum in ((1, 10_000), (2, 1_000), (2, 10_000), (2, 100_000),
                          (4, 1_000), (4, 10_000), (4, 100_000)):
        icount, secs, smp = best(lambda: boot(kernel, cpus, quantum), args.repeat)
        print("boot  cpus %d quantum %7d: %11d instructions virtual, %6.3f s host%s"
              % (cpus, quantum, icount, secs, "" if smp or cpus == 1 else
                 " (the kernel started no AP)"))
    with tempfile.TemporaryDirectory() as tmp:
        for cpus in (2, 4):
            path = build_smp_os(tmp, cpus, True, TOTAL // cpus)
            for quantum in (1_000, 10_000, 100_000):
                icount, secs = best(lambda: lock(path, cpus, quantum), args.repeat)
                print("lock  cpus %d quantum %7d: %11d instructions virtual, %6.3f s host, "
                      "%5.1f M instr/s" % (cpus, quantum, icount, secs, icount / secs / 1e6))
    print("  command: .venv/bin/python bench/bench_smp.py %s--repeat %d"
          % ("--kernel %s " % args.kernel if args.kernel else "", args.repeat))


if __name__ == "__main__":
    main()
