"""The emulated PC: unicorn i386 CPU + 128 MiB RAM + PIC, PIT, UART; run loop.

This module is the CPU, its hooks and the run loop; the parts with no
unicorn in them live beside it: RAM and the page walk (memory.py, paging.py),
what a fault's instruction tells (decode.py), device state for snapshots
(devstate.py), the stop record (stop.py), IDT delivery (interrupts.py).

Public API (docs/ARCHITECTURE.md, "Machine API"):
  Machine(kernel_path, ram_mb=128, cmdline="", console=None)
  reset(), icount, cont(max_insns=None) -> Stop, step() -> Stop,
  add_breakpoint(vaddr), remove_breakpoint(vaddr),
  read_register(name), write_register(name, value), REGISTER_NAMES,
  read_memory(vaddr, size), write_memory(vaddr, data),
  read_phys(paddr, size), write_phys(paddr, data), translate(vaddr)
Extras beyond the contract: request_stop() (Ctrl-C, thread-safe),
  read_registers(names), snapshot()/restore(snap), halted, irqs_delivered,
  breakpoints, disassemble(vaddr, n), add_probe/remove_probe (observe an
  address without stopping), add_listener/remove_listener (reset, rewind).
For history.py and watch.py (docs/ARCHITECTURE.md, "Machine API"): ram,
  service(), breakpoints_off(), notify_rewind(t), stop_after_instruction(),
  cancel_stop_request(), icount_in_hook(), per_instruction_clock(on),
  flush_translations().

Virtual time.  `icount` counts instructions begun (see _clock.c: an
instruction that raises a fault is counted when it starts, and again when
it is restarted after the handler) plus idle time skipped while halted.
Every event (timer IRQ, IRQ window, breakpoint, limit) happens at an exact
icount, decided only by guest state and icount, never by the wall clock or by
how a caller slices its cont() calls: the same run twice, or cut into slices,
follows the same trajectory.

Interrupt rules:
  - the PIT raises IRQ 0 at its deadlines (pit.py: 100,001 instructions per
    tick at HZ=100).  At a deadline, if IF=1 and no IRQ window is armed, the
    IRQ is delivered at once (before the instruction at that icount);
    otherwise the IRQ window is armed: the clock hook stops one instruction
    after it first sees IF=1 (the `sti` shadow) and the IRQ is delivered then.
    A PIC write (EOI, unmask) that makes a request deliverable arms it too;
    with IF already 1 the IRQ is taken right after that OUT.
  - step() never delivers an IRQ (QEMU's default NOIRQ); time still passes,
    and the next cont() delivers what became pending first.
  - `hlt` with IF=1: time skips to the next PIT deadline (or to the caller's
    limit, staying halted) and the IRQ wakes the CPU.  `hlt` with IF=0 (or
    with no timer programmed) halts forever: cont(max_insns) returns
    Stop(LIMIT) with virtual time skipped to the limit, and cont(None)
    returns Stop(HALTED) at once, its detail saying why, so a debugger can
    always regain control.  step() on a halted CPU executes the instruction
    after the hlt.

Breakpoints live in the clock hook's table (virtual addresses; unmapped ones
are fine and fire once mapped).  A breakpoint is checked before the
instruction runs; cont() from an address that has a breakpoint executes that
instruction first.

Probes (add_probe) are guest-invisible observers in the same hook: the
callback runs when the instruction at the address begins (after it is
counted), without stopping the machine or touching guest memory.  See
add_probe for the contract.
"""
import contextlib
import itertools
import logging

from unicorn import (Uc, UcError, UC_ARCH_X86, UC_MODE_32, UC_PROT_ALL,
                     UC_HOOK_INTR, UC_HOOK_INSN, UC_HOOK_INSN_INVALID,
                     UC_HOOK_MEM_READ, UC_HOOK_MEM_WRITE)
from unicorn import x86_const as X

from . import clock as vclock
from . import decode, devstate, excstate, lapic, loader, mptable, smp
from .errors import MemoryFault
from .memory import GuestMemory
from .stop import Reason, Stop, SIGTRAP, SIGSEGV
from .interrupts import (InterruptController, FAULT_VECTORS, EFLAGS_IF,
                         vector_name)
from .pic import PICPair
from .pit import PIT8253
from .uart import UART16550

log = logging.getLogger("machine")
_code_gen = itertools.count(1)      # versions of guest memory the debugger wrote

END_ADDR = 0xFFFFFFFF
FOREVER = (1 << 63)
_CLOCK_STATE = ("icount", "irq_armed", "irq_at", "skip_pending", "skip_addr")
CHUNK = 20_000_000             # longest single emu_start, in instructions
TCG_BUFFER = 16 << 20          # bytes of host code unicorn keeps translated

_GPR = {
    "eax": X.UC_X86_REG_EAX, "ecx": X.UC_X86_REG_ECX, "edx": X.UC_X86_REG_EDX,
    "ebx": X.UC_X86_REG_EBX, "esp": X.UC_X86_REG_ESP, "ebp": X.UC_X86_REG_EBP,
    "esi": X.UC_X86_REG_ESI, "edi": X.UC_X86_REG_EDI, "eip": X.UC_X86_REG_EIP,
    "eflags": X.UC_X86_REG_EFLAGS,
    "cs": X.UC_X86_REG_CS, "ss": X.UC_X86_REG_SS, "ds": X.UC_X86_REG_DS,
    "es": X.UC_X86_REG_ES, "fs": X.UC_X86_REG_FS, "gs": X.UC_X86_REG_GS,
    "fctrl": X.UC_X86_REG_FPCW, "fstat": X.UC_X86_REG_FPSW,
    "ftag": X.UC_X86_REG_FPTAG, "fiseg": X.UC_X86_REG_FCS,
    "fioff": X.UC_X86_REG_FIP, "foseg": X.UC_X86_REG_FDS,
    "fooff": X.UC_X86_REG_FDP, "fop": X.UC_X86_REG_FOP,
    "cr0": X.UC_X86_REG_CR0, "cr2": X.UC_X86_REG_CR2,
    "cr3": X.UC_X86_REG_CR3, "cr4": X.UC_X86_REG_CR4,
}
_SEGS = ("cs", "ss", "ds", "es", "fs", "gs")
_MASK = {"fctrl": 0xFFFF, "fstat": 0xFFFF, "ftag": 0xFFFF, "fiseg": 0xFFFF,
         "foseg": 0xFFFF, "fop": 0x7FF}

REGISTER_NAMES = (
    "eax", "ecx", "edx", "ebx", "esp", "ebp", "esi", "edi", "eip", "eflags",
    "cs", "ss", "ds", "es", "fs", "gs",
    "st0", "st1", "st2", "st3", "st4", "st5", "st6", "st7",
    "fctrl", "fstat", "ftag", "fiseg", "fioff", "foseg", "fooff", "fop",
    "cr0", "cr2", "cr3", "cr4",
)


class _Run:
    """The state one cont() call carries from one turn of its loop to the next."""
    __slots__ = ("limit", "service_at_limit", "resumed_at", "idle_skips", "idle_mark")

    def __init__(self, limit, service_at_limit, resumed_at):
        self.limit = limit                  # icount to stop at, or None
        self.service_at_limit = service_at_limit
        # Unicorn re-enters a rep string insn for each iteration; a breakpoint
        # on the one we resume from must not fire again until it completes.
        self.resumed_at = resumed_at        # (eip, icount)
        self.idle_skips, self.idle_mark = 0, None

    def at_limit(self, icount):
        return self.limit is not None and icount >= self.limit


