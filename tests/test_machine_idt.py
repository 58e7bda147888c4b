"""IDT delivery done by the machine: frames, IF handling, error codes, CR2,
#DF and triple faults.  Snippets are keystone-assembled into a tiny booted
multiboot kernel's RAM."""
import struct

import pytest

from machine import Machine
from machine.testkit import build_kernel, asm

CODE = 0x200000
HANDLERS = 0x210000
STACK = 0x280000
IDTR_AT = 0x2FF000
IDT = 0x300000
PGDIR = 0x380000


@pytest.fixture(scope="module")
def kernel(tmp_path_factory):
    return build_kernel(tmp_path_factory.mktemp("idt"), "1: hlt\n jmp 1b\n")


def gate(offset, sel=0x08, gtype=0xE, dpl=0, present=1):
    lo = (offset & 0xFFFF) | (sel << 16)
    hi = (offset & 0xFFFF0000) | (present << 15) | (dpl << 13) | (gtype << 8)
    return struct.pack("<II", lo, hi)


def handler_addr(vector):
    return HANDLERS + vector * 0x10


def setup(m, code, gates=None, limit=256 * 8 - 1, handler_code="iretd"):
    """Load an IDT with gates {vector: gtype} (handler i at handler_addr(i)),
    then the snippet at CODE (which must start with `lidt`)."""
    m.write_phys(IDTR_AT, struct.pack("<HI", limit, IDT))
    if gates is None:
        gates = {v: 0xE for v in range(256)}
    for v in range(256):
        if v in gates:
            m.write_phys(IDT + 8 * v, gate(handler_addr(v), gtype=gates[v]))
            m.write_phys(handler_addr(v), asm(handler_code, handler_addr(v)))
    prologue = "lidt [0x%x]; mov esp, 0x%x; " % (IDTR_AT, STACK)
    blob = asm(prologue + code, CODE)
    m.write_phys(CODE, blob)
    m.write_register("eip", CODE)
    return blob


def label(m, code, marker):
    """Address of the instruction after `prologue + code[:marker]`."""
    prologue = "lidt [0x%x]; mov esp, 0x%x; " % (IDTR_AT, STACK)
    return CODE + len(asm(prologue + code[:code.index(marker)], CODE))


def u32s(m, addr, n):
    return struct.unpack("<%dI" % n, m.read_memory(addr, 4 * n))


def run_to_handler(m, vector, budget=10000):
    m.add_breakpoint(handler_addr(vector))
    stop = m.cont(budget)
    assert stop.reason == "breakpoint", stop
    assert stop.pc == handler_addr(vector)
    return stop


@pytest.mark.parametrize("gtype, if_after", [(0xE, 0), (0xF, 1)])
def test_int_n_frame_and_if(kernel, gtype, if_after):
    m = Machine(kernel)
    code = "sti; int 0x30; AFTER: jmp AFTER"
    setup(m, code, {0x30: gtype})
    after = label(m, code, "AFTER")
    run_to_handler(m, 0x30)
    esp = m.read_register("esp")
    assert esp == STACK - 12
    eip, cs, eflags = u32s(m, esp, 3)
    assert eip == after and cs == 0x08 and eflags & 0x200
    assert (m.read_register("eflags") >> 9) & 1 == if_after
    # iret returns to the instruction after int
    m.add_breakpoint(after)
    stop = m.cont(100)
    assert stop.reason == "breakpoint" and stop.pc == after
    assert m.read_register("esp") == STACK
    assert m.read_register("eflags") & 0x200


def test_ud2_pushes_faulting_eip(kernel):
    m = Machine(kernel)
    code = "nop; UD: ud2"
    setup(m, code)
    run_to_handler(m, 6)
    esp = m.read_register("esp")
    assert esp == STACK - 12
    assert u32s(m, esp, 1)[0] == label(m, code, "UD")


def test_divide_error(kernel):
    m = Machine(kernel)
    code = "xor ecx, ecx; mov eax, 7; DIV: div ecx"
    setup(m, code)
    run_to_handler(m, 0)
    assert u32s(m, m.read_register("esp"), 1)[0] == label(m, code, "DIV")


def test_int3_is_a_trap(kernel):
    m = Machine(kernel)
    code = "int3; AFTER: nop"
    setup(m, code)
    run_to_handler(m, 3)
    assert u32s(m, m.read_register("esp"), 1)[0] == label(m, code, "AFTER")


PAGING_ON = ("mov eax, 0x%x; mov cr3, eax; mov eax, cr4; or eax, 0x10; mov cr4, eax; "
             "mov eax, cr0; or eax, 0x80000000; mov cr0, eax; " % PGDIR)


