"""One CPU of the machine: its unicorn engine over the board's RAM, its
virtual clock (machine/_clock.c, block mode), its local APIC, its registers
and its state.  No device and no other CPU: the board (machine.py) owns RAM,
the devices and virtual time, and runs its CPUs in turns.

  Cpu(index, mem, clock, ports, irq_in, apic=None, catch=False, tlb="virtual",
      icount=True)
    mem: the board's GuestMemory (memory.py), mapped by pointer;
    clock: a vclock.VClock (icount, and the stops of one emu_start), new or
      CPU 0's from before a reset(): its time starts at 0 here;
    ports: (on_in(port, size), on_out(port, size, value), on_console(bytes)),
      the board's port handlers and console (clock.PortIO: the engine serves
      the console UART's LSR and THR itself, and calls on_console a line at
      a time);
    irq_in: what the CPU takes interrupts from (pending(), acknowledge():
      the PIC with one CPU, else its APIC, and the PIC too for CPU 0);
    apic: its lapic.LocalAPIC, mapped at lapic.BASE in its engine;
    catch: stop before delivering an exception (the board's catch_exceptions);
    tlb: who fills its TLB (mmu.py): "virtual" (the guest's page walk in a
      native hook) or "cpu" (unicorn's own walker);
    icount: the engine may count instructions inline when it can (clock.py,
      icount mode; fit_clock_mode).

The board sees to what involves more than this CPU: which CPU runs, the
devices behind port I/O, and flushing every engine after a debugger's write
(a CPU's hooks only ever fire while that CPU runs).

State: `state` RUNNING (running, or `halted` by `hlt` since icount
`halted_at`) or WAIT_SIPI (an AP after reset or INIT, until a STARTUP IPI:
start_ap() puts it in 16-bit real mode at CS = vector << 8, IP = 0);
`yields`: a `pause` ends its turn (the board decides, load_breakpoints
loads it); `irqs`: the interrupts it took.  save()/load() carry all of it,
the engine's context and the clock's, for the board's snapshots.

Running: run(deadline, stop_requested) is one emu_start up to a deadline of
the clock, carrying on over the clock's own stops (a block to decode, an
in-block stop to arm), over a TLB fill the virtual TLB refused (the
instruction runs again with unicorn's walker, mmu.py) and over an
exception delivered from a hook; it
returns a Stop, or None with `clock.stop_reason` saying why it returned.
Exceptions (UC_HOOK_INTR, invalid opcodes) are delivered through the IDT
here (interrupts.py), with the error codes unicorn does not give (decode.py,
memory.py).
"""
import logging

from unicorn import (Uc, UcError, UC_ARCH_X86, UC_MODE_32, UC_PROT_ALL,
                     UC_HOOK_INTR, UC_HOOK_INSN_INVALID,
                     UC_HOOK_MEM_READ, UC_HOOK_MEM_WRITE)
from unicorn import x86_const as X
from unicorn.unicorn_const import UC_CTL_TLB_FLUSH, UC_CTL_IO_WRITE

from . import clock as vclock
from . import decode, excstate, lapic, mmu
from .errors import MemoryFault
from .interrupts import InterruptController, FAULT_VECTORS, EFLAGS_IF
from .stop import Reason, Stop, SIGSEGV

log = logging.getLogger("machine")

RUNNING, WAIT_SIPI = "running", "wait-for-SIPI"
END_ADDR = 0xFFFFFFFF
TCG_BUFFER = 16 << 20          # bytes of host code unicorn keeps translated
_AGAIN = object()              # Cpu._emu_start: run the refused instruction again
_CLOCK_STATE = ("icount", "irq_armed", "irq_at", "skip_pending", "skip_addr")

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
CONTROL_REGISTERS = ("cr0", "cr3", "cr4")

