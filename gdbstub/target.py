"""The small interface the handlers program against, and its Machine adapter.

Handlers see only `Target`: registers by name, virtual memory, code
breakpoints, `step` and `cont` in slices of virtual time, and the optional
ops a target declares with its `support_*` methods.  `MachineTarget` adapts
machine.Machine (docs/ARCHITECTURE.md, "Machine API") to it; tests use
gdbstub.fake.FakeTarget.  Nothing in gdbstub imports unicorn.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Dict, Iterable, List, Optional, Protocol, Sequence, Tuple

from machine.stop import Reason, Stop  # pure: the machine package imports unicorn only for Machine

from .monitor import shown

# gdb signal numbers (include/gdb/signals.def)
SIGINT = 2
SIGILL = 4
SIGTRAP = 5
SIGFPE = 8
SIGSEGV = 11
SIGXCPU = 24  # "CPU time limit exceeded": the machine reached its deadline


class TargetError(Exception):
    """The target refused an operation (the reply is an E packet)."""


class TargetMemoryError(TargetError):
    """A virtual address could not be read or written; `addr` is the first bad byte."""

    def __init__(self, addr: int, msg: str = ""):
        super().__init__(msg or f"cannot access memory at 0x{addr:x}")
        self.addr = addr


class TargetRegisterError(TargetError):
    """The register cannot be read or written."""


class Refused(TargetError):
    """A stated limit was reached: the reply is ``E.<message>`` and the stub
    says it on stderr (gdb shows some E replies only as a generic error)."""


@dataclass
class StopEvent(Stop):
    """Why the target stopped: a machine Stop (machine/stop.py: reason, pc,
    signal, vector, detail, watch) plus the thread the reply names.

    reason is a machine.stop.Reason member (a string is refused).  The stub
    makes INTERRUPT (Ctrl-C) and DEADLINE (virtual time reached the target's
    deadline: SIGXCPU) itself.  LIMIT means the slice of virtual time ran
    out: the target is still logically running and the server resumes it
    after polling for Ctrl-C.
    """

    # The thread the stop names when it is not the one on the CPU (a step of
    # a task that left the CPU, or that gdb resumed alone while it sleeps).
    thread: Optional[int] = None

    @classmethod
    def from_stop(cls, stop: Stop) -> "StopEvent":
        # dynamic by field name: every field Stop declares, whatever it grows to
        return cls(**{f.name: getattr(stop, f.name) for f in fields(Stop)})

    @property
    def slice_expired(self) -> bool:
        return self.reason == Reason.LIMIT


class Watchpoints(Protocol):
    """Z2/Z3/Z4: kind is 'watch', 'rwatch' or 'awatch'."""

    def add_watchpoint(self, kind: str, addr: int, length: int) -> None: ...

    def remove_watchpoint(self, kind: str, addr: int, length: int) -> None: ...


class ReverseExecution(Protocol):
    """bs / bc (ReverseStep+, ReverseContinue+)."""

    def reverse_step(self) -> StopEvent: ...

    def reverse_cont(self, max_segments: Optional[int] = None) -> StopEvent:
        """A LIMIT stop: still running backwards, call again."""
        ...


class RangeStepping(Protocol):
    """vCont;r (advertised in the vCont? reply)."""

    def range_step(self, start: int, end: int) -> StopEvent: ...


class Restart(Protocol):
    """Extended remote: !, vRun and R start the program again."""

    def restart(self) -> None: ...


class SignalDelivery(Protocol):
    """C/S/vCont;C with a signal: deliver the exception the target stopped before."""

    def deliver_signal(self, signal: int, step: bool = False) -> Optional[StopEvent]: ...


class MonitorCommands(Protocol):
    """The target's own `monitor` commands; MONITOR_HELP: `monitor CMD  what` lines."""

    MONITOR_HELP: str

    def monitor(self, command: str) -> Optional[str]:
        """The output, or None if the command is not the target's."""
        ...


