"""What unicorn does not say about a fault, decoded from the instruction's
bytes with capstone (no unicorn: bytes and register values in).

  pf_is_write(code, eip, cr2, reg) -> bool
      was the #PF access a write (the W bit of its error code)?
  selector_error_code(code, eip, reg, read_memory) -> int
      the error code of #TS/#NP/#SS/#GP for a segment register load
  is_rep_string(code, eip) -> bool
      a rep/repne-prefixed string instruction (unicorn runs one iteration
      per pass through it)
  disassemble(code, vaddr, count) -> str

`code` is up to 16 bytes read at eip (b"" when the fetch itself faulted);
`reg(name)` reads a 32-bit register by name ("eax", "esp"...);
`read_memory(vaddr, n)` reads guest memory or raises MemoryFault.
"""
import struct
import threading

import capstone
from capstone import x86 as cs_x86

from .errors import MemoryFault

_local = threading.local()      # a capstone handle per thread (machines may run in several)

SEG_REGS = frozenset(("cs", "ds", "es", "fs", "gs", "ss"))
_WIDE = {"ax": "eax", "bx": "ebx", "cx": "ecx", "dx": "edx",
         "si": "esi", "di": "edi", "bp": "ebp", "sp": "esp"}
_GPR32 = frozenset(("eax", "ecx", "edx", "ebx", "esp", "ebp", "esi", "edi"))
_STRING_OPS = ("movs", "stos", "lods", "cmps", "scas", "ins", "outs")


def _first(code, eip):
    md = getattr(_local, "md", None)    # dynamic: made on a thread's first use
    if md is None:
        md = _local.md = capstone.Cs(capstone.CS_ARCH_X86, capstone.CS_MODE_32)
        md.detail = True
    for insn in md.disasm(code, eip, 1):
        return insn
    return None


def pf_is_write(code: bytes, eip: int, cr2: int, reg) -> bool:
    """A memory operand the instruction writes, or an implicit stack write
    (push, call, enter, int) that lands near esp; an instruction fetch fault
    (no code) is a read."""
    insn = _first(code, eip)
    if insn is None:
        return False
    m = insn.mnemonic
    if m.startswith(("push", "call", "enter", "int")):
        # the implicit stack write faulted, or else an operand read
        return 0 < ((reg("esp") - cr2) & 0xFFFFFFFF) <= 64
    if m.startswith("stos"):
        return True
    if m.startswith("movs"):
        return (cr2 >> 12) == (reg("edi") >> 12)
    return any(op.type == cs_x86.X86_OP_MEM and op.access & capstone.CS_AC_WRITE
               for op in insn.operands)


def selector_error_code(code: bytes, eip: int, reg, read_memory) -> int:
    """For `mov sreg, r16/r32` and `pop sreg`: the selector loaded, with RPL
    cleared; otherwise 0."""
    insn = _first(code, eip)
    if insn is None:
        return 0
    ops = insn.operands
    if len(ops) < 1 or ops[0].type != cs_x86.X86_OP_REG or \
            insn.reg_name(ops[0].reg) not in SEG_REGS:
        return 0
    if insn.mnemonic == "mov" and len(ops) == 2 and ops[1].type == cs_x86.X86_OP_REG:
        name = insn.reg_name(ops[1].reg)
        name = name if name in _GPR32 else _WIDE.get(name)
        return reg(name) & 0xFFFC if name else 0
    if insn.mnemonic == "pop" and len(ops) == 1:
        try:
            return struct.unpack("<I", read_memory(reg("esp"), 4))[0] & 0xFFFC
        except MemoryFault:
            return 0
    return 0


def is_rep_string(code: bytes, eip: int) -> bool:
    insn = _first(code, eip)
    return (insn is not None and bool(set(insn.prefix) & {0xF2, 0xF3})
            and insn.mnemonic.split()[-1].startswith(_STRING_OPS))


def disassemble(code: bytes, vaddr: int, count: int) -> str:
    """One line per instruction: `0xADDRESS: mnemonic operands`."""
    md = capstone.Cs(capstone.CS_ARCH_X86, capstone.CS_MODE_32)
    return "\n".join("0x%08x: %s %s" % (i.address, i.mnemonic, i.op_str)
                     for i in md.disasm(code, vaddr, count))