def identity_4m(m):
    m.write_phys(PGDIR, struct.pack("<I", 0x00000083))   # 0-4 MiB, PSE, RW


@pytest.mark.parametrize("setup_code, access, errcode, cr2", [
    ("nop", "mov dword ptr [0x800010], 1", 0b010, 0x800010),   # write, not present
    ("nop", "mov eax, dword ptr [0x800020]", 0b000, 0x800020),  # read, not present
    ("mov edi, 0x800040", "stosd", 0b010, 0x800040),            # implicit write
    ("nop", "push dword ptr [0x800044]", 0b000, 0x800044),      # read by a push
])
def test_page_fault_error_code_and_cr2(kernel, setup_code, access, errcode, cr2):
    m = Machine(kernel)
    identity_4m(m)
    code = PAGING_ON + setup_code + "; FAULT: " + access
    setup(m, code)
    run_to_handler(m, 14)
    esp = m.read_register("esp")
    err, eip, cs, _ = u32s(m, esp, 4)
    assert err == errcode
    assert eip == label(m, code, "FAULT")
    assert cs == 0x08
    assert m.read_register("cr2") == cr2
    # CR2 survives the machine's own stops and restarts (unicorn used to
    # clobber it when probing its `until` address)
    for _ in range(5):
        m.step()
        m.cont(1)
    assert m.read_register("cr2") == cr2


def test_write_to_readonly_page_sets_p_bit(kernel):
    m = Machine(kernel)
    # 0-4 MiB identity RW; 4-8 MiB through a page table, page 0x400000 read-only
    m.write_phys(PGDIR, struct.pack("<II", 0x83, (PGDIR + 0x1000) | 3))
    m.write_phys(PGDIR + 0x1000, struct.pack("<I", 0x400000 | 1))
    code = PAGING_ON + "mov eax, cr0; or eax, 0x10000; mov cr0, eax; " \
                       "mov eax, [0x400000]; FAULT: mov [0x400004], eax"
    setup(m, code)
    run_to_handler(m, 14)
    err, eip = u32s(m, m.read_register("esp"), 2)
    assert err == 0b011 and eip == label(m, code, "FAULT")


def test_instruction_fetch_fault(kernel):
    m = Machine(kernel)
    identity_4m(m)
    code = PAGING_ON + "mov eax, 0x900000; jmp eax"
    setup(m, code)
    run_to_handler(m, 14)
    err, eip = u32s(m, m.read_register("esp"), 2)
    assert eip == 0x900000 and err == 0 and m.read_register("cr2") == 0x900000


def test_missing_gate_becomes_double_fault(kernel):
    m = Machine(kernel)
    code = "int 0x30"
    setup(m, code, {8: 0xE})           # only #DF is present
    run_to_handler(m, 8)
    assert u32s(m, m.read_register("esp"), 1)[0] == 0    # #DF error code


def test_unmapped_stack_becomes_double_fault(kernel):
    m = Machine(kernel)
    identity_4m(m)
    code = PAGING_ON + "mov esp, 0x900000; ud2"
    setup(m, code, {6: 0xE, 8: 0xE})
    # #DF's own push would also fault (same stack): triple fault
    stop = m.cont(10000)
    assert stop.reason == "triple_fault"
    assert stop.vector == 6
    assert "esp=00900000" in stop.detail


def test_triple_fault(kernel):
    m = Machine(kernel)
    code = "mov eax, 0x1234; int 0x30"
    setup(m, code, {})                 # IDT loaded, every gate absent
    stop = m.cont(10000)
    assert stop.reason == "triple_fault"
    assert stop.vector == 0x30 and stop.signal == 11
    assert "eax=00001234" in stop.detail and "triple fault" in stop.detail


def test_fault_with_no_idt_is_reported(kernel):
    m = Machine(kernel)
    blob = asm("nop; ud2", CODE)
    m.write_phys(CODE, blob)
    m.write_register("eip", CODE)
    stop = m.cont(100)
    assert stop.reason == "fault" and stop.vector == 6 and stop.signal == 4
    assert stop.pc == CODE + 1


def test_step_into_int_lands_in_handler(kernel):
    m = Machine(kernel)
    code = "int 0x30"
    setup(m, code)
    m.step()
    m.step()                            # lidt, mov esp
    before = m.icount
    stop = m.step()
    assert stop.reason == "step" and stop.pc == handler_addr(0x30)
    assert m.icount == before + 1
