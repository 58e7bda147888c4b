"""The emulated PC: unicorn i386 CPUs + 128 MiB RAM + PIC, PIT, UART; run loop.

This module is the board: RAM, the devices, virtual time, breakpoints and
probes, the hooks history.py and watch.py use, and the run loop over the
CPUs.  Each CPU (its unicorn engine, clock, local APIC, registers and
state, exception delivery) is a cpu.Cpu; `_cpu` is the one that runs, whose
registers and memory view the debugger sees.  The parts with no unicorn in
them live beside it: RAM and the page walk (memory.py, paging.py), what a
fault's instruction tells (decode.py), device state for snapshots
(devstate.py), the stop record (stop.py), IDT delivery (interrupts.py), the
quanta and IPI routing of more than one CPU (smp.py).

Public API (docs/ARCHITECTURE.md, "Machine API"):
  Machine(kernel_path, ram_mb=128, cmdline="", console=None, cpus=1,
          quantum=10000, sched_seed=None, tlb="virtual", icount=None)
  reset(), icount, cont(max_insns=None) -> Stop, step() -> Stop,
  add_breakpoint(vaddr), remove_breakpoint(vaddr),
  read_register(name), write_register(name, value), REGISTER_NAMES,
  read_memory(vaddr, size), write_memory(vaddr, data),
  read_phys(paddr, size), write_phys(paddr, data), translate(vaddr)
Extras beyond the contract: request_stop() (Ctrl-C, thread-safe),
  read_registers(names), snapshot()/restore(snap), halted, irqs_delivered, clock_mode,
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

from . import clock as vclock
from . import decode, devstate, lapic, loader, mmu, mptable, options, smp
from .cpu import Cpu, CONTROL_REGISTERS, REGISTER_NAMES, RUNNING, WAIT_SIPI
from .errors import MemoryFault
from .memory import GuestMemory
from .stop import Reason, Stop, SIGTRAP, SIGSEGV
from .pic import PICPair
from .pit import PIT8253
from .uart import UART16550

log = logging.getLogger("machine")
_code_gen = itertools.count(1)      # versions of guest memory the debugger wrote

FOREVER = (1 << 63)
CHUNK = 20_000_000             # longest single emu_start, in instructions
WATCH_HOOK_RUN = 2_000_000     # memory hooks stay on this long after a watched page is touched


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


class Machine:
    REGISTER_NAMES = REGISTER_NAMES

    def __init__(self, kernel_path, ram_mb=128, cmdline="", console=None, cpus=1,
                 quantum=smp.DEFAULT_QUANTUM, sched_seed=None, tlb="virtual", icount=None):
        self.kernel_path = kernel_path
        # the engine counts instructions when it can (clock.Icount); False,
        # or KTHREAD_CLOCK=block in the environment, keeps the block clock
        self._icount = options.env_icount() if icount is None else bool(icount)
        if tlb not in mmu.MODES:
            raise ValueError("tlb must be one of %s" % ", ".join(mmu.MODES))
        self._tlb = tlb
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
        self.probe_errors = []      # "vaddr: exception" of failed callbacks (last 20)
        self._listeners = []
        self._unknown_ports = set()
        self._mem_hooks = ((), None)    # set_memory_hooks(ranges, on_access)
        self._hooks_until = None        # memory hooks on until this icount (else pages refused)
        self._watch_pages = {}          # the pages of _mem_hooks' ranges (set_memory_hooks)
        self._catch_exceptions = False
        self._cpus = []
        self._cpu = None            # the running Cpu
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

        self._cpus, self._cpu = [], None    # drops hooks and TBs with the old engines
        self._hooks_until = None            # time starts again: watched pages refused
        self.pic = PICPair()
        self.pit = PIT8253(now=lambda: self._cpu.clock.icount,
                           irq=lambda: self.pic.raise_irq(0))
        self.uart = UART16550(self._console)
        self._ports = {}
        for dev in (self.pic, self.pit, self.uart):
            for p in dev.PORTS:
                self._ports[p] = dev
        # `pause` in the kernel's code (spin-wait loops) ends a CPU's turn
        # when another CPU could use it (see _schedule)
        self._pauses = smp.pause_sites(self.kernel_path) if self.ncpus > 1 else frozenset()
        self._cpus = [self._new_cpu(k) for k in range(self.ncpus)]
        self._cpu = self._cpus[0]
        self._uart_fast_path()
        self._quantum_no = 0
        self._quantum_end = self._quanta.length(0)
        if self.ncpus > 1:
            at, blob = mptable.build(self.ncpus)
            self._ram[at:at + len(blob)] = blob
        self._cpu.multiboot_entry(boot)
        self._stop_requested = False
        self._notify("reset", 0)

    def _new_cpu(self, k):
        """CPU k over the one RAM, wired to the board: port I/O, the
        breakpoints and probes, the memory hooks; with more than one CPU a
        local APIC, and the PIC for CPU 0 (virtual wire)."""
        c = self._clock0 if k == 0 else vclock.new_clock()
        apic = None
        irq_in = self.pic
        if self.ncpus > 1:
            apic = lapic.LocalAPIC(k, lambda: self._cpu.clock.icount, self._send_ipi)
            irq_in = smp.Cpu0Interrupts(apic, self.pic) if k == 0 else apic
        cpu = Cpu(k, self._mem, c, (self._on_in, self._on_out, self._console), irq_in, apic,
                  self._catch_exceptions, self._tlb, self._icount)
        vclock.set_breakpoints(c, self._bps)
        vclock.set_probes(c, self._probes, self._probe_thunk)
        for a in self._bps:
            cpu.blk.add_role(a, "bp")
        for a in self._pauses:
            cpu.blk.add_role(a, "pause")
        for a in self._probes:
            cpu.blk.add_role(a, "probe")
        cpu.on_watched_page = self._watch_with_hooks
        cpu.on_probe = self._on_probe
        self._apply_memory_hooks(cpu)               # the new engine has none
        return cpu

    # ------------------------------------------------------------ the CPUs
    def _select(self, k):
        """Make CPU k the running one; it goes on from the machine's time."""
        if k == self._cpu.index:
            return
        now = self.icount
        self._cpu = self._cpus[k]
        self._cpu.clock.icount = now
        self._fit_clock_mode()

    def _fit_clock_mode(self):
        self._cpu.fit_clock_mode(self._per_insn)

    @property
    def clock_mode(self) -> str:
        """How the running CPU counts time now: "icount" (the engine counts
        inline), "block" (a hook per translation block) or "insn" (a hook
        per instruction); the same icount either way."""
        return self._cpu.blk.mode

    @property
    def cpu(self) -> int:
        """The CPU that runs, steps, and whose registers are read and written."""
        return self._cpu.index

    def cpu_state(self, k) -> str:
        """"running", "halted" or "wait-for-SIPI" (an AP not started yet)."""
        return self._cpus[k].run_state

    def select_cpu(self, k):
        """The debugger makes CPU k the running one (gdb steps or resumes a
        CPU's thread): it starts a turn from here.  An AP waiting for
        STARTUP cannot run (ValueError)."""
        if not 0 <= k < self.ncpus:
            raise ValueError("no CPU %d (CPUs 0 to %d)" % (k, self.ncpus - 1))
        if self._cpus[k].state != RUNNING:
            raise ValueError("CPU %d waits for a STARTUP IPI: it cannot run yet" % k)
        if k == self._cpu.index:
            return
        self._select(k)
        self._new_quantum()
        self._start_turn()

    @contextlib.contextmanager
    def on_cpu(self, k):
        """Inside: registers and memory are CPU k's (a debugger looks at a
        CPU that is not running); virtual time and the run are unchanged."""
        if not 0 <= k < self.ncpus:
            raise ValueError("no CPU %d (CPUs 0 to %d)" % (k, self.ncpus - 1))
        running, now = self._cpu, self.icount
        if k == running.index:
            yield
            return
        self._cpu = self._cpus[k]
        self._cpu.clock.icount = now
        try:
            yield
        finally:
            self._cpu = running

    # ------------------------------------------------- local APIC and IPIs
    def _send_ipi(self, mode, vector, dest, shorthand, source):
        """An IPI from a local APIC: a fixed one is latched in the target's
        APIC (taken at its next instruction boundary the machine services);
        INIT puts an AP back to waiting; STARTUP starts a waiting one in
        real mode at vector << 12."""
        for k, mode, vector in smp.route(self.ncpus, mode, vector, dest, shorthand, source):
            cpu = self._cpus[k]
            if mode == lapic.MODE_FIXED:
                cpu.lapic.accept(vector)
            elif cpu is self._cpu or k == 0:
                log.info("CPU %d: INIT/STARTUP to CPU %d ignored (not an idle AP)", source, k)
            elif mode == lapic.MODE_INIT:
                cpu.init()
            elif cpu.state == WAIT_SIPI:
                cpu.start_ap(vector)

    # ------------------------------------------------------------- console
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
        return self._cpu.clock.icount

    @property
    def halted(self) -> bool:
        return self._cpu.halted

    @property
    def halted_at(self):
        """icount when the running CPU's `hlt` ran (None: it never halted)."""
        return self._cpu.halted_at

    @property
    def irqs_delivered(self) -> int:
        return sum(cpu.irqs for cpu in self._cpus)

    # ------------------------------------------------------------- port I/O
    def _uart_fast_path(self):
        """Tell each engine's native port hooks the UART's ports (clock.PortIO):
        its THR is the console only while DLAB is 0."""
        for cpu in self._cpus:
            cpu.ports.set_uart(self.uart.base, self.uart.dlab)

    def _on_in(self, port, size):
        self._cpu.blk.sync()            # devices read icount
        dev = self._ports.get(port)
        if dev is None:
            self._log_unknown_port("read", port)
            return (1 << (8 * size)) - 1
        return dev.io_read(port, size) & ((1 << (8 * size)) - 1)

    def _on_out(self, port, size, value):
        cpu = self._cpu
        cpu.blk.sync()                  # devices read icount
        dev = self._ports.get(port)
        if dev is None:
            if port != 0x80:               # the classic I/O delay port
                self._log_unknown_port("write", port)
            return
        c = cpu.clock
        before = (c.deadline, c.irq_armed, c.irq_at)
        dev.io_write(port, size, value)
        if dev is self.uart:
            self._uart_fast_path()      # LCR may have turned DLAB on or off
        if dev is self.pic and cpu.irq_in.pending():
            if not c.irq_armed:
                cpu.arm_irq_window()
                # IF already set (no sti shadow): taken right after this OUT
                if cpu.eflags_if():
                    c.irq_at = c.icount
        elif dev is self.pit:
            # A newly programmed timer may fire before the current deadline.
            nxt = self.pit.next_deadline()
            if nxt is not None and nxt < c.deadline:
                c.deadline = max(nxt, c.icount)
        if c.stop_req or before != (c.deadline, c.irq_armed, c.irq_at):
            # the block hook decided this block's stops before: look again
            # before the next instruction (a no-op stop if none is due)
            cpu.blk.arm_next()

    def _log_unknown_port(self, what, port):
        if port not in self._unknown_ports:
            self._unknown_ports.add(port)
            log.info("guest %s of unknown I/O port 0x%x (reads return all ones)",
                     what, port)

    # ----------------------------------------------------------- interrupts
    def service(self):
        """The timer/IRQ service point of the current icount (PIT advance,
        IRQ delivery or arming the IRQ window): what cont() does before its
        first instruction, and what cont(service_at_limit=False) left for
        the next one.  Returns a Stop if delivery triple-faulted, else None."""
        now = self.icount
        self.pit.advance(now)
        if self.ncpus > 1:
            for cpu in self._cpus:
                cpu.lapic.advance(now)
        return self._cpu.check_irq()

    # --------------------------------------------------------------- running
    def cont(self, max_insns=None, service_at_limit=True) -> Stop:
        """Run until a breakpoint, an undeliverable fault, or max_insns more
        instructions of virtual time (Stop.reason == Reason.LIMIT).
        service_at_limit=False returns at the limit before the timer/IRQ
        service point of that instruction count (the next cont() does it):
        the stop state then depends only on the count, which is what exact
        replay (machine/history.py) needs.

        Each turn of the loop: the checks at the boundary (_at_boundary),
        with more than one CPU whose turn it is (_schedule), then either
        idle time while halted (_idle) or one slice of the running CPU
        (_run_slice); each returns a Stop, or None to go on."""
        self._cpu.intc.caught = None        # not delivered: the insn runs again
        now = self.icount
        limit = None if max_insns is None else now + max(0, int(max_insns))
        eip = self._cpu.reg("eip")
        if not self._ends_turn(eip):        # a pause ends its turn first
            self._resume_over_breakpoint(eip)
        run = _Run(limit, service_at_limit, (eip, now))
        while True:
            stop = self._at_boundary(run)
            if stop is None and self.ncpus > 1:
                stop = self._schedule()
            if stop is None:
                stop = self._idle(run) if self._cpu.halted else self._run_slice(run)
            if stop is not None:
                return stop

    def _resume_over_breakpoint(self, eip):
        """Resuming at a breakpoint (or a `pause` that ends turns) runs its
        instruction first (no re-hit)."""
        if eip in self._bps or self._ends_turn(eip):
            c = self._cpu.clock
            c.skip_pending = 1
            c.skip_addr = eip

    def _at_boundary(self, run):
        """At the instruction boundary the loop is at: a stop request, the
        limit (before or after the timer/IRQ service point), the service."""
        if self._hooks_until is not None:
            self._watch_by_pages()
        if self._stop_requested:
            return self._requested_stop()
        if not run.service_at_limit and run.at_limit(self.icount):
            return self._stop(Reason.LIMIT)
        stop = self.service()
        if stop is not None:
            return stop
        if run.at_limit(self.icount):
            return self._stop(Reason.LIMIT)
        return None

    def _requested_stop(self):
        self._stop_requested = False
        self._cpu.clock.stop_req = 0
        return self._stop(Reason.STOP_REQUESTED)

    def _is_stop_requested(self):
        return self._stop_requested

    def _idle(self, run):
        """Halted by `hlt`: take an IRQ that is waiting, else skip virtual
        time to the next timer deadline (or the limit)."""
        cpu = self._cpu
        c = cpu.clock
        if c.irq_armed and cpu.irq_in.pending() and cpu.eflags_if():
            return cpu.deliver_irq()        # `sti; hlt` with an IRQ waiting
        if self.ncpus == 1:
            nxt = self.pit.next_deadline() if cpu.eflags_if() else None
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
        pit = self.pit.next_deadline() if self._cpu.index == 0 else None
        if self.ncpus == 1:
            return FOREVER if pit is None else pit
        apic = self._cpu.lapic.next_deadline()
        return min(d for d in (pit, apic, self._quantum_end) if d is not None)

    def _schedule(self):
        """More than one CPU, at a boundary: the running CPU goes on until
        its quantum is over or it cannot run (halted, waiting for STARTUP);
        then the next CPU in order that can run gets a quantum (an interrupt
        it has waiting is taken first, and wakes it when halted).  When none
        can, the machine is idle: _idle skips time to the next wake-up."""
        if self._cpu.runnable and self.icount < self._quantum_end:
            return None
        cur = self._cpu.index
        for i in range(1, self.ncpus + 1):
            k = (cur + i) % self.ncpus
            if self._cpus[k].state != RUNNING:
                continue
            self._select(k)
            stop = self._cpu.check_irq()
            if stop is not None:
                return stop
            if self._cpu.runnable:
                self._new_quantum()
                self._start_turn()
                return None
        return None

    def _new_quantum(self):
        self._quantum_no += 1
        self._quantum_end = self.icount + self._quanta.length(self._quantum_no)

    def _start_turn(self):
        """A `pause` ends this turn if another CPU can run (with none, ending
        it would only cost turns); at a pause the new turn runs it first."""
        cpu = self._cpu
        yields = any(o.runnable for o in self._cpus if o is not cpu)
        if yields != cpu.yields:
            cpu.yields = yields
            cpu.load_breakpoints(self._bp_table, self._pauses)
        eip = cpu.reg("eip")
        if yields and eip in self._pauses:
            self._resume_over_breakpoint(eip)

    def _next_wakeup(self):
        """Every CPU halted: the first timer event that can wake one (a CPU
        with interrupts disabled never wakes), or None."""
        now = self.icount
        events = []
        for cpu in self._cpus:
            if cpu.state != RUNNING or not cpu.eflags_if():
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
        self._cpu.clock.icount = run.limit
        return None

    def _never_woken(self, run):
        """Halted through several ticks without an IRQ getting in (IRQ 0
        masked, or never acknowledged): it never wakes."""
        irqs = self.irqs_delivered
        run.idle_skips = run.idle_skips + 1 if irqs == run.idle_mark else 0
        run.idle_mark = irqs
        return run.idle_skips > 3

    def _run_slice(self, run):
        """Run the CPU up to the next deadline, then act on why it stopped."""
        cpu = self._cpu
        deadline = self._next_deadline()
        if run.limit is not None:
            deadline = min(deadline, run.limit)
        # Bounded chunks (invisible to the guest: a deadline stop is
        # transparent) so a request_stop() that races with emu_start is
        # seen within CHUNK instructions even with no timer running.
        stop = cpu.run(min(deadline, cpu.clock.icount + CHUNK), self._is_stop_requested)
        if stop is not None:
            return stop
        reason = cpu.clock.stop_reason
        if reason == vclock.STOP_REQUESTED:
            return self._requested_stop()
        if reason == vclock.STOP_BREAKPOINT:
            return self._at_breakpoint(run)
        if reason == vclock.STOP_IRQ_WINDOW:
            return cpu.irq_window()
        if reason == vclock.STOP_DEADLINE:
            return None
        return self._engine_returned()

    def _at_breakpoint(self, run):
        cpu = self._cpu
        c = cpu.clock
        pc = cpu.reg("eip")
        if self._ends_turn(pc) and (pc not in self._bp_table or (pc, c.icount) == run.resumed_at):
            # before a `pause` (a breakpoint there was reported first): the
            # turn ends; the CPU runs the pause first in its next one
            self._quantum_end = c.icount
            return None
        if (pc, c.icount - 1) == run.resumed_at and cpu.rep_string_at(pc):
            c.skip_pending = 1              # the next iteration of that rep
            c.skip_addr = pc
            run.resumed_at = (pc, c.icount)
            return None
        return self._stop(Reason.BREAKPOINT)

    def _engine_returned(self):
        """emu_start returned with no clock stop: a stop request, or the
        guest executed hlt."""
        cpu = self._cpu
        if self._stop_requested:
            return self._requested_stop()
        if not cpu.just_halted():
            pc = cpu.reg("eip")
            return Stop(Reason.FAULT, pc, SIGSEGV, None,
                        "emulation stopped unexpectedly at 0x%08x" % pc)
        cpu.halted = True
        cpu.halted_at = cpu.clock.icount
        return None

    def stop_after_instruction(self):
        """From a memory hook: let the instruction that is running complete
        and stop before the next (emu_stop() would leave it half done); cont()
        returns Stop(STOP_REQUESTED) there."""
        c = self._cpu.clock
        c.deadline = c.icount
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
        for cpu in self._cpus:
            cpu.fit_clock_mode(self._per_insn)

    def icount_in_hook(self):
        """icount from inside a memory hook: the block clock charges a block
        as it starts, so first count the running one up to the instruction
        at EIP (begun)."""
        self._cpu.blk.sync()
        return self.icount

    def request_stop(self):
        """Make the running (or next) cont() return Stop(STOP_REQUESTED) at
        the next instruction boundary.  Safe to call
        from a device callback (e.g. the console) or from another thread
        (a debugger's Ctrl-C).  Runs that use it are deterministic only if
        the caller's decision is (e.g. made from console output)."""
        self._stop_requested = True
        self._cpu.clock.stop_req = 1    # the clock hooks stop at the next boundary

    # A debugger's view of CPU exceptions (interrupts.py, "Catching exceptions").
    @property
    def catch_exceptions(self) -> bool:
        """True: an exception stops the machine (Stop FAULT, signal for its
        vector, pc of the faulting instruction) before it is delivered
        through the IDT; deliver_caught_exception() then delivers it."""
        return self._catch_exceptions

    @catch_exceptions.setter
    def catch_exceptions(self, on: bool):
        self._catch_exceptions = bool(on)
        for cpu in self._cpus:
            cpu.intc.catch = bool(on)

    @property
    def caught_exception(self):
        """(vector, error_code) of the exception held back, or None."""
        c = self._cpu.intc.caught
        return None if c is None else (c[0], c[2])

    def deliver_caught_exception(self):
        """Deliver the exception the last stop was caught before (the
        CPU is then at its handler's first instruction).  Returns None, or
        a Stop if delivery triple-faulted.  No-op when none is held back."""
        cpu = self._cpu
        if cpu.intc.caught is None:
            return None
        stop = cpu.intc.deliver_caught()
        cpu.after_delivery()
        return stop

    def step(self) -> Stop:
        """Execute exactly one instruction; never delivers an IRQ."""
        cpu = self._cpu
        c = cpu.clock
        cpu.intc.caught = None              # not delivered: the insn runs again
        cpu.halted = False
        saved = c.irq_armed
        c.irq_armed = 0
        eip = cpu.reg("eip")
        self._resume_over_breakpoint(eip)
        start = c.icount
        cpu.blk.keep_arm = True     # the next step arms the same stop
        try:
            stop = cpu.run(c.icount + 1, self._is_stop_requested)
            if stop is None and cpu.rep_in_progress(eip):
                # Single-stepped, unicorn runs a rep string insn one iteration
                # per step and re-enters it once more at ECX=0 before leaving.
                # The CPU completes the insn on its last iteration: take that
                # no-op pass inside this step, so `stepi` stops where hardware
                # (and QEMU 7) does.  Each pass counts as an instruction, as
                # under cont(), so stepping and running agree on virtual time.
                if cpu.reg("ecx") == 0:
                    self._resume_over_breakpoint(eip)
                    start = c.icount
                    stop = cpu.run(c.icount + 1, self._is_stop_requested)
        finally:
            cpu.blk.keep_arm = False
            if not c.irq_armed:
                c.irq_armed = saved
        if stop is not None:
            return stop
        if c.stop_reason == vclock.STOP_NONE and c.icount == start + 1 and cpu.just_halted():
            cpu.halted = True
            cpu.halted_at = c.icount
        return self._stop(Reason.STEP)

    def _stop(self, reason, detail=""):
        return Stop(reason, self._cpu.reg("eip"), SIGTRAP, None, detail)

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
                cpu.blk.drop_role(vaddr, "bp", keep=True)   # gdb puts it back soon

    def _set_breakpoints(self, addrs):
        self._bp_table = frozenset(addrs)
        for cpu in self._cpus:
            cpu.load_breakpoints(self._bp_table, self._pauses)

    def _ends_turn(self, pc):
        """Does a `pause` at pc end the running CPU's turn (see _schedule)?"""
        return self.ncpus > 1 and pc in self._pauses and self._cpu.yields

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
        cpu = self._cpu
        if vaddr == cpu.rerun_at:           # it fired before the rerun (Cpu.run)
            cpu.rerun_at = None
            return
        if icount == vclock.NO_ADDR:        # block mode: count up to vaddr
            cpu.blk.sync(vaddr)
            icount = cpu.clock.icount - 1
        # Callbacks cannot change paging: read cr0/cr3/cr4 once for all the
        # memory reads they make (each register read costs microseconds).
        cpu.ctl_cache = cpu.paging_regs()
        try:
            for fn in tuple(self._probes.get(vaddr, ())):
                try:
                    fn(vaddr, icount)
                except Exception as e:          # never unwind through unicorn
                    log.warning("probe at 0x%08x failed: %r", vaddr, e)
                    self.probe_errors.append("0x%08x: %r" % (vaddr, e))
                    del self.probe_errors[:-20]
        finally:
            cpu.ctl_cache = None

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
    # The running CPU's (on_cpu: another's).
    def read_register(self, name: str) -> int:
        return self._cpu.read_register(name)

    def read_registers(self, names):
        """[read_register(n) for n in names], with one unicorn call for the
        plain registers."""
        return self._cpu.read_registers(names)

    def write_register(self, name: str, value: int):
        self._cpu.write_register(name, value)
        if name in CONTROL_REGISTERS:
            self._flush_tlb()

    # ----------------------------------------------------------------- memory
    # Virtual addresses go through the running CPU's page tables.
    def translate(self, vaddr: int):
        """Physical address of vaddr through the guest page tables, or None
        (also None when it maps outside RAM)."""
        return self._cpu.translate(vaddr)

    def read_memory(self, vaddr: int, size: int) -> bytes:
        return self._cpu.read_memory(vaddr, size)

    def write_memory(self, vaddr: int, data: bytes):
        data = bytes(data)
        self._cpu.write_memory(vaddr, data)
        if data:
            self._code_written()

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
            cpu.forget_code()
        self._code = next(_code_gen)

    def _flush_tlb(self):
        for cpu in self._cpus:
            cpu.flush_tlb()

    def set_memory_hooks(self, ranges, on_access):
        """Hooks on guest memory accesses (machine/watch.py), replacing the
        ones set before: `on_access(is_write, paddr, size)` for each access
        that STARTS in one of `ranges`, (lo, hi inclusive, write?, read?)
        physical, on every CPU's engine.  Kept across reset(); effective at
        once, on code translated before too.  While unicorn's hooks exist it
        takes its slow path for all memory (~1/3 speed): with the virtual TLB
        they are on only after an access to a watched page (below)."""
        self._mem_hooks = (tuple(ranges), on_access)
        self._watch_pages = {}          # page number -> 1 writes | 2 reads watched
        for lo, hi, w, r in ranges:
            for p in range(lo >> 12, (hi >> 12) + 1):
                self._watch_pages[p] = self._watch_pages.get(p, 0) | (1 if w else 0) | (2 if r else 0)
        self._hooks_until = None
        for cpu in self._cpus:
            self._apply_memory_hooks(cpu)
        self.flush_translations()

    # Memory hooks cost every access in the engine (unicorn's slow path for all
    # memory while one exists).  With the virtual TLB the watched pages are
    # refused instead (_mmu.c), which costs nothing until one is touched;
    # the first access puts the hooks on (the refused instruction runs again
    # under them: the hit is exact) for WATCH_HOOK_RUN instructions.
    def _apply_memory_hooks(self, cpu):
        ranges, on_access = self._mem_hooks
        cpu.set_memory_hooks(ranges if self.memory_hooks_on else (), on_access)
        cpu.protect(self._watch_pages, on=self._hooks_until is None)

    def _watch_with_hooks(self):
        """An access to a watched page was refused: memory hooks on."""
        self._hooks_until = self.icount + WATCH_HOOK_RUN
        for cpu in self._cpus:
            self._apply_memory_hooks(cpu)
        self.flush_translations()

    def _watch_by_pages(self):
        """Back to refusing watched pages once the hooks ran their while."""
        if self._hooks_until is not None and self.icount >= self._hooks_until:
            self._hooks_until = None
            for cpu in self._cpus:
                self._apply_memory_hooks(cpu)
            self.flush_translations()

    @property
    def memory_hooks(self):
        """The ranges set_memory_hooks() watches now: (lo, hi, write?, read?),
        a write and/or a read hook each."""
        return self._mem_hooks[0]

    @property
    def memory_hooks_on(self) -> bool:
        """Are unicorn's memory hooks in the engines now (every access on its
        slow path), rather than the watched pages refused by the virtual TLB?"""
        return bool(self._mem_hooks[0]) and (self._hooks_until is not None
                                             or self._tlb != "virtual")

    def flush_translations(self):
        """Drop every CPU's translated code and TLB: a memory hook added to
        an engine takes effect on code translated before it only after this."""
        for cpu in self._cpus:
            cpu.flush_translations()

    @property
    def ram(self):
        """Guest RAM as a writable buffer, offset = physical address (for
        history.py's page store).  Writing it directly bypasses the
        translation cache: restore() (or flush_translations()) after."""
        return self._mem.ram

    # -------------------------------------------------------------- snapshots
    def snapshot(self, ram=True):
        """Everything needed to come back here later: each CPU's state
        (Cpu.save), a copy of RAM, device state, whose turn it is.  ~10 ms
        for 128 MiB.  ram=False leaves RAM out (machine/history.py keeps
        pages itself)."""
        return {
            "cpus": [cpu.save() for cpu in self._cpus],
            "turn": (self._cpu.index, self._quantum_no, self._quantum_end),
            "ram": bytes(self._ram) if ram else None,
            "devices": devstate.save(self.pic, self.pit, self.uart),
            "code": self._code,
            "console_len": len(self.console_output),
        }

    def restore(self, snap):
        """Return to a snapshot() of this machine (same kernel and RAM size).
        console_output is truncated back to its length at the snapshot."""
        code_changed = snap["code"] != self._code   # memory from another code version
        for cpu, saved in zip(self._cpus, snap["cpus"]):
            cpu.load(saved, code_changed)
            cpu.load_breakpoints(self._bp_table, self._pauses)
        cur, self._quantum_no, self._quantum_end = snap["turn"]
        self._cpu = self._cpus[cur]
        if snap["ram"] is not None:
            self._ram[:] = snap["ram"]
        devstate.load(snap["devices"], self.pic, self.pit, self.uart)
        self._uart_fast_path()
        self._stop_requested = False
        del self.console_output[snap["console_len"]:]
        self._code = snap["code"]
        self._flush_tlb()
        if self.ncpus > 1:
            self._fit_clock_mode()

    # ------------------------------------------------------------- debugging
    def disassemble(self, vaddr: int, count: int = 8) -> str:
        """A few instructions at vaddr, for fault reports."""
        try:
            code = self.read_memory(vaddr, 15 * count)
        except MemoryFault:
            return "<0x%08x not mapped>" % vaddr
        return decode.disassemble(code, vaddr, count)
