"""kthread-lab seeds N: boot a lab's machine once per --sched-seed, headless, and say
which seeds hang (lab 6: an SMP race that strikes for some interleavings only).

Each boot is the machine the lab's stub would run (grading.json's stub_args, read by
kthread-stub's own parser), with --sched-seed S in place of the lab's, run without
gdb until the console says "init: boot complete" or the virtual-time budget is spent.
The machine's clock is its instruction count, so a seed's verdict never depends on
the host: the same seed gives the same boot, to the instruction.
"""
from dataclasses import dataclass

from . import LabError

BOOTED = "init: boot complete"
# A healthy lab-6 boot completes before 2.6 M instructions (26 jiffies); a hang is
# one that has not by 40 jiffies, where the lab's own idle-loop breakpoint stops.
BUDGET = 4_000_000
STEP = 100_000


@dataclass
class Boot:
    seed: int
    booted: bool
    icount: int         # when the console said BOOTED, or the budget


def machine_args(stub_args):
    """A lab's stub options (grading.json stub_args) parsed by kthread-stub's own
    parser, so a seed boots what the lab's stub would."""
    from gdbstub.cli import _parser
    args = _parser().parse_args(list(stub_args))
    if args.cpus < 2:
        raise LabError("runs on one CPU (no --cpus 2 or more in its stub_args): "
                       "--sched-seed changes nothing there")
    return args


def boot(kernel, args, seed, budget=BUDGET):
    """Boot once with `seed`: a Boot saying whether the console reached BOOTED."""
    from machine import Machine
    from machine.stop import Reason
    m = Machine(kernel, cmdline=args.append, cpus=args.cpus, quantum=args.quantum,
                sched_seed=seed)
    mark = BOOTED.encode()
    while mark not in m.console_output:
        if m.icount >= budget:
            return Boot(seed, False, m.icount)
        stop = m.cont(min(STEP, budget - m.icount))
        if stop.reason != Reason.LIMIT:
            raise LabError(f"seed {seed}: the machine stopped ({stop.reason}) at icount "
                           f"{m.icount}; a headless boot expects none")
    return Boot(seed, True, m.icount)


def scan(stub_args, kernel, seeds, budget=BUDGET):
    """One Boot per seed, each as it ends (a report prints as it goes)."""
    args = machine_args(stub_args)
    return (boot(kernel, args, s, budget) for s in seeds)


def report(lab, kernel, first, last, out):
    """Print one line per seed, then the seeds that hang; returns them."""
    hangs = []
    for b in scan(lab.stub_args, kernel, range(first, last + 1)):
        if b.booted:
            out.write(f"seed {b.seed:2d}: boots (init: boot complete within {b.icount:,} instructions)\n")
        else:
            hangs.append(b.seed)
            out.write(f"seed {b.seed:2d}: HANGS (no 'init: boot complete' in {b.icount:,} "
                      f"instructions)\n")
        out.flush()
    out.write(f"seeds {first}..{last} that hang: {' '.join(map(str, hangs)) or 'none'}\n")
    return hangs
