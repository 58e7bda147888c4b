"""python -m machine [--kernel PATH] [--count N] [--until REGEX] [--cmdline S] [--cpus N]

Builds (unless --kernel is given) and boots the kernel headless, copying its
console to stdout.  Stops when the console shows `init: boot complete` (or
REGEX), after N instructions, or on a fault; then prints one summary line
(instructions, wall time, MIPS, which clock counted) to stderr.  Exit status: 0 when the expected
text appeared (or --count ran out), 1 on a guest fault or missing text,
2 when the kernel image is unusable.
"""
import argparse
import re
import sys
import time

from . import options
from .errors import KernelImageError
from .kbuild import ensure_kernel
from .stop import Reason

SLICE = 50_000_000
BOOT_DONE = r"init: boot complete[^\n]*\n"


def main(argv=None):
    ap = argparse.ArgumentParser(prog="python -m machine", description=__doc__.split("\n")[0])
    ap.add_argument("--kernel", help="kernel ELF image (default: build kernel_src/vmlinux)")
    ap.add_argument("--count", type=int, help="stop after this many instructions")
    ap.add_argument("--until", default=None, help="stop when the console matches REGEX "
                    "(default: %r)" % BOOT_DONE)
    ap.add_argument("--cmdline", default="", help="kernel command line")
    ap.add_argument("--ram-mb", type=int, default=128)
    ap.add_argument("--cpus", type=int, choices=range(1, 5), default=1,
                    help="CPUs, 1 to 4 (default 1)")
    ap.add_argument("--quantum", type=options.quantum, default=10_000,
                    help="instructions per CPU turn (default 10000)")
    ap.add_argument("--sched-seed", type=options.sched_seed, default=None,
                    help="vary the quanta by this seed (same seed, same run)")
    ap.add_argument("--max-insns", type=int, default=2_000_000_000,
                    help="give up after this many instructions (default 2e9)")
    args = ap.parse_args(argv)
    t0 = time.time()
    pattern = re.compile((args.until or BOOT_DONE).encode())
    watch = args.count is None or args.until is not None
    state = {"matched": False, "scanned": 0}
    out = sys.stdout.buffer
    holder = {}

    def console(data):
        out.write(data)
        out.flush()
        if watch and not state["matched"]:
            buf = holder["m"].console_output
            if pattern.search(buf, max(0, state["scanned"] - 256)):
                state["matched"] = True
                holder["m"].request_stop()      # right after this line's newline
            state["scanned"] = len(buf)
    try:
        path = ensure_kernel(args.kernel)
        from .machine import Machine
        m = Machine(path, ram_mb=args.ram_mb, cmdline=args.cmdline, console=console,
                    cpus=args.cpus, quantum=args.quantum, sched_seed=args.sched_seed)
        holder["m"] = m
    except (KernelImageError, ValueError) as e:
        print("machine: %s" % str(e).replace("\n", " | "), file=sys.stderr)
        return 2
    budget = args.count if args.count is not None else args.max_insns
    t1 = time.time()
    status = 1
    why = "instruction budget (%d) exhausted" % budget
    while m.icount < budget:
        stop = m.cont(min(SLICE, budget - m.icount))
        if state["matched"]:
            status, why = 0, "console matched %r" % pattern.pattern.decode()
            break
        if stop.reason not in (Reason.LIMIT, Reason.BREAKPOINT):
            why = "%s at 0x%08x: %s" % (stop.reason, stop.pc, stop.detail)
            break
    else:
        if not watch:
            status, why = 0, "ran %d instructions" % budget
    t2 = time.time()
    run = t2 - t1
    print("machine: %s; %d instructions in %.3f s (%.1f MIPS, idle skipped by hlt "
          "included; clock: %s), %.3f s since start"
          % (why, m.icount, run, m.icount / run / 1e6 if run > 0 else 0.0, m.clock_mode,
             t2 - t0), file=sys.stderr)
    return status


if __name__ == "__main__":
    sys.exit(main())