REGISTER_NAMES = (
    "eax", "ecx", "edx", "ebx", "esp", "ebp", "esi", "edi", "eip", "eflags",
    "cs", "ss", "ds", "es", "fs", "gs",
    "st0", "st1", "st2", "st3", "st4", "st5", "st6", "st7",
    "fctrl", "fstat", "ftag", "fiseg", "fioff", "foseg", "fooff", "fop",
    "cr0", "cr2", "cr3", "cr4",
)


def _apic_touched(uc, access, address, size, value, user_data):
    """Present only so that unicorn keeps EIP exact in the APIC's MMIO
    callbacks (see Cpu.__init__)."""


class Cpu:
    def __init__(self, index, mem, clock, ports, irq_in, apic=None, catch=False,
                 tlb="virtual", icount=True):
        self.index = index
        self.mem = mem
        uc = self.uc = Uc(UC_ARCH_X86, UC_MODE_32)
        # Translation cache: unicorn's default is 1 GiB, and retranslating
        # for block-clock stops (machine/clock.py) would fill it up in RSS
        # before its first flush; the kernel's code needs well under 1 MiB.
        uc.ctl_set_tcg_buffer_size(TCG_BUFFER)
        uc.mem_map_ptr(0, mem.size, UC_PROT_ALL, mem.address)
        self.tlb = mmu.MODES[tlb](uc, mem)
        # emu_start(until=...) makes unicorn translate `until` through the
        # guest page tables on every start, which clobbers the guest's CR2
        # when that address is unmapped.  With "exits" enabled and no exit
        # address, `until` is ignored and nothing is probed.
        uc.ctl_exits_enabled(True)
        uc.ctl_set_exits([])
        self.clock = c = clock
        c.icount = c.deadline = c.irq_armed = c.irq_at = c.skip_pending = 0
        self.clear_run_state()
        self.regs = vclock.Regs(uc)
        self.ctl_cache = None       # (cr0, cr3, cr4) while the board's probes run
        self.blk = vclock.BlockClock(uc, c, self.read_memory, self._mapped)
        self.per_insn_asked = False # fit_clock_mode
        self.icount_ok = icount     # the engine may count (clock.Icount)
        on_in, on_out, on_console = ports
        uc.hook_add(UC_HOOK_INTR, self._on_intr)
        uc.hook_add(UC_HOOK_INSN_INVALID, self._on_invalid)
        self.ports = vclock.PortIO(uc, c, on_in, on_out, on_console, self._on_console_line)
        self.intc = InterruptController(self)
        self.intc.catch = catch
        self.irq_in, self.lapic = irq_in, apic
        if apic is not None:
            uc.mmio_map(lapic.BASE, lapic.SIZE, self._apic_read, apic, self._apic_write, apic)
            # A memory hook on the page makes unicorn keep EIP exact in the
            # MMIO callbacks (else EIP is the block's start): the timer's
            # start and count are read at the exact icount.  It costs every
            # memory access the slow path (bench/results/smp_feasibility.txt).
            uc.hook_add(UC_HOOK_MEM_READ | UC_HOOK_MEM_WRITE, _apic_touched, None,
                        lapic.BASE, lapic.BASE + lapic.SIZE - 1)
        self.mem_hooks = []         # set_memory_hooks' hook ids
        self.on_watched_page = None # the board's: an access to a watched page was refused
        self.on_probe = None        # the board's probe callback(vaddr, icount), icount mode
        self.halted, self.halted_at = False, None
        self.state = RUNNING if index == 0 else WAIT_SIPI
        self.yields = False
        self.irqs = 0
        self.pending_stop = None    # a Stop a hook met during run()
        self.exc_fixup = False      # excstate: clear unicorn's old_exception
        self.rerun_at = None        # an instruction run again (run()): its probe fired

    def _mapped(self, vaddr):
        """Does this CPU's paging map vaddr (the block clock's question)?"""
        r = self.regs.read
        ctl = (r(X.UC_X86_REG_CR0), r(X.UC_X86_REG_CR3), r(X.UC_X86_REG_CR4))
        return self.mem.translate(vaddr, ctl) is not None

    # ---------------------------------------------------------------- state
    @property
    def run_state(self) -> str:
        """"running", "halted" or "wait-for-SIPI"."""
        if self.state != RUNNING:
            return self.state
        return "halted" if self.halted else RUNNING

    @property
    def runnable(self) -> bool:
        return not self.halted and self.state == RUNNING

    def multiboot_entry(self, boot):
        """The state a multiboot loader leaves (loader.py's `boot`)."""
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

    def init(self):
        """An INIT IPI: back to waiting for STARTUP."""
        self.state = WAIT_SIPI
        self.lapic.reset()
        self.halted = False

    def start_ap(self, vector):
        """The AP's state after INIT + STARTUP: 16-bit real mode at
        CS:IP = (vector << 8):0, paging off, interrupts off."""
        uc = self.uc
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
        self.forget_code()      # another CPU wrote the trampoline
        self.state = RUNNING
        self.halted = False

    def save(self):
        """Everything of this CPU a snapshot needs (load() takes it back)."""
        c = self.clock
        return (self.uc.context_save(), {f: getattr(c, f) for f in _CLOCK_STATE},
                self.halted, self.halted_at, self.state,
                None if self.lapic is None else self.lapic.save(), self.yields, self.irqs)

    def load(self, saved, code_changed):
        """Back to a save(); `code_changed`: guest code may differ from what
        the clock decoded blocks from (the debugger wrote memory since)."""
        ctx, clock, self.halted, self.halted_at, self.state, apic, self.yields, self.irqs = saved
        self.uc.context_restore(ctx)
        for f, v in clock.items():
            setattr(self.clock, f, v)
        self.clear_run_state()
        if apic is not None:
            self.lapic.load(apic)
        self.pending_stop = None
        self.uc.ctl_flush_tb()
        if code_changed:
            self.blk.clear_blocks()

    def clear_run_state(self):
        """Clock fields that only live during one emu_start."""
        c = self.clock
        c.stop_reason = c.stop_req = c.probe_done = 0
        c.blk_n = c.blk_done = 0
        c.arm_pc = c.arm_addr = vclock.NO_ADDR

    # ------------------------------------------------------ clock and hooks
    def fit_clock_mode(self, per_insn=None):
        """The clock mode for what this CPU has now (`per_insn`: the board
        asks for per-instruction counting; None: as last asked).  The engine
        counts (icount mode) when it can and nothing needs a count in the
        middle of a block: no memory hooks (watch.py reads icount in them).
        Block mode decodes 32-bit code: while this CPU runs
        16-bit code (an AP in its real-mode trampoline) it counts per
        instruction."""
        if per_insn is not None:
            self.per_insn_asked = per_insn
        if self.per_insn_asked or self._code16():
            mode = "insn"
        elif self.blk.ic is not None and self.icount_ok and not self.mem_hooks:
            mode = "icount"
        else:
            mode = "block"
        self.blk.set_mode(mode)

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

    def load_breakpoints(self, table, pauses):
        """The clock's breakpoints: the debugger's `table`, and where this
        CPU's turn ends (the `pause` sites) while it yields."""
        vclock.set_breakpoints(self.clock, table | pauses if self.yields else table)

    def set_memory_hooks(self, ranges, on_access):
        """Replace this engine's memory hooks (the board's set_memory_hooks)."""
        uc = self.uc
        for h in self.mem_hooks:
            uc.hook_del(h)
        write = lambda uc, access, paddr, size, value, ud: on_access(True, paddr, size)
        read = lambda uc, access, paddr, size, value, ud: on_access(False, paddr, size)
        self.mem_hooks = []
        for lo, hi, w, r in ranges:
            if w:
                self.mem_hooks.append(uc.hook_add(UC_HOOK_MEM_WRITE, write, None, lo, hi))
            if r:
                self.mem_hooks.append(uc.hook_add(UC_HOOK_MEM_READ, read, None, lo, hi))
        self.fit_clock_mode()

    def protect(self, pages, on):
        """Watched pages for the virtual TLB (mmu.VirtualTlb.protect); the
        TLB is flushed."""
        self.tlb.protect(pages, on)
        self.flush_tlb()

    def flush_tlb(self):
        # The Python binding has no ctl_flush_tlb(); UC_CTL_TLB_FLUSH, write.
        self.uc.ctl(UC_CTL_TLB_FLUSH, UC_CTL_IO_WRITE)

    def flush_translations(self):
        """Drop translated code and the TLB (a new hook then sees all code)."""
        self.uc.ctl_flush_tb()
        self.flush_tlb()

    def forget_code(self):
        """Guest code may have changed: drop translations and decoded blocks."""
        self.uc.ctl_flush_tb()
        self.blk.clear_blocks()

    # ------------------------------------------------------------ registers
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
        """The caller flushes TLBs after a control register (CONTROL_REGISTERS)."""
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
                self.halted = False
                self.clock.skip_pending = 0
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

    # What interrupts.py needs from a CPU (names, not unicorn ids).
    def reg(self, name):
        if name == "idtr":
            return self.uc.reg_read(X.UC_X86_REG_IDTR)
        if name == "tr":
            return self.uc.reg_read(X.UC_X86_REG_TR)
        return self.regs.read(_GPR[name])

    def set_reg(self, name, value):
        self.regs.write(_GPR[name], value)

    def eflags_if(self):
        return bool(self.regs.read(X.UC_X86_REG_EFLAGS) & EFLAGS_IF)

    # ------------------------------------------------ memory, through its paging
    def paging_regs(self):
        """(cr0, cr3, cr4): read once per access, not once per page walked
        (each register read through the binding costs microseconds)."""
        if self.ctl_cache is not None:
            return self.ctl_cache
        r = self.regs.read
        return r(X.UC_X86_REG_CR0), r(X.UC_X86_REG_CR3), r(X.UC_X86_REG_CR4)

    def translate(self, vaddr: int):
        return self.mem.translate(vaddr, self.paging_regs())

    def read_memory(self, vaddr: int, size: int) -> bytes:
        return self.mem.read_virt(vaddr, size, self.paging_regs())

    def write_memory(self, vaddr: int, data):
        """No flush of translated code: the board does that for a debugger."""
        self.mem.write_virt(vaddr, data, self.paging_regs())

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

    def just_halted(self):
        """Did the instruction before EIP (the last one run) halt?"""
        return self._byte_at(self.regs.read(X.UC_X86_REG_EIP) - 1) == 0xF4

    def rep_string_at(self, eip):
        return decode.is_rep_string(self._code_at(eip, 15), eip)

    def rep_in_progress(self, eip):
        """Still at the rep-prefixed string insn at `eip` after a step?"""
        return self.regs.read(X.UC_X86_REG_EIP) == eip and self.rep_string_at(eip)

    # ------------------------------------------------------------ interrupts
    def arm_irq_window(self):
        c = self.clock
        if not c.irq_armed:
            c.irq_armed = 1
            c.irq_at = 0
            c.if_maybe = 1

    def after_delivery(self):
        self.clock.skip_pending = 0
        self.halted = False

    def check_irq(self):
        """At a service point: deliver a deliverable IRQ or arm the window.
        Returns a Stop if delivery triple-faulted."""
        c = self.clock
        if not self.irq_in.pending():
            c.irq_armed = 0
            c.irq_at = 0
            return None
        if c.irq_armed:
            return None                     # the clock hook decides when
        if self.eflags_if():
            return self.deliver_irq()
        self.arm_irq_window()
        return None

    def deliver_irq(self):
        c = self.clock
        c.irq_armed = 0
        c.irq_at = 0
        vector = self.irq_in.acknowledge()
        stop = self.intc.deliver(vector, "external")
        self.irqs += 1
        self.after_delivery()
        if stop is None and self.irq_in.pending():
            self.arm_irq_window()
        return stop

    def irq_window(self):
        """The clock hook saw IF=1 after the window was armed: deliver the
        IRQ, or arm the window again if IF went back to 0."""
        c = self.clock
        c.irq_armed = 0
        c.irq_at = 0
        if not self.irq_in.pending():
            return None
        if self.eflags_if():
            return self.deliver_irq()
        self.arm_irq_window()
        return None

    def _apic_read(self, uc, offset, size, apic):
        self.blk.sync()                     # the timer reads icount
        return apic.read(offset)

    def _apic_write(self, uc, offset, size, value, apic):
        self.blk.sync()
        apic.write(offset, value)
        nxt = apic.next_deadline()
        c = self.clock
        if nxt is not None and nxt < c.deadline:
            # a newly started timer may fire before the slice's deadline
            c.deadline = max(nxt, c.icount)
            if self.blk.mode == "icount":
                self.blk.arm_next()         # the engine's limit is set per run

    # ------------------------------------------------------------ exceptions
    def _on_intr(self, uc, intno, _ud):
        eip = uc.reg_read(X.UC_X86_REG_EIP)
        # a fault counts its instruction, a trap ended its block, a fetch
        # fault's block never began: the rest of the running block never runs
        self.blk.sync(eip, whole=intno == 14 and self.translate(eip) is None, last=True)
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
        self.after_delivery()
        if kind == "exception" and intno in excstate.TRACKED_VECTORS:
            # unicorn #1883: run() clears old_exception before the handler runs
            self.exc_fixup = True
            uc.emu_stop()
        if stop is not None:
            self.pending_stop = stop
            uc.emu_stop()

    def _on_invalid(self, uc, _ud):
        self.blk.sync(last=True)
        stop = self.intc.raise_event(6, "exception")
        self.after_delivery()
        if stop is not None:
            self.pending_stop = stop
            uc.emu_stop()
        return True

    def _on_console_line(self):
        """In the OUT hook after a newline to the console: its bytes go out
        now, at the exact icount, so that a stop the console's reader asks
        for comes right after this OUT (as from any device, machine.py)."""
        c = self.clock
        self.blk.sync()
        self.ports.drain()
        if c.stop_req:
            self.blk.arm_next()

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
        return self.mem.pf_error_code(self.paging_regs(), cr2, write, user)

    # --------------------------------------------------------------- running
    def _rerun_done(self):
        """Back to the virtual TLB after the rerun of a refused instruction."""
        self.tlb.resume()
        self.rerun_at = None

    def run(self, deadline, stop_requested):
        """One emu_start up to `deadline` (icount), going on over the clock's
        own stops and over an exception delivered in a hook (unless
        `stop_requested()`).  A Stop (a fault unicorn or delivery could not
        get past), or None: `clock.stop_reason` says why it returned."""
        try:
            return self._run(deadline, stop_requested)
        finally:
            self.ports.drain()      # a partial line of the console, when the run stops

    def _run(self, deadline, stop_requested):
        c = self.clock
        c.deadline = deadline
        c.stop_reason = 0
        self.pending_stop = None
        self.blk.drop_idle(unless_used_within=vclock.IDLE_RUN)
        if self.blk.mode == "icount":
            return self._run_icount(stop_requested)
        while True:
            c.if_maybe = 1          # the host may have set IF (_clock.c)
            ran = self._emu_start()
            if ran is _AGAIN:
                continue
            if ran is not None:
                return ran
            reason = c.stop_reason
            if reason == vclock.STOP_DECODE:
                if not self.blk.decode(c.stop_addr, c.blk_size):
                    log.info("cannot decode the block at 0x%08x: counting each "
                             "instruction from now on", c.stop_addr)
                    self.blk.set_per_insn(True)
                c.stop_reason = 0
                continue
            if reason == vclock.STOP_ARM:
                self.blk.arm(c.stop_addr, c.need_k)
                c.stop_reason = 0
                continue
            # The clock's own stops above may come before the instruction a
            # refused fill left to unicorn's walker; the others come after it
            # (or, a stop request, before it: it is refused again later).
            self._rerun_done()
            self.blk.settle(c.stop_addr if reason else None)
            if not self.exc_fixup:
                return self.pending_stop
            # An exception was delivered (or caught) in a hook, which stopped
            # the engine: mark it delivered (excstate), then go on from the
            # handler, invisibly to the caller.
            self.exc_fixup = False
            excstate.clear(self.uc)
            if (self.pending_stop is not None or c.stop_reason != vclock.STOP_NONE
                    or stop_requested()):
                return self.pending_stop

    def _emu_start(self):
        """One emu_start from EIP, in either mode: None when it returned;
        _AGAIN when the virtual TLB refused a fill (the instruction runs
        again with unicorn's walker, its clock taken back: BlockClock.redo;
        a watched page puts the board's memory hooks on first); a Stop when
        unicorn failed."""
        try:
            try:
                self.uc.emu_start(self.regs.read(X.UC_X86_REG_EIP), END_ADDR)
            finally:
                self.ports.reraise()    # a port or console callback failed
        except UcError as e:
            if self.tlb.fallback(e):        # a page fault, most likely
                pc = self.regs.read(X.UC_X86_REG_EIP)
                self.blk.redo(pc, self.tlb.began)
                self.rerun_at = pc if self.tlb.began else None
                if self.tlb.refused_watch:
                    self.on_watched_page()
                return _AGAIN
            self._rerun_done()
            self.blk.settle()
            pc = self.regs.read(X.UC_X86_REG_EIP)
            return Stop(Reason.FAULT, pc, SIGSEGV, None,
                        "unicorn stopped at eip 0x%08x: %s" % (pc, e))
        return None

    def _run_icount(self, stop_requested):
        """_run() when the engine counts: the clock's stops at instruction
        boundaries are decided here (BlockClock.boundary), the engine runs
        to the next deadline or IRQ window exactly (its limit) and stops
        when IF becomes 1 while an IRQ waits; breakpoints and stop requests
        stop it from the hooks as in block mode, and so do probes, which
        are called here once no stop comes first at their instruction."""
        c, blk = self.clock, self.blk
        probe = None
        while True:
            reason = blk.boundary()
            if reason:
                c.stop_reason = reason
                c.stop_addr = self.regs.read(X.UC_X86_REG_EIP)
                self._rerun_done()
                return None
            if probe is not None:
                # the instruction at a probe begins (no stop came first): its
                # probe sees it counted, as in block mode (Machine.add_probe)
                c.icount += 1
                try:
                    self.on_probe(probe, c.icount - 1)
                finally:
                    c.icount -= 1
                c.probe_done, probe = probe + 1, None
            target = c.deadline
            if c.irq_armed and c.irq_at:
                target = min(target, c.irq_at)
            blk.begin_run(target, bool(c.irq_armed and not c.irq_at))
            ran = self._emu_start()
            if ran is _AGAIN:
                if blk.mode != "icount":    # a watched page put memory hooks on
                    return self._run(c.deadline, stop_requested)
                continue
            if ran is not None:
                return ran
            blk.sync()
            if c.stop_reason == vclock.STOP_PROBE:
                c.stop_reason, probe = 0, c.stop_addr
                continue
            if c.stop_reason:               # a breakpoint or a stop request (hooks)
                self._rerun_done()
                return self.pending_stop
            if self.exc_fixup:              # as in _run
                self.exc_fixup = False
                excstate.clear(self.uc)
                if self.pending_stop is not None or stop_requested():
                    self._rerun_done()
                    return self.pending_stop
                continue
            if self.pending_stop is not None or blk.ic.halted():
                self._rerun_done()
                return self.pending_stop