class SystemState(Protocol):
    """What `monitor info mem/tlb/registers` read besides registers: guest
    physical memory and the descriptor-table registers."""

    def read_physical(self, paddr: int, size: int) -> bytes: ...

    def descriptor_table(self, name: str) -> Optional[Tuple[int, int]]: ...


class Target:
    """What the handlers program against.

    Base ops every target has: registers, virtual memory, code breakpoints,
    `step` and `cont` in slices of virtual time.  Optional ops are offered
    the way the Rust `gdbstub` crate's `support_*` methods offer theirs: each
    returns the object implementing them (usually the target itself) or None,
    the default.  The stub advertises and handles only what they return
    (handlers/__init__.py derives the capabilities, hence qSupported, vCont?
    and the dispatch table; tests/test_rsp_capabilities.py)."""

    # Bumped whenever registers may have changed: handlers may cache replies
    # derived from registers (the g blob) for one generation.  None: no cache.
    generation: Optional[int] = None
    # Virtual time's rate while no gdb is attached; None: the target stays
    # where gdb left it.
    insns_per_second: Optional[int] = None
    # Virtual time: instructions run so far (plus idle time skipped).
    icount: int = 0
    # CPUs, numbered from 0; the running one is the one the base ops use.
    cpus: int = 1
    running_cpu: int = 0

    def cpu_state(self, cpu: int) -> str:
        """"running", "halted" or "wait-for-SIPI"."""
        return "running"

    def read_cpu_registers(self, cpu: int, names: Sequence[str]) -> List[int]:
        """Registers of a CPU that is not running (read_registers: the running one's)."""
        raise TargetRegisterError(f"no CPU {cpu}")

    def select_cpu(self, cpu: int) -> bool:
        """Make `cpu` the running one (gdb steps its thread); False if it
        cannot run (an AP not started yet)."""
        return cpu == self.running_cpu

    def register_names(self) -> Iterable[str]:
        raise NotImplementedError

    def read_register(self, name: str) -> int:
        raise NotImplementedError

    def read_registers(self, names: Sequence[str]) -> List[int]:
        """Several registers at once (the ``g`` packet)."""
        return [self.read_register(n) for n in names]

    def write_register(self, name: str, value: int) -> None:
        raise NotImplementedError

    def read_memory(self, addr: int, size: int) -> bytes:
        raise NotImplementedError

    def write_memory(self, addr: int, data: bytes) -> None:
        raise NotImplementedError

    def add_breakpoint(self, addr: int) -> None:
        raise NotImplementedError

    def remove_breakpoint(self, addr: int) -> None:
        raise NotImplementedError

    def step(self) -> StopEvent:
        raise NotImplementedError

    def cont(self, max_insns: int) -> StopEvent:
        raise NotImplementedError

    # -- optional ops: None unless a target offers them
    def support_watchpoints(self) -> Optional[Watchpoints]:
        return None

    def support_reverse(self) -> Optional[ReverseExecution]:
        return None

    def support_range_step(self) -> Optional[RangeStepping]:
        return None

    def support_restart(self) -> Optional[Restart]:
        return None

    def support_signals(self) -> Optional[SignalDelivery]:
        return None

    def support_monitor(self) -> Optional[MonitorCommands]:
        return None

    def support_system_state(self) -> Optional[SystemState]:
        return None


