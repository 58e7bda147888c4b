"""Interrupt and exception delivery through the guest IDT, done in software.

Unicorn does not vector through the IDT (it calls UC_HOOK_INTR /
UC_HOOK_INSN_INVALID instead), so this module does what an i386 does in
protected mode without task gates:

  deliver(vector, kind, error_code=None)
    kind: "exception" (EIP already points at the faulting instruction, or
          after it for traps), "software" (int n / int3: EIP is after the
          instruction), "external" (an IRQ from the PIC).
    1. read the 8-byte gate at IDTR.base + 8*vector (limit checked);
       it must be a present 32-bit interrupt (0xE) or trap (0xF) gate;
    2. if the target code segment is more privileged than CPL (ring 3 ->
       ring 0) switch to SS0:ESP0 from the TSS and push SS, ESP first;
    3. push EFLAGS, CS, EIP, and an error code for vectors 8, 10-14, 17
       (exceptions only);
    4. clear TF, NT, RF (and IF for an interrupt gate), load CS:EIP from
       the gate.
  A fault while doing this (bad gate, IDT or stack unmapped) becomes a
  double fault (#DF, vector 8, error code 0); a fault while delivering #DF
  is a triple fault: deliver() then returns a Stop(Reason.TRIPLE_FAULT).
  If no IDT is loaded (IDTR.limit == 0) an exception cannot be delivered at
  all: deliver() returns Stop(Reason.FAULT) with the original vector so the
  debugger sees the guest's bug, not a reset.  deliver() returns None when
  the handler is now the current instruction.

The CPU facade `cpu` must provide: reg(name) / set_reg(name, value) for
eip esp eflags cs ss idtr tr cr0 (idtr and tr as unicorn tuples),
read_memory(vaddr, n) / write_memory(vaddr, data) that raise MemoryFault.

Catching exceptions (for a debugger):
  with `catch` true, raise_event() stops BEFORE delivering a CPU exception
  (kind "exception", a fault vector, IDT loaded): it records it in `caught`
  and returns Stop(Reason.FAULT, pc=faulting eip, signal for the vector),
  leaving the CPU exactly as it was when the instruction faulted.  The
  debugger then either delivers it (deliver_caught(): gdb `continue`, which
  passes the signal) or drops it (gdb `signal 0`: the instruction runs again
  and faults again unless the debugger changed something).  Software
  interrupts, int3, #DB and IRQs are never caught.  A triple fault always
  reports SIGSEGV: the CPU could not reach any handler, whatever the first
  exception was (the detail names it); the CPU is left at the faulting
  instruction (a real PC would reset; `monitor reset` does that).

Not modelled: task gates, 16-bit gates, segment limits, vm86, the error
code of #GP/#TS/#NP/#SS raised by unicorn itself (we push 0; unicorn does not
expose it).
"""
import struct

from .errors import MemoryFault
from .stop import Reason, Stop, SIGSEGV, signal_for_vector

ERROR_CODE_VECTORS = frozenset((8, 10, 11, 12, 13, 14, 17))
# Vectors that are faults: EIP of the faulting instruction is pushed.
FAULT_VECTORS = frozenset((0, 5, 6, 7, 8, 10, 11, 12, 13, 14, 16, 17, 19))

EFLAGS_TF = 1 << 8
EFLAGS_IF = 1 << 9
EFLAGS_NT = 1 << 14
EFLAGS_RF = 1 << 16
EFLAGS_VM = 1 << 17

GATE_INTR32 = 0xE
GATE_TRAP32 = 0xF

VECTOR_NAMES = {
    0: "#DE divide error", 1: "#DB debug", 2: "NMI", 3: "#BP breakpoint",
    4: "#OF overflow", 5: "#BR bound", 6: "#UD invalid opcode",
    7: "#NM no math coprocessor", 8: "#DF double fault", 10: "#TS invalid TSS",
    11: "#NP segment not present", 12: "#SS stack fault",
    13: "#GP general protection", 14: "#PF page fault", 16: "#MF x87 error",
    17: "#AC alignment check", 18: "#MC machine check", 19: "#XM SIMD error",
}


def vector_name(v: int) -> str:
    return VECTOR_NAMES.get(v, "vector 0x%02x" % v)


class DeliveryFault(Exception):
    """A fault raised while delivering an interrupt (becomes #DF)."""

    def __init__(self, why: str):
        super().__init__(why)
        self.why = why