def _apic_touched(uc, access, address, size, value, user_data):
    """Present only so that unicorn keeps EIP exact in the APIC's MMIO
    callbacks (see Machine._new_cpu)."""


class _CpuFacade:
    """What interrupts.py needs from the CPU (names, not unicorn ids)."""

    def __init__(self, m):
        self.m = m

    def reg(self, name):
        if name == "idtr":
            return self.m.uc.reg_read(X.UC_X86_REG_IDTR)
        if name == "tr":
            return self.m.uc.reg_read(X.UC_X86_REG_TR)
        return self.m._regs.read(_GPR[name])

    def set_reg(self, name, value):
        self.m._regs.write(_GPR[name], value)

    def read_memory(self, vaddr, n):
        return self.m.read_memory(vaddr, n)

    def write_memory(self, vaddr, data):
        self.m._write_virt(vaddr, data, flush=False)


class Machine:
    REGISTER_NAMES = REGISTER_NAMES

    def __init__(self, kernel_path, ram_mb=128, cmdline="", console=None, cpus=1,
                 quantum=smp.DEFAULT_QUANTUM, sched_seed=None):
        self.kernel_path = kernel_path
        if not 1 <= int(cpus) <= smp.MAX_CPUS:
            raise ValueError("cpus must be between 1 and %d" % smp.MAX_CPUS)
        self.ncpus = int(cpus)
        self._quanta = smp.Quanta(quantum, sched_seed)
        self.ram_size = int(ram_mb) << 20
        if self.ram_size < (4 << 20) or self.ram_size > (3 << 30):
            raise ValueError("ram_mb must be between 4 and 3072")
        self.cmdline = cmdline
        self._console_cb = console
        self.console_output = bytearray()
        # Host-owned RAM (memory.py), handed to unicorn by pointer.
        self._mem = GuestMemory(self.ram_size)
        self._ram = self._mem.ram
        self._clock0 = vclock.new_clock()   # CPU 0's, kept across resets
        self._code = 0              # _code_gen value of the memory blocks were decoded from
        self._bps = set()
        self._bp_table = frozenset()    # what the clocks stop at (breakpoints_off: none)
        self._probes = {}           # vaddr -> [callback(vaddr, icount)]
        self._probe_thunk = vclock.PROBE_FN(self._on_probe)   # kept alive here
        self._ctl_cache = None      # (cr0, cr3, cr4) while probe callbacks run
        self.probe_errors = []      # "vaddr: exception" of failed callbacks (last 20)
        self._listeners = []
        self._unknown_ports = set()
        self.uc = None
        self._mem_hooks = ((), None)    # set_memory_hooks(ranges, on_access)
        self._cpus = []
        self._per_insn = False      # per_instruction_clock() asked for
        self._fresh = True
        self.reset()

    # ------------------------------------------------------------------ setup
    def reset(self):
        """Back to the multiboot entry state with icount == 0.  Breakpoints
        are kept; console_output is cleared."""
        if not self._fresh:
            self._mem.zero()
        self._fresh = False
        boot = loader.load(self.kernel_path, self._ram, self.cmdline)
        self.boot = boot
        self.console_output = bytearray()
        self._console_passed = bytearray()  # what console() has been given

        self.uc = None              # drops hooks and TBs with the old engines
        self.pic = PICPair()
        self.pit = PIT8253(now=lambda: self._clock.icount,
                           irq=lambda: self.pic.raise_irq(0))
        self.uart = UART16550(self._console)
        self._ports = {}
        for dev in (self.pic, self.pit, self.uart):
            for p in dev.PORTS:
                self._ports[p] = dev
        self._cpu = _CpuFacade(self)
        # `pause` in the kernel's code (spin-wait loops) ends a CPU's turn
        # when another CPU could use it (see _schedule)
        self._pauses = smp.pause_sites(self.kernel_path) if self.ncpus > 1 else frozenset()
        self._cpus = [self._new_cpu(k) for k in range(self.ncpus)]
        self._cur = 0
        self._load_cpu(0)
        self._quantum_no = 0
        self._quantum_end = self._quanta.length(0)
        if self.ncpus > 1:
            at, blob = mptable.build(self.ncpus)
            self._ram[at:at + len(blob)] = blob

        uc = self.uc
        uc.reg_write(X.UC_X86_REG_GDTR, (0, boot.gdt_base, boot.gdt_limit, 0))
        uc.reg_write(X.UC_X86_REG_CS, boot.cs)
        for seg in (X.UC_X86_REG_DS, X.UC_X86_REG_ES, X.UC_X86_REG_FS,
                    X.UC_X86_REG_GS, X.UC_X86_REG_SS):
            uc.reg_write(seg, boot.ds)
        uc.reg_write(X.UC_X86_REG_EFLAGS, 0x2)
        # CR4 as after a real reset (and under QEMU): unicorn starts with
        # OSFXSR, FSGSBASE and OSXSAVE set.
        uc.reg_write(X.UC_X86_REG_CR4, 0)
        uc.reg_write(X.UC_X86_REG_EAX, boot.eax)
        uc.reg_write(X.UC_X86_REG_EBX, boot.ebx)
        uc.reg_write(X.UC_X86_REG_EIP, boot.entry)
        self._halted = False
        self._pending_stop = None
        self._stop_requested = False
        self._exc_fixup = False     # excstate: clear unicorn's old_exception
        self.irqs_delivered = 0
        self._notify("reset", 0)

    def _new_cpu(self, k):
        """CPU k's engine over the one RAM, its clock, hooks and interrupt
        inputs (with more than one CPU, a local APIC mapped in its engine)."""
        uc = Uc(UC_ARCH_X86, UC_MODE_32)
        # Translation cache: unicorn's default is 1 GiB, and retranslating
        # for block-clock stops (machine/clock.py) would fill it up in RSS
        # before its first flush; the kernel's code needs well under 1 MiB.
        uc.ctl_set_tcg_buffer_size(TCG_BUFFER)
        uc.mem_map_ptr(0, self.ram_size, UC_PROT_ALL, self._mem.address)
        # emu_start(until=...) makes unicorn translate `until` through the
        # guest page tables on every start, which clobbers the guest's CR2
        # when that address is unmapped.  With "exits" enabled and no exit
        # address, `until` is ignored and nothing is probed.
        uc.ctl_exits_enabled(True)
        uc.ctl_set_exits([])
        c = self._clock0 if k == 0 else vclock.new_clock()
        c.icount = 0
        c.deadline = 0
        c.irq_armed = 0
        c.irq_at = 0
        c.skip_pending = 0
        self._clear_run_state(c)
        def mapped(vaddr):                  # through this CPU's page tables
            ctl = tuple(uc.reg_read(r) for r in (X.UC_X86_REG_CR0, X.UC_X86_REG_CR3,
                                                 X.UC_X86_REG_CR4))
            return self._mem.translate(vaddr, ctl) is not None
        blk = vclock.BlockClock(uc, c, self.read_memory, mapped)
        vclock.set_breakpoints(c, self._bps)
        vclock.set_probes(c, self._probes, self._probe_thunk)
        for a in self._bps:
            blk.add_role(a, "bp")
        for a in self._pauses:
            blk.add_role(a, "pause")
        for a in self._probes:
            blk.add_role(a, "probe")
        uc.hook_add(UC_HOOK_INTR, self._on_intr)
        uc.hook_add(UC_HOOK_INSN_INVALID, self._on_invalid)
        uc.hook_add(UC_HOOK_INSN, self._on_in, None, 1, 0, X.UC_X86_INS_IN)
        uc.hook_add(UC_HOOK_INSN, self._on_out, None, 1, 0, X.UC_X86_INS_OUT)
        intc = InterruptController(self._cpu)
        intc.catch = getattr(self, "_catch_exceptions", False)
        mem_hooks = self._add_memory_hooks(uc)      # the new engine has none
        if self.ncpus == 1:
            return smp.Cpu(k, uc, vclock.Regs(uc), c, blk, intc, None, self.pic, mem_hooks)
        apic = lapic.LocalAPIC(k, lambda: self._clock.icount, self._send_ipi)
        uc.mmio_map(lapic.BASE, lapic.SIZE, self._apic_read, apic, self._apic_write, apic)
        # A memory hook on the page makes unicorn keep EIP exact in the MMIO
        # callbacks (else EIP is the block's start): the timer's start and
        # count are read at the exact icount.  It costs every memory access
        # the slow path (bench/results/smp_feasibility.txt).
        uc.hook_add(UC_HOOK_MEM_READ | UC_HOOK_MEM_WRITE, _apic_touched, None,
                    lapic.BASE, lapic.BASE + lapic.SIZE - 1)
        irq_in = smp.Cpu0Interrupts(apic, self.pic) if k == 0 else apic
        return smp.Cpu(k, uc, vclock.Regs(uc), c, blk, intc, apic, irq_in, mem_hooks)

    # ------------------------------------------------------------ the CPUs
    # The running CPU's parts live in the machine's own attributes (uc,
    # _clock, _blk, intc, _irq_in, _halted, halted_at), so the one-CPU code
    # paths are the machine's code paths; _select(k) switches them.
    def _load_cpu(self, k):
        cpu = self._cpus[k]
        self._cur = k
        self.uc, self._regs, self._clock, self._blk = cpu.uc, cpu.regs, cpu.clock, cpu.blk
        self.intc, self._irq_in = cpu.intc, cpu.irq_in
        self._halted, self.halted_at = cpu.halted, cpu.halted_at

    def _save_cpu(self):
        cpu = self._cpus[self._cur]
        cpu.halted, cpu.halted_at = self._halted, getattr(self, "halted_at", None)

    def _select(self, k):
        """Make CPU k the running one; it goes on from the machine's time."""
        if k == self._cur:
            return
        now = self._clock.icount
        self._save_cpu()
        self._load_cpu(k)
        self._clock.icount = now
        self._fit_clock_mode()

    @property
    def cpu(self) -> int:
        """The CPU that runs, steps, and whose registers are read and written."""
        return self._cur

    def cpu_state(self, k) -> str:
        """"running", "halted" or "wait-for-SIPI" (an AP not started yet)."""
        cpu = self._cpus[k]
        if cpu.state != smp.RUNNING:
            return cpu.state
        halted = self._halted if k == self._cur else cpu.halted
        return "halted" if halted else smp.RUNNING

    def select_cpu(self, k):
        """The debugger makes CPU k the running one (gdb steps or resumes a
        CPU's thread): it starts a turn from here.  An AP waiting for
        STARTUP cannot run (ValueError)."""
        if not 0 <= k < self.ncpus:
            raise ValueError("no CPU %d (CPUs 0 to %d)" % (k, self.ncpus - 1))
        if self._cpus[k].state != smp.RUNNING:
            raise ValueError("CPU %d waits for a STARTUP IPI: it cannot run yet" % k)
        if k == self._cur:
            return
        self._select(k)
        self._quantum_no += 1
        self._quantum_end = self._clock.icount + self._quanta.length(self._quantum_no)
        self._start_turn()

    @contextlib.contextmanager
    def on_cpu(self, k):
        """Inside: registers and memory are CPU k's (a debugger looks at a
        CPU that is not running); virtual time and the run are unchanged."""
        if not 0 <= k < self.ncpus:
            raise ValueError("no CPU %d (CPUs 0 to %d)" % (k, self.ncpus - 1))
        cur, now = self._cur, self._clock.icount
        if k == cur:
            yield
            return
        self._save_cpu()
        self._load_cpu(k)
        self._clock.icount = now
        try:
            yield
        finally:
            self._save_cpu()
            self._load_cpu(cur)

    def _fit_clock_mode(self):
        """Block mode decodes 32-bit code: a CPU running 16-bit code (an AP in
        its real-mode trampoline) counts per instruction until it leaves it."""
        self._blk.set_per_insn(self._per_insn or self._code16())

    def _code16(self):
        uc = self.uc
        if not uc.reg_read(X.UC_X86_REG_CR0) & 1:
            return True
        sel = uc.reg_read(X.UC_X86_REG_CS)
        _, base, limit, _ = uc.reg_read(X.UC_X86_REG_GDTR)
        if sel & 4 or (sel & 0xFFF8) + 7 > limit:
            return False
        try:
            desc = int.from_bytes(self.read_memory(base + (sel & 0xFFF8), 8), "little")
        except MemoryFault:
            return False
        return not desc & (1 << 54)         # D bit clear: 16-bit code

    def _runnable(self):
        return not self._halted and self._cpus[self._cur].state == smp.RUNNING

    # ------------------------------------------------- local APIC and IPIs
    def _apic_read(self, uc, offset, size, apic):
        self._blk.sync()                    # the timer reads icount
        return apic.read(offset)

    def _apic_write(self, uc, offset, size, value, apic):
        self._blk.sync()
        apic.write(offset, value)
        nxt = apic.next_deadline()
        c = self._clock
        if nxt is not None and nxt < c.deadline:
            # a newly started timer may fire before the slice's deadline
            c.deadline = max(nxt, c.icount)

    def _send_ipi(self, mode, vector, dest, shorthand, source):
        """An IPI from a local APIC: a fixed one is latched in the target's
        APIC (taken at its next instruction boundary the machine services);
        INIT puts an AP back to waiting; STARTUP starts a waiting one in
        real mode at vector << 12."""
        for k, mode, vector in smp.route(self.ncpus, mode, vector, dest, shorthand, source):
            cpu = self._cpus[k]
            if mode == lapic.MODE_FIXED:
                cpu.lapic.accept(vector)
            elif k == self._cur or k == 0:
                log.info("CPU %d: INIT/STARTUP to CPU %d ignored (not an idle AP)", source, k)
            elif mode == lapic.MODE_INIT:
                cpu.state = smp.WAIT_SIPI
                cpu.lapic.reset()
                cpu.halted = False
            elif cpu.state == smp.WAIT_SIPI:
                self._start_ap(cpu, vector)

    def _start_ap(self, cpu, vector):
        """The AP's state after INIT + STARTUP: 16-bit real mode at
        CS:IP = (vector << 8):0, paging off, interrupts off."""
        uc = cpu.uc
        uc.reg_write(X.UC_X86_REG_CR0, 0x10)
        uc.reg_write(X.UC_X86_REG_CR3, 0)
        uc.reg_write(X.UC_X86_REG_CR4, 0)
        uc.reg_write(X.UC_X86_REG_EFLAGS, 0x2)
        for seg in (X.UC_X86_REG_DS, X.UC_X86_REG_ES, X.UC_X86_REG_FS,
                    X.UC_X86_REG_GS, X.UC_X86_REG_SS):
            uc.reg_write(seg, 0)
        uc.reg_write(X.UC_X86_REG_CS, (vector & 0xFF) << 8)
        uc.reg_write(X.UC_X86_REG_EIP, 0)
        uc.reg_write(X.UC_X86_REG_ESP, 0)
        # another CPU wrote the trampoline: drop what this engine translated
        uc.ctl_flush_tb()
        cpu.blk.clear_blocks()
        cpu.state = smp.RUNNING
        cpu.halted = False

    def _console(self, data: bytes):
        at = len(self.console_output)
        self.console_output += data
        if self._console_cb is None:
            return
        # restore() truncates console_output and the replay that follows
        # (reverse execution) prints the same bytes again: the user has seen
        # them.  Pass on only what differs from what was passed on at that
        # position of the stream (a past changed by the debugger prints anew).
        passed = self._console_passed
        seen = passed[at:at + len(data)]
        same = 0
        while same < len(seen) and seen[same] == data[same]:
            same += 1
        if same == len(data):
            return
        del passed[at + same:]
        passed += data[same:]
        self._console_cb(bytes(data[same:]))

    @property
    def icount(self) -> int:
        return self._clock.icount

    @property
    def halted(self) -> bool:
        return self._halted

    # ------------------------------------------------------------- port I/O
    def _on_in(self, uc, port, size, _ud):
        self._blk.sync()                # devices read icount
        dev = self._ports.get(port)
        if dev is None:
            self._log_unknown_port("read", port)
            return (1 << (8 * size)) - 1
        return dev.io_read(port, size) & ((1 << (8 * size)) - 1)

    def _on_out(self, uc, port, size, value, _ud):
        self._blk.sync()                # devices read icount
        dev = self._ports.get(port)
        if dev is None:
            if port != 0x80:               # the classic I/O delay port
                self._log_unknown_port("write", port)
            return
        c = self._clock
        before = (c.deadline, c.irq_armed, c.irq_at)
        dev.io_write(port, size, value)
        if dev is self.pic and self._irq_in.pending():
            if not c.irq_armed:
                self._arm_irq_window()
                # IF already set (no sti shadow): taken right after this OUT
                if self._eflags_if():
                    c.irq_at = c.icount
        elif dev is self.pit:
            # A newly programmed timer may fire before the current deadline.
            nxt = self.pit.next_deadline()
            if nxt is not None and nxt < c.deadline:
                c.deadline = max(nxt, c.icount)
        if c.stop_req or before != (c.deadline, c.irq_armed, c.irq_at):
            # the block hook decided this block's stops before: look again
            # before the next instruction (a no-op stop if none is due)
            self._blk.arm_next()

    def _log_unknown_port(self, what, port):
        if port not in self._unknown_ports:
            self._unknown_ports.add(port)
            log.info("guest %s of unknown I/O port 0x%x (reads return all ones)",
                     what, port)

    # ----------------------------------------------------------- interrupts
    def _arm_irq_window(self):
        c = self._clock
        if not c.irq_armed:
            c.irq_armed = 1
            c.irq_at = 0
            c.if_maybe = 1

    def _after_delivery(self):
        c = self._clock
        c.skip_pending = 0
        self._halted = False

    def _check_irq(self):
        """At a service point: deliver a deliverable IRQ or arm the window.
        Returns a Stop if delivery triple-faulted."""
        c = self._clock
        if not self._irq_in.pending():
            c.irq_armed = 0
            c.irq_at = 0
            return None
        if c.irq_armed:
            return None                     # the clock hook decides when
        if self._regs.read(X.UC_X86_REG_EFLAGS) & EFLAGS_IF:
            return self._deliver_irq()
        self._arm_irq_window()
        return None

    def _deliver_irq(self):
        c = self._clock
        c.irq_armed = 0
        c.irq_at = 0
        vector = self._irq_in.acknowledge()
        stop = self.intc.deliver(vector, "external")
        self.irqs_delivered += 1
        self._after_delivery()
        if stop is None and self._irq_in.pending():
            self._arm_irq_window()
        return stop

    def service(self):
        """The timer/IRQ service point of the current icount (PIT advance,
        IRQ delivery or arming the IRQ window): what cont() does before its
        first instruction, and what cont(service_at_limit=False) left for
        the next one.  Returns a Stop if delivery triple-faulted, else None."""
        now = self._clock.icount
        self.pit.advance(now)
        if self.ncpus > 1:
            for cpu in self._cpus:
                cpu.lapic.advance(now)
        return self._check_irq()

    def _on_intr(self, uc, intno, _ud):
        eip = uc.reg_read(X.UC_X86_REG_EIP)
        # a fault counts its instruction, a trap ended its block, a fetch
        # fault's block never began: the rest of the running block never runs
        self._blk.sync(eip, whole=intno == 14 and self.translate(eip) is None, last=True)
        kind = "exception"
        error_code = None
        if intno == 3 and self._byte_at(eip - 1) == 0xCC:
            kind = "software"
        elif intno not in FAULT_VECTORS and intno != 1:
            kind = "software"
        elif self._byte_at(eip - 2) == 0xCD and self._byte_at(eip - 1) == intno:
            kind = "software"               # an explicit `int n` of a fault vector
        if kind == "exception" and intno == 14:
            error_code = self._pf_error_code(eip)
        elif kind == "exception" and intno in (10, 11, 12, 13):
            error_code = self._selector_error_code(eip)
        stop = self.intc.raise_event(intno, kind, error_code)
        self._after_delivery()
        if kind == "exception" and intno in excstate.TRACKED_VECTORS:
            # unicorn #1883: _emu clears old_exception before the handler runs
            self._exc_fixup = True
            uc.emu_stop()
        if stop is not None:
            self._pending_stop = stop
            uc.emu_stop()

    def _on_invalid(self, uc, _ud):
        self._blk.sync(last=True)
        stop = self.intc.raise_event(6, "exception")
        self._after_delivery()
        if stop is not None:
            self._pending_stop = stop
            uc.emu_stop()
        return True

    def _byte_at(self, vaddr):
        try:
            return self.read_memory(vaddr & 0xFFFFFFFF, 1)[0]
        except MemoryFault:
            return None

    def _code_at(self, eip, size=16):
        """The bytes of the instruction at eip (b"": not mapped)."""
        try:
            return self.read_memory(eip, size)
        except MemoryFault:
            return b""

    def _selector_error_code(self, eip):
        """Unicorn does not expose the error code of #TS/#NP/#SS/#GP either:
        for a segment register load it is the selector (decode.py), else 0."""
        return decode.selector_error_code(self._code_at(eip), eip,
                                          self.read_register, self.read_memory)

    def _pf_error_code(self, eip):
        """Unicorn does not expose the #PF error code: rebuild it from the
        page tables (P bit), CPL (U bit) and the faulting instruction (W bit,
        decode.py; no code: an instruction fetch, a read)."""
        uc = self.uc
        cr2 = uc.reg_read(X.UC_X86_REG_CR2)
        user = (uc.reg_read(X.UC_X86_REG_CS) & 3) == 3
        write = decode.pf_is_write(self._code_at(eip), eip, cr2, self.read_register)
        return self._mem.pf_error_code(self._paging_regs(), cr2, write, user)

    # --------------------------------------------------------------- running
    def _emu(self, deadline):
        c = self._clock
        c.deadline = deadline
        c.stop_reason = 0
        self._pending_stop = None
        while True:
            eip = self._regs.read(X.UC_X86_REG_EIP)
            c.if_maybe = 1          # the host may have set IF (_clock.c)
            try:
                self.uc.emu_start(eip, END_ADDR)
            except UcError as e:
                self._blk.settle()
                pc = self._regs.read(X.UC_X86_REG_EIP)
                return Stop(Reason.FAULT, pc, SIGSEGV, None,
                            "unicorn stopped at eip 0x%08x: %s" % (pc, e))
            reason = c.stop_reason
            if reason == vclock.STOP_DECODE:
                if not self._blk.decode(c.stop_addr, c.blk_size):
                    log.info("cannot decode the block at 0x%08x: counting each "
                             "instruction from now on", c.stop_addr)
                    self._blk.set_per_insn(True)
                c.stop_reason = 0
                continue
            if reason == vclock.STOP_ARM:
                self._blk.arm(c.stop_addr, c.need_k)
                c.stop_reason = 0
                continue
            self._blk.settle(c.stop_addr if reason else None)
            if not self._exc_fixup:
                return self._pending_stop
            # An exception was delivered (or caught) in a hook, which stopped
            # the engine: mark it delivered (excstate), then go on from the
            # handler, invisibly to the caller.
            self._exc_fixup = False
            excstate.clear(self.uc)
            if (self._pending_stop is not None or c.stop_reason != vclock.STOP_NONE
                    or self._stop_requested):
                return self._pending_stop

    def _eflags_if(self):
        return bool(self._regs.read(X.UC_X86_REG_EFLAGS) & EFLAGS_IF)

    def cont(self, max_insns=None, service_at_limit=True) -> Stop:
        """Run until a breakpoint, an undeliverable fault, or max_insns more
        instructions of virtual time (Stop.reason == Reason.LIMIT).
        service_at_limit=False returns at the limit before the timer/IRQ
        service point of that instruction count (the next cont() does it):
        the stop state then depends only on the count, which is what exact
        replay (machine/history.py) needs.

        Each turn of the loop: the checks at the boundary (_at_boundary),
        then either idle time while halted (_idle) or one slice of the CPU
        (_run_slice); each returns a Stop, or None to go on."""
        c = self._clock
        self.intc.caught = None             # not delivered: the insn runs again
        limit = None if max_insns is None else c.icount + max(0, int(max_insns))
        eip = self._regs.read(X.UC_X86_REG_EIP)
        if not self._ends_turn(eip):        # a pause ends its turn first
            self._resume_over_breakpoint(eip)
        run = _Run(limit, service_at_limit, (eip, c.icount))
        while True:
            stop = self._at_boundary(run)
            if stop is None and self.ncpus > 1:
                stop = self._schedule()
            if stop is None:
                stop = self._idle(run) if self._halted else self._run_slice(run)
            if stop is not None:
                return stop

    def _resume_over_breakpoint(self, eip):
        """Resuming at a breakpoint (or a `pause` that ends turns) runs its
        instruction first (no re-hit)."""
        if eip in self._bps or self._ends_turn(eip):
            c = self._clock
            c.skip_pending = 1
            c.skip_addr = eip

    def _at_boundary(self, run):
        """At the instruction boundary the loop is at: a stop request, the
        limit (before or after the timer/IRQ service point), the service."""
        c = self._clock
        if self._stop_requested:
            return self._requested_stop()
        if not run.service_at_limit and run.at_limit(c.icount):
            return self._stop(Reason.LIMIT)
        stop = self.service()
        if stop is not None:
            return stop
        if run.at_limit(c.icount):
            return self._stop(Reason.LIMIT)
        return None

    def _requested_stop(self):
        self._stop_requested = False
        self._clock.stop_req = 0
        return self._stop(Reason.STOP_REQUESTED)

    def _idle(self, run):
        """Halted by `hlt`: take an IRQ that is waiting, else skip virtual
        time to the next timer deadline (or the limit)."""
        c = self._clock
        if c.irq_armed and self._irq_in.pending() and self._eflags_if():
            return self._deliver_irq()      # `sti; hlt` with an IRQ waiting
        if self.ncpus == 1:
            nxt = self.pit.next_deadline() if self._eflags_if() else None
        else:
            nxt = self._next_wakeup()       # every CPU is halted
        if nxt is None:
            return self._halted_for_good(run)
        if run.limit is None and self._never_woken(run):
            return self._stop(Reason.HALTED, "halted and no interrupt can wake the CPU "
                              "(IRQ 0 masked or not acknowledged)")
        target = nxt if run.limit is None else min(nxt, run.limit)
        if target > c.icount:
            c.icount = target
        return None

    def _next_deadline(self):
        """Where the running CPU's slice ends at the latest: the next event
        of its timers (the PIT's only for CPU 0) and, with more than one
        CPU, the end of its quantum."""
        pit = self.pit.next_deadline() if self._cur == 0 else None
        if self.ncpus == 1:
            return FOREVER if pit is None else pit
        apic = self._cpus[self._cur].lapic.next_deadline()
        return min(d for d in (pit, apic, self._quantum_end) if d is not None)

    def _schedule(self):
        """More than one CPU, at a boundary: the running CPU goes on until
        its quantum is over or it cannot run (halted, waiting for STARTUP);
        then the next CPU in order that can run gets a quantum (an interrupt
        it has waiting is taken first, and wakes it when halted).  When none
        can, the machine is idle: _idle skips time to the next wake-up."""
        if self._runnable() and self._clock.icount < self._quantum_end:
            return None
        cur = self._cur
        for i in range(1, self.ncpus + 1):
            k = (cur + i) % self.ncpus
            if self._cpus[k].state != smp.RUNNING:
                continue
            self._select(k)
            stop = self._check_irq()
            if stop is not None:
                return stop
            if self._runnable():
                self._quantum_no += 1
                self._quantum_end = self._clock.icount + self._quanta.length(self._quantum_no)
                self._start_turn()
                return None
        return None

    def _start_turn(self):
        """A `pause` ends this turn if another CPU can run (with none, ending
        it would only cost turns); at a pause the new turn runs it first."""
        cpu = self._cpus[self._cur]
        yields = any(o.state == smp.RUNNING and not o.halted
                     for o in self._cpus if o is not cpu)
        if yields != cpu.yields:
            cpu.yields = yields
            self._load_bp_table(cpu)
        eip = self.uc.reg_read(X.UC_X86_REG_EIP)
        if yields and eip in self._pauses:
            self._resume_over_breakpoint(eip)

    def _next_wakeup(self):
        """Every CPU halted: the first timer event that can wake one (a CPU
        with interrupts disabled never wakes), or None."""
        now = self._clock.icount
        events = []
        for cpu in self._cpus:
            if cpu.state != smp.RUNNING:
                continue
            if not cpu.uc.reg_read(X.UC_X86_REG_EFLAGS) & EFLAGS_IF:
                continue
            events.append(cpu.lapic.next_deadline())
            if cpu.index == 0:
                events.append(self.pit.next_deadline())
        events = [max(e, now) for e in events if e is not None]
        return min(events) if events else None

    def _halted_for_good(self, run):
        """`cli; hlt`, or no timer: only the caller's limit ends the sleep."""
        if run.limit is None:
            return self._stop(Reason.HALTED, "halted with interrupts disabled (cli; hlt) "
                              "or no timer: the CPU will never wake up")
        self._clock.icount = run.limit
        return None

    def _never_woken(self, run):
        """Halted through several ticks without an IRQ getting in (IRQ 0
        masked, or never acknowledged): it never wakes."""
        run.idle_skips = run.idle_skips + 1 if self.irqs_delivered == run.idle_mark else 0
        run.idle_mark = self.irqs_delivered
        return run.idle_skips > 3

    def _run_slice(self, run):
        """Run the CPU up to the next deadline, then act on why it stopped."""
        c = self._clock
        deadline = self._next_deadline()
        if run.limit is not None:
            deadline = min(deadline, run.limit)
        # Bounded chunks (invisible to the guest: a deadline stop is
        # transparent) so a request_stop() that races with emu_start is
        # seen within CHUNK instructions even with no timer running.
        stop = self._emu(min(deadline, c.icount + CHUNK))
        if stop is not None:
            return stop
        reason = c.stop_reason
        if reason == vclock.STOP_REQUESTED:
            return self._requested_stop()
        if reason == vclock.STOP_BREAKPOINT:
            return self._at_breakpoint(run)
        if reason == vclock.STOP_IRQ_WINDOW:
            return self._at_irq_window()
        if reason == vclock.STOP_DEADLINE:
            return None
        return self._engine_returned()

    def _at_breakpoint(self, run):
        c = self._clock
        pc = self._regs.read(X.UC_X86_REG_EIP)
        if self._ends_turn(pc) and (pc not in self._bp_table or (pc, c.icount) == run.resumed_at):
            # before a `pause` (a breakpoint there was reported first): the
            # turn ends; the CPU runs the pause first in its next one
            self._quantum_end = c.icount
            return None
        if (pc, c.icount - 1) == run.resumed_at and self._rep_string_at(pc):
            c.skip_pending = 1              # the next iteration of that rep
            c.skip_addr = pc
            run.resumed_at = (pc, c.icount)
            return None
        return self._stop(Reason.BREAKPOINT)

    def _at_irq_window(self):
        """The clock hook saw IF=1 after the window was armed: deliver the
        IRQ, or arm the window again if IF went back to 0."""
        c = self._clock
        c.irq_armed = 0
        c.irq_at = 0
        if not self._irq_in.pending():
            return None
        if self._eflags_if():
            return self._deliver_irq()
        self._arm_irq_window()
        return None

    def _engine_returned(self):
        """emu_start returned with no clock stop: a stop request, or the
        guest executed hlt."""
        if self._stop_requested:
            return self._requested_stop()
        if not self._just_halted():
            pc = self._regs.read(X.UC_X86_REG_EIP)
            return Stop(Reason.FAULT, pc, SIGSEGV, None,
                        "emulation stopped unexpectedly at 0x%08x" % pc)
        self._halted = True
        self.halted_at = self._clock.icount
        return None

    def stop_after_instruction(self):
        """From a memory hook: let the instruction that is running complete
        and stop before the next (emu_stop() would leave it half done); cont()
        returns Stop(STOP_REQUESTED) there."""
        self._clock.deadline = self._clock.icount
        self._stop_requested = True

    def cancel_stop_request(self):
        """Forget a stop_after_instruction() no cont() has acted on (a hit
        under step(), which does not look at it)."""
        self._stop_requested = False

    def per_instruction_clock(self, on):
        """Count before every instruction (on) instead of per translation
        block: a memory hook's stop then needs no replay (history.py, while
        watchpoint hits come in bursts).  A TB flush when it changes."""
        self._per_insn = bool(on)
        if self.ncpus == 1:
            self._blk.set_per_insn(on)
        else:
            for cpu in self._cpus:
                cpu.blk.set_per_insn(on)
            self._fit_clock_mode()

    def icount_in_hook(self):
        """icount from inside a memory hook: the block clock charges a block
        as it starts, so first count the running one up to the instruction
        at EIP (begun)."""
        self._blk.sync()
        return self._clock.icount

    def request_stop(self):
        """Make the running (or next) cont() return Stop(STOP_REQUESTED) at
        the next instruction boundary.  Safe to call
        from a device callback (e.g. the console) or from another thread
        (a debugger's Ctrl-C).  Runs that use it are deterministic only if
        the caller's decision is (e.g. made from console output)."""
        self._stop_requested = True
        self._clock.stop_req = 1    # the clock hooks stop at the next boundary

    # A debugger's view of CPU exceptions (interrupts.py, "Catching exceptions").
    @property
    def catch_exceptions(self) -> bool:
        """True: an exception stops the machine (Stop FAULT, signal for its
        vector, pc of the faulting instruction) before it is delivered
        through the IDT; deliver_caught_exception() then delivers it."""
        return getattr(self, "_catch_exceptions", False)

    @catch_exceptions.setter
    def catch_exceptions(self, on: bool):
        self._catch_exceptions = bool(on)
        for cpu in self._cpus:
            cpu.intc.catch = bool(on)

    @property
    def caught_exception(self):
        """(vector, error_code) of the exception held back, or None."""
        c = self.intc.caught
        return None if c is None else (c[0], c[2])

    def deliver_caught_exception(self):
        """Deliver the exception the last stop was caught before (the
        CPU is then at its handler's first instruction).  Returns None, or
        a Stop if delivery triple-faulted.  No-op when none is held back."""
        if self.intc.caught is None:
            return None
        stop = self.intc.deliver_caught()
        self._after_delivery()
        return stop

    def _just_halted(self):
        eip = self._regs.read(X.UC_X86_REG_EIP)
        return self._byte_at(eip - 1) == 0xF4

    def _rep_in_progress(self, eip):
        """Still at the rep-prefixed string insn at `eip` after a step?"""
        return self._regs.read(X.UC_X86_REG_EIP) == eip and self._rep_string_at(eip)

    def _rep_string_at(self, eip):
        return decode.is_rep_string(self._code_at(eip, 15), eip)

    def step(self) -> Stop:
        """Execute exactly one instruction; never delivers an IRQ."""
        c = self._clock
        self.intc.caught = None             # not delivered: the insn runs again
        self._halted = False
        saved = c.irq_armed
        c.irq_armed = 0
        eip = self._regs.read(X.UC_X86_REG_EIP)
        self._resume_over_breakpoint(eip)
        start = c.icount
        try:
            stop = self._emu(c.icount + 1)
            if stop is None and self._rep_in_progress(eip):
                # Single-stepped, unicorn runs a rep string insn one iteration
                # per step and re-enters it once more at ECX=0 before leaving.
                # The CPU completes the insn on its last iteration: take that
                # no-op pass inside this step, so `stepi` stops where hardware
                # (and QEMU 7) does.  Each pass counts as an instruction, as
                # under cont(), so stepping and running agree on virtual time.
                if self._regs.read(X.UC_X86_REG_ECX) == 0:
                    self._resume_over_breakpoint(eip)
                    start = c.icount
                    stop = self._emu(c.icount + 1)
        finally:
            if not c.irq_armed:
                c.irq_armed = saved
        if stop is not None:
            return stop
        if c.stop_reason == vclock.STOP_NONE and c.icount == start + 1 and self._just_halted():
            self._halted = True
            self.halted_at = c.icount
        return self._stop(Reason.STEP)

    def _stop(self, reason, detail=""):
        pc = self._regs.read(X.UC_X86_REG_EIP)
        return Stop(reason, pc, SIGTRAP, None, detail)

    # ------------------------------------------------------------ breakpoints
    def add_breakpoint(self, vaddr):
        vaddr &= 0xFFFFFFFF
        if vaddr in self._bps:
            return
        self._bps.add(vaddr)
        try:
            self._set_breakpoints(self._bps)
        except ValueError:
            self._bps.discard(vaddr)
            self._set_breakpoints(self._bps)
            raise
        for cpu in self._cpus:
            cpu.blk.add_role(vaddr, "bp")

    def remove_breakpoint(self, vaddr):
        vaddr &= 0xFFFFFFFF
        if vaddr in self._bps:
            self._bps.discard(vaddr)
            self._set_breakpoints(self._bps)
            for cpu in self._cpus:
                cpu.blk.drop_role(vaddr, "bp")

    def _set_breakpoints(self, addrs):
        self._bp_table = frozenset(addrs)
        for cpu in self._cpus:
            self._load_bp_table(cpu)

    def _load_bp_table(self, cpu):
        """The clock's breakpoints: the debugger's (unless breakpoints_off),
        and where the CPU's turn ends (its `pause` sites, see _schedule)."""
        addrs = self._bp_table | self._pauses if cpu.yields else self._bp_table
        vclock.set_breakpoints(cpu.clock, addrs)

    def _ends_turn(self, pc):
        return self.ncpus > 1 and pc in self._pauses and self._cpus[self._cur].yields

    @property
    def breakpoints(self):
        return frozenset(self._bps)

    @contextlib.contextmanager
    def breakpoints_off(self):
        """Inside: no breakpoint stops the machine (history.py's replays);
        they are all back after, unchanged."""
        self._set_breakpoints(())
        try:
            yield
        finally:
            self._set_breakpoints(self._bps)

    # ----------------------------------------------------------------- probes
    def add_probe(self, vaddr, callback):
        """Call `callback(vaddr, icount)` each time the instruction at vaddr
        begins, without stopping the machine.  `icount` is the instruction's
        own position: the count a breakpoint stop there would report
        (machine.icount inside the callback is already one more).

        Contract: guest-invisible (no guest memory write, no TB flush, no
        effect on timing); fires exactly once per instruction begun, under
        cont() and step(): not when a breakpoint, deadline or IRQ window
        stops the machine at vaddr (nothing ran), once when it resumes over
        it.  Like icount, an instruction restarted after a fault it raised
        fires again.  Replays (machine/history.py, restore()) run past
        instructions again and fire again: a consumer that must see each
        event once keeps a high-water mark on icount and listens for
        "rewind" (add_listener).  The callback may read registers and memory
        (read_register, read_memory); it must not write them, run or stop
        the machine.  Probes survive reset().  An exception in a callback is
        logged and kept in `probe_errors`; the run goes on.  Cost: nothing
        at other addresses when no probe exists, one hash lookup per
        instruction while any does."""
        vaddr &= 0xFFFFFFFF
        fns = self._probes.setdefault(vaddr, [])
        fns.append(callback)
        try:
            self._set_probes()
        except ValueError:
            fns.pop()
            if not fns:
                del self._probes[vaddr]
            self._set_probes()
            raise
        for cpu in self._cpus:
            cpu.blk.add_role(vaddr, "probe")

    def remove_probe(self, vaddr, callback):
        """Remove one add_probe(vaddr, callback); absent ones are ignored."""
        vaddr &= 0xFFFFFFFF
        fns = self._probes.get(vaddr)
        if fns and callback in fns:
            fns.remove(callback)
            if not fns:
                del self._probes[vaddr]
                for cpu in self._cpus:
                    cpu.blk.drop_role(vaddr, "probe")
            self._set_probes()

    def _set_probes(self):
        for cpu in self._cpus:
            vclock.set_probes(cpu.clock, self._probes)

    @property
    def probes(self):
        return {a: tuple(f) for a, f in self._probes.items()}

    def _on_probe(self, vaddr, icount):
        if icount == vclock.NO_ADDR:        # block mode: count up to vaddr
            self._blk.sync(vaddr)
            icount = self._clock.icount - 1
        # Callbacks cannot change paging: read cr0/cr3/cr4 once for all the
        # memory reads they make (each register read costs microseconds).
        self._ctl_cache = self._paging_regs()
        try:
            for fn in tuple(self._probes.get(vaddr, ())):
                try:
                    fn(vaddr, icount)
                except Exception as e:          # never unwind through unicorn
                    log.warning("probe at 0x%08x failed: %r", vaddr, e)
                    self.probe_errors.append("0x%08x: %r" % (vaddr, e))
                    del self.probe_errors[:-20]
        finally:
            self._ctl_cache = None

    def add_listener(self, fn):
        """`fn(event, icount)` on timeline changes: ("reset", 0) after
        reset(); ("rewind", t) from machine/history.py when the history after
        icount t is discarded (the run goes forward again from a past point:
        what ran from t on will run again, perhaps differently)."""
        if fn not in self._listeners:
            self._listeners.append(fn)

    def remove_listener(self, fn):
        if fn in self._listeners:
            self._listeners.remove(fn)

    def _notify(self, event, icount):
        for fn in tuple(self._listeners):
            fn(event, icount)

    def notify_rewind(self, icount):
        """Tell the listeners ("rewind", icount): history.py discarded what
        ran after icount."""
        self._notify("rewind", icount)

    # -------------------------------------------------------------- registers
    def read_register(self, name: str) -> int:
        uc = self.uc
        if name in _GPR:
            v = uc.reg_read(_GPR[name])
            return v & _MASK.get(name, 0xFFFFFFFF)
        if len(name) == 3 and name.startswith("st") and name[2] in "01234567":
            top = (uc.reg_read(X.UC_X86_REG_FPSW) >> 11) & 7
            phys = (top + int(name[2])) & 7
            mant, exp = uc.reg_read(X.UC_X86_REG_FP0 + phys)
            return ((exp & 0xFFFF) << 64) | (mant & 0xFFFFFFFFFFFFFFFF)
        raise KeyError("unknown register %r" % (name,))

    def read_registers(self, names):
        """[read_register(n) for n in names], with one unicorn call for the
        plain registers."""
        plain = [n for n in names if n in _GPR]
        values = {}
        if plain:
            got = self.uc.reg_read_batch([_GPR[n] for n in plain])
            for n, v in zip(plain, got):
                values[n] = v & _MASK.get(n, 0xFFFFFFFF)
        return [values[n] if n in values else self.read_register(n) for n in names]

    def write_register(self, name: str, value: int):
        uc = self.uc
        if name in _GPR:
            value &= _MASK.get(name, 0xFFFFFFFF)
            if name in _SEGS:
                self._check_selector(name, value & 0xFFFF)
            try:
                uc.reg_write(_GPR[name], value)
            except UcError as e:
                raise ValueError("cannot write %s=0x%x: %s" % (name, value, e))
            if name == "eip":
                self._halted = False
                self._clock.skip_pending = 0
            if name in ("cr0", "cr3", "cr4"):
                self._flush_tlb()
            return
        if len(name) == 3 and name.startswith("st") and name[2] in "01234567":
            top = (uc.reg_read(X.UC_X86_REG_FPSW) >> 11) & 7
            phys = (top + int(name[2])) & 7
            uc.reg_write(X.UC_X86_REG_FP0 + phys,
                         (value & 0xFFFFFFFFFFFFFFFF, (value >> 64) & 0xFFFF))
            return
        raise KeyError("unknown register %r" % (name,))

    def _check_selector(self, name, sel):
        """Before loading a segment register in protected mode: its
        descriptor must be inside the GDT/LDT limit and readable through the
        page tables.  Unicorn reads it through its soft MMU, and a fault
        there (the GDT unmapped: cr3 written first) kills the process;
        QEMU reads it with a debug read and leaves the register unchanged."""
        uc = self.uc
        if not uc.reg_read(X.UC_X86_REG_CR0) & 1 or not sel & 0xFFFC:
            return                      # real mode, or a null selector: no descriptor
        table = X.UC_X86_REG_LDTR if sel & 4 else X.UC_X86_REG_GDTR
        _, base, limit, _ = uc.reg_read(table)
        index = sel & 0xFFF8
        try:
            if index + 7 > limit:
                raise MemoryFault(base + index)
            self.read_memory((base + index) & 0xFFFFFFFF, 8)
        except MemoryFault:
            raise ValueError("cannot load %s=0x%x: its descriptor is outside the %s or "
                             "not mapped" % (name, sel, "LDT" if sel & 4 else "GDT")) from None

    # ----------------------------------------------------------------- memory
    def _paging_regs(self):
        """(cr0, cr3, cr4): read once per access, not once per page walked
        (each register read through the binding costs microseconds)."""
        if self._ctl_cache is not None:
            return self._ctl_cache
        r = self._regs.read
        return r(X.UC_X86_REG_CR0), r(X.UC_X86_REG_CR3), r(X.UC_X86_REG_CR4)

    def translate(self, vaddr: int):
        """Physical address of vaddr through the guest page tables, or None
        (also None when it maps outside RAM)."""
        return self._mem.translate(vaddr, self._paging_regs())

    def read_memory(self, vaddr: int, size: int) -> bytes:
        return self._mem.read_virt(vaddr, size, self._paging_regs())

    def _write_virt(self, vaddr, data, flush=True):
        self._mem.write_virt(vaddr, data, self._paging_regs())
        if flush and data:
            self._code_written()

    def write_memory(self, vaddr: int, data: bytes):
        self._write_virt(vaddr, bytes(data))

    def read_phys(self, paddr: int, size: int) -> bytes:
        return self._mem.read_phys(paddr, size)

    def write_phys(self, paddr: int, data: bytes):
        data = bytes(data)
        self._mem.write_phys(paddr, data)
        if data:
            self._code_written()

    def _code_written(self):
        """The debugger wrote guest memory, perhaps code: forget translations
        and decoded blocks (of every CPU)."""
        for cpu in self._cpus:
            cpu.uc.ctl_flush_tb()
            cpu.blk.clear_blocks()
        self._code = next(_code_gen)

    def _flush_tlb(self):
        # The Python binding has no ctl_flush_tlb(); UC_CTL_TLB_FLUSH, write.
        from unicorn.unicorn_const import UC_CTL_TLB_FLUSH, UC_CTL_IO_WRITE
        for cpu in self._cpus:
            cpu.uc.ctl(UC_CTL_TLB_FLUSH, UC_CTL_IO_WRITE)

    def set_memory_hooks(self, ranges, on_access):
        """Hooks on guest memory accesses (machine/watch.py), replacing the
        ones set before: `on_access(is_write, paddr, size)` for each access
        that STARTS in one of `ranges`, (lo, hi inclusive, write?, read?)
        physical.  Kept across reset(); effective at once, on code translated
        before too.  While any exists unicorn takes its slow path for memory
        (~60% speed): pass () when none is needed."""
        for cpu in self._cpus:
            for h in cpu.mem_hooks:
                cpu.uc.hook_del(h)
        self._mem_hooks = (tuple(ranges), on_access)
        for cpu in self._cpus:
            cpu.mem_hooks = self._add_memory_hooks(cpu.uc)
        self.flush_translations()

    @property
    def memory_hooks(self):
        """The ranges set_memory_hooks() hooks now: (lo, hi, write?, read?),
        a write and/or a read hook each."""
        return self._mem_hooks[0]

    def _add_memory_hooks(self, uc):
        """Hook one CPU's engine (every CPU's accesses are watched); the ids."""
        ranges, on_access = self._mem_hooks
        write = lambda uc, access, paddr, size, value, ud: on_access(True, paddr, size)
        read = lambda uc, access, paddr, size, value, ud: on_access(False, paddr, size)
        ids = []
        for lo, hi, w, r in ranges:
            if w:
                ids.append(uc.hook_add(UC_HOOK_MEM_WRITE, write, None, lo, hi))
            if r:
                ids.append(uc.hook_add(UC_HOOK_MEM_READ, read, None, lo, hi))
        return ids

    def flush_translations(self):
        """Drop translated code and the TLB: a memory hook added on `uc`
        takes effect on code translated before it only after this."""
        for cpu in self._cpus:
            cpu.uc.ctl_flush_tb()
        self._flush_tlb()

    @property
    def ram(self):
        """Guest RAM as a writable buffer, offset = physical address (for
        history.py's page store).  Writing it directly bypasses the
        translation cache: restore() (or flush_translations()) after."""
        return self._mem.ram

    # -------------------------------------------------------------- snapshots
    def snapshot(self, ram=True):
        """Everything needed to come back here later: CPU context (unicorn),
        a copy of RAM, device and clock state.  ~10 ms for 128 MiB.
        ram=False leaves RAM out (machine/history.py keeps pages itself)."""
        c = self._clock
        snap = {
            "cpu": self.uc.context_save(),
            "ram": bytes(self._ram) if ram else None,
            "halted_at": getattr(self, "halted_at", None),
            "devices": devstate.save(self.pic, self.pit, self.uart),
            "clock": {f: getattr(c, f) for f in _CLOCK_STATE},
            "halted": self._halted,
            "code": self._code,
            "console_len": len(self.console_output),
            "irqs_delivered": self.irqs_delivered,
        }
        if self.ncpus > 1:
            self._save_cpu()
            snap["smp"] = (self._cur, self._quantum_no, self._quantum_end, [
                (cpu.uc.context_save(), {f: getattr(cpu.clock, f) for f in _CLOCK_STATE},
                 cpu.halted, cpu.halted_at, cpu.state, cpu.lapic.save(), cpu.yields)
                for cpu in self._cpus])
        return snap

    def restore(self, snap):
        """Return to a snapshot() of this machine (same kernel and RAM size).
        console_output is truncated back to its length at the snapshot."""
        if self.ncpus > 1:
            cur, self._quantum_no, self._quantum_end, cpus = snap["smp"]
            for cpu, (ctx, clock, halted, halted_at, state, apic, yields) in zip(self._cpus, cpus):
                cpu.uc.context_restore(ctx)
                for f, v in clock.items():
                    setattr(cpu.clock, f, v)
                self._clear_run_state(cpu.clock)
                cpu.halted, cpu.halted_at, cpu.state = halted, halted_at, state
                cpu.lapic.load(apic)
                cpu.yields = yields
                self._load_bp_table(cpu)
                cpu.uc.ctl_flush_tb()
                if snap["code"] != self._code:
                    cpu.blk.clear_blocks()
            self._load_cpu(cur)
        c = self._clock
        self.uc.context_restore(snap["cpu"])
        if snap["ram"] is not None:
            self._ram[:] = snap["ram"]
        self.halted_at = snap.get("halted_at")
        devstate.load(snap["devices"], self.pic, self.pit, self.uart)
        for f, v in snap["clock"].items():
            setattr(c, f, v)
        self._clear_run_state()
        self._halted = snap["halted"]
        self._pending_stop = None
        self._stop_requested = False
        del self.console_output[snap["console_len"]:]
        self.irqs_delivered = snap["irqs_delivered"]
        self.uc.ctl_flush_tb()
        if snap["code"] != self._code:      # memory from another code version
            self._blk.clear_blocks()
            self._code = snap["code"]
        self._flush_tlb()
        if self.ncpus > 1:
            self._fit_clock_mode()

    def _clear_run_state(self, c=None):
        """Clock fields that only live during one emu_start."""
        c = c or self._clock
        c.stop_reason = c.stop_req = 0
        c.blk_n = c.blk_done = 0
        c.arm_pc = c.arm_addr = vclock.NO_ADDR

    # ------------------------------------------------------------- debugging
    def disassemble(self, vaddr: int, count: int = 8) -> str:
        """A few instructions at vaddr, for fault reports."""
        try:
            code = self.read_memory(vaddr, 15 * count)
        except MemoryFault:
            return "<0x%08x not mapped>" % vaddr
        return decode.disassemble(code, vaddr, count)