class MachineTarget(Target):
    """Adapter from machine.Machine to Target.

    history: the machine is a machine.history.TimeMachine, which adds
    watchpoints, reverse execution, range stepping and restarts."""

    def __init__(self, machine, memory_fault=None, history: bool = False):
        if memory_fault is None:
            from machine import MemoryFault as memory_fault  # the machine package, not unicorn

        self.machine = machine
        self.history = history
        self._fault = memory_fault
        self._regs: Dict[str, int] = {}
        # Virtual time (icount) at which forward execution stops for good
        # with SIGXCPU; None: no deadline.  A budget counted in instructions
        # makes a runaway session end at the same point on any host.
        self.deadline: Optional[int] = None
        self.generation = 0

    # Registers are cached while the machine is stopped: they change only when
    # it runs (step/cont), when gdb writes one, or on `monitor reset`.  gdb
    # re-reads them often (g after every stop that needs more than the
    # expedited pc/sp/fp, p for single registers), and each read through
    # the machine costs a few microseconds.
    def _invalidate(self) -> None:
        self._regs.clear()
        self.generation += 1

    def register_names(self):
        return list(self.machine.REGISTER_NAMES)

    @property
    def icount(self) -> int:
        return self.machine.icount

    @property
    def insns_per_second(self) -> int:
        """Virtual time's rate (machine/pit.py): how fast the guest runs on
        in real time while no gdb is attached."""
        from machine.pit import INSNS_PER_SECOND

        return INSNS_PER_SECOND

    @property
    def cpus(self) -> int:
        return self.machine.ncpus

    @property
    def running_cpu(self) -> int:
        return self.machine.cpu

    def cpu_state(self, cpu: int) -> str:
        return self.machine.cpu_state(cpu)

    def read_cpu_registers(self, cpu: int, names: Sequence[str]) -> List[int]:
        try:
            with self.machine.on_cpu(cpu):
                return [int(v) for v in self.machine.read_registers(names)]
        except (KeyError, ValueError) as e:
            raise TargetRegisterError(str(e)) from e

    def select_cpu(self, cpu: int) -> bool:
        if cpu == self.machine.cpu:
            return True
        self._invalidate()
        try:
            self.machine.select_cpu(cpu)
        except ValueError:
            return False
        return True

    def read_register(self, name: str) -> int:
        v = self._regs.get(name)
        if v is None:
            try:
                v = int(self.machine.read_register(name))
            except (KeyError, ValueError) as e:
                raise TargetRegisterError(str(e)) from e
            self._regs[name] = v
        return v

    def read_registers(self, names: Sequence[str]) -> List[int]:
        missing = [n for n in names if n not in self._regs]
        if missing:
            try:
                values = self.machine.read_registers(missing)
                self._regs.update(zip(missing, (int(v) for v in values)))
            except (KeyError, ValueError) as e:
                raise TargetRegisterError(str(e)) from e
        return [self._regs[n] for n in names]

    def write_register(self, name: str, value: int) -> None:
        self._invalidate()
        try:
            self.machine.write_register(name, value)
        except (KeyError, ValueError) as e:
            raise TargetRegisterError(str(e)) from e

    def read_memory(self, addr: int, size: int) -> bytes:
        try:
            return bytes(self.machine.read_memory(addr, size))
        except self._fault as e:
            bad = _fault_addr(e, addr)
            if bad > addr:
                # Return what is readable before the first bad byte.
                try:
                    return bytes(self.machine.read_memory(addr, bad - addr))
                except self._fault:
                    pass
            raise TargetMemoryError(bad) from e

    def read_physical(self, paddr: int, size: int) -> bytes:
        """Guest physical memory (the page tables, for `monitor info mem`)."""
        try:
            return bytes(self.machine.read_phys(paddr, size))
        except self._fault as e:
            raise TargetMemoryError(_fault_addr(e, paddr)) from e

    def write_memory(self, addr: int, data: bytes) -> None:
        try:
            self.machine.write_memory(addr, bytes(data))
        except self._fault as e:
            raise TargetMemoryError(_fault_addr(e, addr)) from e

    def add_breakpoint(self, addr: int) -> None:
        try:
            self.machine.add_breakpoint(addr)
        except ValueError as e:  # e.g. the machine's breakpoint table is full
            raise TargetError(str(e)) from e

    def remove_breakpoint(self, addr: int) -> None:
        self.machine.remove_breakpoint(addr)

    # -- the deadline: checked before every forward run; cont is clamped to it
    def _remaining(self) -> Optional[int]:
        return None if self.deadline is None else self.deadline - self.machine.icount

    def _deadline_stop(self) -> StopEvent:
        return StopEvent(Reason.DEADLINE, self.machine.read_register("eip"), SIGXCPU,
                         detail=f"deadline of {self.deadline} instructions reached")

    def step(self) -> StopEvent:
        left = self._remaining()
        if left is not None and left <= 0:
            return self._deadline_stop()
        self._invalidate()
        try:
            return StopEvent.from_stop(self.machine.step())
        finally:
            self._invalidate()

    def cont(self, max_insns: int) -> StopEvent:
        left = self._remaining()
        if left is not None:
            if left <= 0:
                return self._deadline_stop()
            max_insns = min(max_insns, left)
        self._invalidate()
        try:
            stop = StopEvent.from_stop(self.machine.cont(max_insns=max_insns))
        finally:
            self._invalidate()
        if stop.slice_expired and left is not None and self._remaining() <= 0:
            return self._deadline_stop()
        return stop

    def deliver_signal(self, signal: int, step: bool = False) -> Optional[StopEvent]:
        """gdb resumes with a signal: deliver the exception the machine was
        stopped before (catch_exceptions) through the guest IDT.  None: go on
        resuming; a StopEvent: delivery triple-faulted, or (step) the CPU is
        now at the handler's first instruction, which is where a step with a
        signal stops.  Nothing held back: nothing to deliver, None."""
        if not signal or self.machine.caught_exception is None:
            return None
        self._invalidate()
        stop = self.machine.deliver_caught_exception()
        if stop is not None:
            return StopEvent.from_stop(stop)
        if step:
            return StopEvent(Reason.STEP, self.machine.read_register("eip"), SIGTRAP)
        return None

    def descriptor_table(self, name: str):
        """(base, limit) of gdtr/idtr if the machine exposes them (its
        read_register(name) returning unicorn's (selector, base, limit, flags));
        None when it does not."""
        try:
            v = self.machine.read_register(name)
        except (KeyError, ValueError):
            return None
        if isinstance(v, tuple) and len(v) >= 3:
            return int(v[1]), int(v[2])
        if isinstance(v, tuple) and len(v) == 2:
            return int(v[0]), int(v[1])
        return None

    def monitor(self, command: str) -> Optional[str]:
        self._invalidate()
        m = self.machine
        words = command.split()
        if not words:
            return None
        if words[0] == "icount":
            return f"icount {m.icount}\n"
        if words[0] == "cpus":
            rows = []
            for k in range(m.ncpus):
                with m.on_cpu(k):
                    eip = m.read_register("eip")
                rows.append(f"{'*' if k == m.cpu else ' '} CPU#{k}  {m.cpu_state(k):<14} "
                            f"eip 0x{eip:08x}\n")
            return "".join(rows)
        if words[0] == "cr":
            return "".join(
                f"{r} 0x{m.read_register(r):08x}\n" for r in ("cr0", "cr2", "cr3", "cr4")
            )
        if words[0] == "console":
            out = bytes(m.console_output).decode("latin-1")
            return out or "(no console output yet)\n"
        if words[0] == "translate":
            va = parse_address(words[1]) if len(words) == 2 else None
            if va is None:
                return ("monitor translate: give one virtual address, e.g. "
                        "'monitor translate 0xc1000000' (a number, not a symbol: "
                        "'monitor translate ' followed by gdb's 'p/x &sym' value)\n")
            pa = m.translate(va)
            return f"0x{va:08x} -> " + ("unmapped\n" if pa is None else f"0x{pa:08x}\n")
        if words[0] == "deadline":
            return self._monitor_deadline(words[1:])
        if words[0] == "reset":
            m.reset()
            return "machine reset to the multiboot entry state\n"
        if words[0] == "history" and self.history:
            return m.history_info()
        return None

    def _monitor_deadline(self, args) -> str:
        if args and args[0] == "off":
            self.deadline = None
        elif args:
            try:
                self.deadline = parse_count(args[0])
            except ValueError as e:
                return f"{e}\n"
        if self.deadline is None:
            return "no deadline\n"
        return (f"deadline: icount {self.deadline} ({max(0, self._remaining())} "
                f"instructions left); then every resume stops with SIGXCPU\n")

    # -- optional ops (Target): signals, monitor commands and the system
    # state always; watchpoints, reverse execution, range stepping and
    # restarts when the machine keeps history (TimeMachine)
    def support_signals(self):
        return self

    def support_monitor(self):
        return self

    def support_system_state(self):
        return self

    def support_watchpoints(self):
        return self if self.history else None

    def support_reverse(self):
        return self if self.history else None

    def support_range_step(self):
        return self if self.history else None

    def support_restart(self):
        return self if self.history else None

    def add_watchpoint(self, kind: str, addr: int, length: int) -> None:
        self.machine.add_watchpoint(kind, addr, length)

    def remove_watchpoint(self, kind: str, addr: int, length: int) -> None:
        self.machine.remove_watchpoint(kind, addr, length)

    def _run(self, fn, *args) -> StopEvent:
        self._invalidate()
        try:
            return StopEvent.from_stop(fn(*args))
        finally:
            self._invalidate()

    def reverse_step(self) -> StopEvent:
        return self._run(self.machine.reverse_step)

    def reverse_cont(self, max_segments: Optional[int] = None) -> StopEvent:
        """A 'limit' stop (max_segments scanned, nothing found yet) means
        still running backwards: call again (the session does, between polls)."""
        return self._run(self.machine.reverse_cont, max_segments)

    def range_step(self, start: int, end: int) -> StopEvent:
        left = self._remaining()
        if left is not None and left <= 0:
            return self._deadline_stop()
        return self._run(self.machine.range_step, start, end)

    def restart(self) -> None:
        self._invalidate()
        self.machine.restart()
        self._invalidate()

    MONITOR_HELP = (
        "monitor icount        virtual time (instructions + skipped idle time)\n"
        "monitor cpus          each CPU: state and pc (* the running one, gdb's stop thread)\n"
        "monitor cr            control registers cr0 cr2 cr3 cr4\n"
        "monitor console       UART output so far\n"
        "monitor translate VA  virtual -> physical through the guest page tables\n"
        "monitor reset         back to the multiboot entry state\n"
        "monitor deadline [N|off]  stop for good (SIGXCPU) at icount N (e.g. 300M)\n"
        "monitor history       reverse-execution history: range, snapshots, memory\n"
    )


