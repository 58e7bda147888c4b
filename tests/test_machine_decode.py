"""Fault decoding (machine/decode.py) on assembled instructions, no unicorn:
the W bit of a #PF error code, the selector of a #GP on a segment load, rep
string instructions."""
import struct

import pytest

from machine import decode
from machine.errors import MemoryFault
from machine.testkit import asm

EIP = 0xC0100000
REGS = {"eax": 0x10, "ebx": 0x2B, "ecx": 3, "edx": 0, "esi": 0x1000,
        "edi": 0x5000, "ebp": 0, "esp": 0x9000}


def reg(name):
    return REGS[name]


@pytest.mark.parametrize("src, cr2, write", [
    ("mov dword ptr [eax], ebx", 0x10, True),
    ("mov ebx, dword ptr [eax]", 0x10, False),
    ("add dword ptr [eax], 1", 0x10, True),        # read-modify-write
    ("push eax", 0x8FFC, True),                    # implicit stack write
    ("push dword ptr [eax]", 0x10, False),         # its operand read faulted
    ("call 0xc0100100", 0x8FFC, True),
    ("rep stosd", 0x5000, True),
    ("movsb", 0x5000, True),                       # the edi side
    ("movsb", 0x1000, False),                      # the esi side
    ("cmp eax, dword ptr [ebx]", 0x2B, False),
])
def test_pf_is_write(src, cr2, write):
    assert decode.pf_is_write(asm(src, EIP), EIP, cr2, reg) is write


def test_pf_on_instruction_fetch_is_a_read():
    assert decode.pf_is_write(b"", EIP, EIP, reg) is False


def _no_memory(vaddr, n):
    raise MemoryFault(vaddr)


@pytest.mark.parametrize("src, code", [
    ("mov ds, ebx", 0x28),                         # RPL 3 cleared
    ("mov es, bx", 0x28),
    ("mov fs, ax", 0x10),
    ("mov eax, ebx", 0),                           # not a segment load
    ("mov ds, word ptr [eax]", 0),                 # from memory: unknown
])
def test_selector_error_code_of_moves(src, code):
    assert decode.selector_error_code(asm(src, EIP), EIP, reg, _no_memory) == code


def test_selector_error_code_of_pop():
    stack = {0x9000: struct.pack("<I", 0x1B)}
    code = asm("pop ds", EIP)
    assert decode.selector_error_code(code, EIP, reg, lambda a, n: stack[a]) == 0x18
    assert decode.selector_error_code(code, EIP, reg, _no_memory) == 0


@pytest.mark.parametrize("src, rep", [
    (b"\xf3\xa5", True),                  # rep movsd (keystone reads movsd as SSE)
    ("repne scasb", True), ("rep stosb", True),
    (b"\xa5", False),                      # movsd
    ("rep ret", False), ("nop", False),
])
def test_is_rep_string(src, rep):
    code = src if isinstance(src, bytes) else asm(src, EIP)
    assert decode.is_rep_string(code, EIP) is rep
    assert decode.is_rep_string(b"", EIP) is False


def test_disassemble():
    code = asm("push ebp; mov ebp, esp", EIP)
    assert decode.disassemble(code, EIP, 2) == (
        "0xc0100000: push ebp\n0xc0100001: mov ebp, esp")
