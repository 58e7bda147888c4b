"""Watchpoints exact for every length, alignment and kind (machine/watch.py).

A tiny paged kernel makes accesses of every width (1, 2, 4, 8 bytes, `rep movsb`,
unaligned, crossing a page into a physically distant page, and through a second
mapping of the same physical page) around a data area; for watchpoints of each
kind, length and offset over that area, the stops must be exactly the accesses
that overlap the watched bytes, each reported after its instruction.
unicorn calls a memory hook only when an access STARTS in the hooked range, so
before watch.py widened its hooks most of these were missed.
"""
import pytest

from machine import Machine
from machine.history import TimeMachine
from machine.testkit import PAGING_ON, build_kernel, symbols

# virtual 0x400000 -> physical 0x500000 (page A), 0x401000 -> 0x600000 (page B),
# 0x402000 -> 0x500000 again (a second mapping of page A)
AREA = 0x400FE0
ALIAS = 0x2000          # AREA + x and AREA + ALIAS + x are the same physical byte

BODY = r"""
    mov $pgdir, %eax
    mov $pt, %ecx
    or $3, %ecx
    mov %ecx, 4(%eax)
    movl $0x83, (%eax)
    movl $0x00500003, pt + 0*4
    movl $0x00600003, pt + 1*4
    movl $0x00500003, pt + 2*4
""" + PAGING_ON + r"""
    mov $0x90000, %esp
    mov $0x400800, %esi
    mov $0x400ff6, %edi
    mov $5, %ecx
    cld
    mov $0x11223344, %eax
a1: movl $0x11223344, 0x400fe0
a2: movl 0x400fe1, %eax
a3: movw %ax, 0x400fe6
a4: movb 0x400fe9, %al
a5: fildll 0x400fec
a6: fistpll 0x400ff0
a7: rep movsb
a8: movl %eax, 0x400ffe
a9: movl 0x400ffd, %eax
a10: movl %eax, 0x402fe4
a11: movw 0x402fea, %ax
a12: movl 0x401000, %eax
end: jmp end
    .data
    .align 4096
pgdir:
    .fill 1024, 4, 0
pt:
    .fill 1024, 4, 0
"""

# (label, 'r' or 'w', virtual address, size, rounds); the stop after each
# access is at the next label, after each round of a `rep` at the `rep` itself
# (unicorn runs it once more with ecx == 0, a separate instruction here)
ACCESSES = [
    ("a1", "w", 0x400FE0, 4, 1),
    ("a2", "r", 0x400FE1, 4, 1),
    ("a3", "w", 0x400FE6, 2, 1),
    ("a4", "r", 0x400FE9, 1, 1),
    ("a5", "r", 0x400FEC, 8, 1),
    ("a6", "w", 0x400FF0, 8, 1),
    ("a7", "w", 0x400FF6, 1, 5),            # rep movsb: one byte a round, upwards
    ("a8", "w", 0x400FFE, 4, 1),            # crosses into page B
    ("a9", "r", 0x400FFD, 4, 1),            # crosses into page B
    ("a10", "w", 0x402FE4, 4, 1),           # page A through its second mapping
    ("a11", "r", 0x402FEA, 2, 1),
    ("a12", "r", 0x401000, 4, 1),
]
ORDER = [a[0] for a in ACCESSES] + ["end"]


@pytest.fixture(scope="module")
def machine(tmp_path_factory):
    path = build_kernel(tmp_path_factory.mktemp("watch"), BODY, name="watch")
    return TimeMachine(Machine(path, ram_mb=8)), symbols(path)


def expected_stops(sym, kind, va, length):
    out = []
    for label, rw, a, size, rounds in ACCESSES:
        if rw == "r" and kind == "watch" or rw == "w" and kind == "rwatch":
            continue
        if a >= AREA + ALIAS:
            a -= ALIAS                      # the same physical bytes
        for i in range(rounds):
            lo = a + i
            if lo < va + length and va < lo + size:
                out.append(sym[label] if rounds > 1 else sym[ORDER[ORDER.index(label) + 1]])
    return out


def stops(tm, sym, kind, va, length):
    tm.restart()
    tm.add_breakpoint(sym["a1"])
    assert tm.cont(1000).reason == "breakpoint"
    tm.remove_breakpoint(sym["a1"])
    tm.add_watchpoint(kind, va, length)
    got = []
    try:
        for _ in range(50):
            s = tm.cont(200)
            if s.reason != "watchpoint":
                assert s.reason == "limit" and s.pc == sym["end"], s
                return got
            assert s.watch == (kind, va)
            got.append(s.pc)
        raise AssertionError("too many stops: %r" % got)
    finally:
        tm.remove_watchpoint(kind, va, length)


@pytest.mark.parametrize("kind", ["watch", "rwatch", "awatch"])
@pytest.mark.parametrize("length", [1, 2, 4, 8, 12])
def test_every_overlapping_access_stops(machine, kind, length):
    tm, sym = machine
    for va in range(AREA - 8, AREA + 0x28):
        want = expected_stops(sym, kind, va, length)
        got = stops(tm, sym, kind, va, length)
        assert got == want, "%s 0x%x len %d: stops %s, want %s" % (
            kind, va, length, [hex(p) for p in got], [hex(p) for p in want])


def test_model_covers_each_kind_of_access(machine):
    """The table above is what the code does: every access stops an awatch
    on its own bytes, and the cases named in the docstring occur."""
    tm, sym = machine
    assert stops(tm, sym, "awatch", 0x401000, 1) == [sym["a9"], sym["a10"], sym["end"]]
    assert stops(tm, sym, "watch", AREA + 1, 1) == [sym["a2"]]      # a 4-byte write at +0
    assert stops(tm, sym, "watch", AREA + 5, 1) == [sym["a11"]]     # the second mapping
    assert stops(tm, sym, "watch", AREA + 0x18, 1) == [sym["a7"]]   # rep movsb's third round
    assert stops(tm, sym, "rwatch", AREA + 0xF, 1) == [sym["a6"]]   # an 8-byte read
