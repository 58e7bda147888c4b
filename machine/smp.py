"""More than one CPU: the quanta, IPI routing, `pause` sites (no unicorn).

The machine (machine.py) runs its CPUs one at a time, each for a quantum of
instructions, in CPU order; the interleaving is a rule of the machine, so
the same run repeats exactly.  Virtual time (`icount`) is one count for the
whole machine: instructions begun on any CPU plus idle time skipped when
every CPU is halted.  So a position in a run is one number, a stop, a
snapshot or a replay target means the same on every CPU, and the devices
(PIT, the local APICs' timers) all count that one time.

  Quanta(quantum, seed=None).length(n) -> instructions of the n-th quantum:
    `quantum` without a seed; with one (--sched-seed) a length in
    [quantum/2, 3*quantum/2) drawn from (seed, n) by splitmix64, so the same
    seed gives the same interleaving and another seed another one.
  route(targets, mode, vector, dest, shorthand, source) -> [(cpu, mode, vector)]
    who receives an IPI sent through a local APIC's ICR (lapic.py).
  Cpu0Interrupts(lapic, pic): what CPU 0 takes interrupts from.

A CPU itself (engine, clock, APIC, state) is machine/cpu.py's Cpu.
"""
import capstone
from elftools.elf.elffile import ELFFile

from . import lapic as L

MAX_CPUS = 4
DEFAULT_QUANTUM = 10_000        # instructions (bench/bench_smp.py, README)
_MASK64 = (1 << 64) - 1


def splitmix64(x: int) -> int:
    x = (x + 0x9E3779B97F4A7C15) & _MASK64
    x = ((x ^ (x >> 30)) * 0xBF58476D1CE4E5B9) & _MASK64
    x = ((x ^ (x >> 27)) * 0x94D049BB133111EB) & _MASK64
    return x ^ (x >> 31)


def pause_sites(elf_path) -> frozenset:
    """Virtual addresses of the `pause` instructions in an ELF's executable
    segments (capstone, linear sweep over the image: spin-wait loops).  A
    CPU's turn ends before one while another CPU could run, which spares
    the turns a CPU would spin away waiting for another."""
    md = capstone.Cs(capstone.CS_ARCH_X86, capstone.CS_MODE_32)
    md.skipdata = True
    found = []
    with open(elf_path, "rb") as f:
        for seg in ELFFile(f).iter_segments():
            if seg["p_type"] == "PT_LOAD" and seg["p_flags"] & 1:     # PF_X
                found += [a for a, _, m, _ in md.disasm_lite(seg.data(), seg["p_vaddr"])
                          if m == "pause"]
    return frozenset(found)


class Quanta:
    def __init__(self, quantum: int = DEFAULT_QUANTUM, seed=None):
        if quantum < 1:
            raise ValueError("the quantum must be at least 1 instruction")
        self.quantum, self.seed = int(quantum), seed

    def length(self, n: int) -> int:
        if self.seed is None:
            return self.quantum
        half = max(1, self.quantum // 2)
        return half + splitmix64((self.seed & 0xFFFFFFFF) << 32 | (n & 0xFFFFFFFF)) % max(1, self.quantum)


class Cpu0Interrupts:
    """What CPU 0 takes interrupts from: its local APIC (timer, IPIs), and the
    PIC wired to it (virtual wire: the PIC goes to CPU 0 only)."""

    def __init__(self, lapic, pic):
        self.lapic, self.pic = lapic, pic

    def pending(self) -> bool:
        return self.lapic.pending() or self.pic.pending()

    def acknowledge(self) -> int:
        return self.lapic.acknowledge() if self.lapic.pending() else self.pic.acknowledge()


def route(ncpus, mode, vector, dest, shorthand, source):
    """[(cpu, mode, vector)] for an IPI: APIC id = CPU number; a destination
    with no CPU receives nothing."""
    if shorthand == L.SHORTHAND_SELF:
        targets = [source]
    elif shorthand == L.SHORTHAND_ALL:
        targets = list(range(ncpus))
    elif shorthand == L.SHORTHAND_OTHERS:
        targets = [k for k in range(ncpus) if k != source]
    else:
        targets = [dest] if dest < ncpus else []
    return [(k, mode, vector) for k in targets]
