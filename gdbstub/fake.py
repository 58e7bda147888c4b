"""A deterministic fake Target for tests and for trying gdb without a machine.

The "CPU" executes one-byte instructions: every instruction advances eip by
one.  Memory is a sparse dict over a few mapped ranges (reads elsewhere fault),
registers are a dict.  `cont` stops at the first breakpoint after the current
instruction (resuming at a breakpoint executes it first, as the machine
contract says) or when the slice of virtual time runs out.
"""

from __future__ import annotations

from typing import Dict, Iterable, List, Optional, Tuple

from machine.stop import Reason

from .rsp import regs
from .target import SIGTRAP, StopEvent, Target, TargetMemoryError, TargetRegisterError

DEFAULT_REGIONS = ((0x1000, 0x10000), (0x00100000, 0x00110000), (0xC1000000, 0xC1010000))


class FakeTarget(Target):
    """Base ops and its own monitor commands; no history, no signals."""

    MONITOR_HELP = "monitor icount        instructions executed so far\n"

    def __init__(self, regions: Iterable[Tuple[int, int]] = DEFAULT_REGIONS, entry: int = 0x00100000):
        self.regions: List[Tuple[int, int]] = list(regions)
        self.mem: Dict[int, int] = {}
        self.regs: Dict[str, int] = {r.machine_name: 0 for r in regs.REGISTERS}
        self.regs.update(eip=entry, esp=0x8000, eflags=0x2, cs=0x10, ss=0x18,
                         ds=0x18, es=0x18, fs=0x18, gs=0x18, fctrl=0x37F, ftag=0xFFFF,
                         eax=0x2BADB002, ebx=0x9500)
        self.breakpoints: set = set()
        self.icount = 0
        # A recognisable pattern in low memory: byte i of 0x1000.. is i & 0xff.
        for i in range(0x100):
            self.mem[0x1000 + i] = i & 0xFF
        # A run of zeros and of 0x90 (nop) so RLE shows up in replies.
        for i in range(64):
            self.mem[entry + i] = 0x90

    # -- registers
    def register_names(self):
        return list(self.regs)

    def read_register(self, name: str) -> int:
        try:
            return self.regs[name]
        except KeyError:
            raise TargetRegisterError(f"no register {name}") from None

    def read_registers(self, names):
        return [self.read_register(n) for n in names]

    def write_register(self, name: str, value: int) -> None:
        if name not in self.regs:
            raise TargetRegisterError(f"no register {name}")
        self.regs[name] = value

    # -- memory
    def _mapped(self, addr: int) -> bool:
        return any(lo <= addr < hi for lo, hi in self.regions)

    def read_memory(self, addr: int, size: int) -> bytes:
        out = bytearray()
        for a in range(addr, addr + size):
            if not self._mapped(a & 0xFFFFFFFF):
                if not out:
                    raise TargetMemoryError(a)
                break
            out.append(self.mem.get(a, 0))
        return bytes(out)

    def write_memory(self, addr: int, data: bytes) -> None:
        for i in range(len(data)):
            if not self._mapped(addr + i):
                raise TargetMemoryError(addr + i)
        for i, b in enumerate(data):
            self.mem[addr + i] = b

    # -- breakpoints and execution
    def add_breakpoint(self, addr: int) -> None:
        self.breakpoints.add(addr)

    def remove_breakpoint(self, addr: int) -> None:
        self.breakpoints.discard(addr)

    def step(self) -> StopEvent:
        self.regs["eip"] = (self.regs["eip"] + 1) & 0xFFFFFFFF
        self.icount += 1
        return StopEvent(Reason.STEP, self.regs["eip"], SIGTRAP)

    def cont(self, max_insns: int) -> StopEvent:
        pc = self.regs["eip"]
        hits = [b for b in self.breakpoints if pc < b <= pc + max_insns]
        if hits:
            target = min(hits)
            self.icount += target - pc
            self.regs["eip"] = target
            return StopEvent(Reason.BREAKPOINT, target, SIGTRAP)
        self.icount += max_insns
        self.regs["eip"] = (pc + max_insns) & 0xFFFFFFFF
        return StopEvent(Reason.LIMIT, self.regs["eip"], SIGTRAP)

    def support_monitor(self):
        return self

    def monitor(self, command: str) -> Optional[str]:
        if command.strip() == "icount":
            return f"icount {self.icount}\n"
        return None