def parse_count(text: str) -> int:
    """An instruction count: 300000000, 300_000_000, 0x..., 300M, 1.5G, 20K."""
    units = {"K": 10**3, "M": 10**6, "G": 10**9}
    t = text.strip().upper()
    try:
        n = int(float(t[:-1]) * units[t[-1]]) if t and t[-1] in units else int(t, 0)
    except (ValueError, IndexError, OverflowError):   # OverflowError: inf, 1e400
        n = -1
    if not 0 < n <= MAX_COUNT:
        raise ValueError(f"bad instruction count {shown(text)}: give e.g. 300000000 or 300M "
                         f"(at most {MAX_COUNT})")
    return n


MAX_COUNT = (1 << 63) - 1   # the machine's icount is a 64-bit counter


def parse_address(text: str) -> Optional[int]:
    """A 32-bit virtual address typed by a user (hex with 0x, or decimal);
    None if it is not one."""
    try:
        n = int(text, 0)
    except ValueError:
        return None
    return n if 0 <= n <= 0xFFFFFFFF else None


def _fault_addr(exc, default: int) -> int:
    # the machine's MemoryFault carries .addr; another fault type (a test
    # stand-in's) may give the address as its first argument, or nothing
    addr = getattr(exc, "addr", None)
    if addr is None and exc.args and isinstance(exc.args[0], int):
        addr = exc.args[0]
    return default if addr is None else int(addr)