class InterruptController:
    def __init__(self, cpu):
        self.cpu = cpu
        self.delivered = 0          # statistics: events delivered
        self.catch = False          # stop before delivering CPU exceptions
        self.caught = None          # (vector, kind, error_code) held back
        self.caught_count = 0       # statistics: exceptions caught

    # -- catching (debugger) -------------------------------------------------
    def raise_event(self, vector: int, kind: str, error_code=None):
        """deliver(), or with `catch` on, a Stop before an exception's delivery."""
        if (self.catch and kind == "exception" and vector in FAULT_VECTORS
                and self.cpu.reg("idtr")[2] != 0):
            self.caught = (vector, kind, error_code)
            self.caught_count += 1
            eip = self.cpu.reg("eip")
            extra = ""
            if vector == 14:
                extra = " (cr2 0x%08x)" % self.cpu.reg("cr2")
            if error_code is not None:
                extra += " error code 0x%x" % error_code
            return Stop(Reason.FAULT, eip, signal_for_vector(vector), vector,
                        "%s at eip 0x%08x%s, caught before delivery: continue "
                        "with the signal to deliver it to the kernel"
                        % (vector_name(vector), eip, extra))
        return self.deliver(vector, kind, error_code)

    def deliver_caught(self):
        """Deliver the exception held back by raise_event (None if none
        was, or delivery worked; a Stop if delivery triple-faulted)."""
        caught, self.caught = self.caught, None
        if caught is None:
            return None
        return self.deliver(*caught)

    # -- gate --------------------------------------------------------------
    def read_gate(self, vector: int):
        """(selector, offset, type, dpl) of the gate, or DeliveryFault."""
        _, base, limit, _ = self.cpu.reg("idtr")
        if vector * 8 + 7 > limit:
            raise DeliveryFault("vector 0x%02x is beyond the IDT limit 0x%x" % (vector, limit))
        try:
            raw = self.cpu.read_memory(base + vector * 8, 8)
        except MemoryFault as e:
            raise DeliveryFault("IDT entry 0x%02x at 0x%08x is not mapped" % (vector, e.addr))
        lo, hi = struct.unpack("<II", raw)
        offset = (lo & 0xFFFF) | (hi & 0xFFFF0000)
        selector = lo >> 16
        gtype = (hi >> 8) & 0x1F
        dpl = (hi >> 13) & 3
        present = (hi >> 15) & 1
        if not present:
            raise DeliveryFault("IDT gate 0x%02x is not present" % vector)
        if gtype not in (GATE_INTR32, GATE_TRAP32):
            raise DeliveryFault("IDT gate 0x%02x has unsupported type 0x%x "
                                "(only 32-bit interrupt/trap gates)" % (vector, gtype))
        if selector & ~3 == 0:
            raise DeliveryFault("IDT gate 0x%02x has a null code selector" % vector)
        return selector, offset, gtype, dpl

    # -- delivery ------------------------------------------------------------
    def deliver(self, vector: int, kind: str, error_code=None):
        cpu = self.cpu
        if kind != "external" and cpu.reg("idtr")[2] == 0:
            return Stop(Reason.FAULT, cpu.reg("eip"), signal_for_vector(vector), vector,
                        "%s at eip 0x%08x with no IDT loaded"
                        % (vector_name(vector), cpu.reg("eip")))
        if kind == "exception" and vector in ERROR_CODE_VECTORS and error_code is None:
            error_code = 0
        if kind != "exception":
            error_code = None
        try:
            self._push_frame(vector, kind, error_code)
            return None
        except DeliveryFault as first:
            why = first.why
        if vector == 8:
            return self._triple(vector, why)
        try:
            self._push_frame(8, "exception", 0)
            return None
        except DeliveryFault as second:
            return self._triple(vector, "%s; then delivering #DF: %s" % (why, second.why))

    def _triple(self, vector: int, why: str):
        cpu = self.cpu
        regs = " ".join("%s=%08x" % (r, cpu.reg(r)) for r in
                        ("eax", "ecx", "edx", "ebx", "esp", "ebp", "esi", "edi",
                         "eip", "eflags", "cr0", "cr2", "cr3"))
        return Stop(Reason.TRIPLE_FAULT, cpu.reg("eip"), SIGSEGV, vector,
                    "triple fault delivering %s: %s; %s" % (vector_name(vector), why, regs))

    def _push_frame(self, vector: int, kind: str, error_code):
        cpu = self.cpu
        selector, offset, gtype, dpl = self.read_gate(vector)
        cs = cpu.reg("cs")
        cpl = cs & 3
        if kind == "software" and cpl > dpl:
            raise DeliveryFault("int 0x%02x from CPL %d to a DPL %d gate" % (vector, cpl, dpl))
        eflags = cpu.reg("eflags")
        eip = cpu.reg("eip")
        esp = cpu.reg("esp")
        target_rpl = selector & 3
        frame = []
        new_ss = None
        if target_rpl < cpl:
            # Privilege change: stack from the TSS (ring 0 fields).
            _, tss_base, tss_limit, _ = cpu.reg("tr")
            if tss_limit < 9:
                raise DeliveryFault("privilege change with no valid TSS")
            try:
                esp0, ss0 = struct.unpack("<IH", cpu.read_memory(tss_base + 4, 6))
            except MemoryFault as e:
                raise DeliveryFault("TSS at 0x%08x not mapped" % e.addr)
            frame += [cpu.reg("ss"), esp]
            new_ss = ss0
            esp = esp0
        frame += [eflags, cs, eip]
        if error_code is not None:
            frame.append(error_code & 0xFFFFFFFF)
        new_esp = (esp - 4 * len(frame)) & 0xFFFFFFFF
        data = struct.pack("<%dI" % len(frame), *reversed(frame))
        try:
            cpu.write_memory(new_esp, data)
        except MemoryFault as e:
            raise DeliveryFault("stack at 0x%08x not mapped while pushing the "
                                "frame for %s" % (e.addr, vector_name(vector)))
        new_flags = eflags & ~(EFLAGS_TF | EFLAGS_NT | EFLAGS_RF | EFLAGS_VM)
        if gtype == GATE_INTR32:
            new_flags &= ~EFLAGS_IF
        if new_ss is not None:
            cpu.set_reg("ss", new_ss)
        cpu.set_reg("esp", new_esp)
        cpu.set_reg("eflags", new_flags)
        if selector != cs:
            cpu.set_reg("cs", selector)
        cpu.set_reg("eip", offset)
        self.delivered += 1
