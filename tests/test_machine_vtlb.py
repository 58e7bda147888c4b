"""The virtual TLB (machine/_mmu.c, machine/mmu.py): the guest's page walk as
a native TLB fill hook that leaves pages without code non-executable, so
stores to them skip unicorn's slow path.  It must be invisible to the guest:
the same trajectory, page-table bits, faults (CR2, error code, icount) and
self-modifying code as unicorn's own walker (Machine(tlb="cpu"))."""
import hashlib
import struct

import pytest
from unicorn import Uc, UcError, UC_ARCH_X86, UC_MODE_32, UC_PROT_ALL, UC_HOOK_INTR
from unicorn import x86_const as X

from machine import Machine
from machine.memory import GuestMemory
from machine.mmu import VirtualTlb
from machine.testkit import symbols

# ------------------------------------------------------ unicorn alone, i386 paging
CODE, PD, PT = 0x10000, 0x100000, 0x101000
DATA, ALIAS = 0x200000, 0x400000         # ALIAS: a second mapping of the page at CODE2
CODE2, STACK = 0x20000, 0x300000
P, RW, A, D, PS = 0x1, 0x2, 0x20, 0x40, 0x80


def guest(virtual, prog, ptes=(), pdes=(), cr0=0x80010001, cr4=0):
    """8 MiB of RAM; page tables that map the first 8 MiB 1:1 with 4 KiB
    pages (present, writable, A and D clear), changed by `ptes` ((vaddr,
    entry)) and `pdes` ((index, entry)); `prog` at CODE."""
    mem = GuestMemory(8 << 20)
    uc = Uc(UC_ARCH_X86, UC_MODE_32)
    uc.mem_map_ptr(0, mem.size, UC_PROT_ALL, mem.address)
    mem.ram[CODE:CODE + len(prog)] = prog
    struct.pack_into("<II", mem.ram, PD, PT | P | RW, (PT + 0x1000) | P | RW)
    for i in range(2048):
        struct.pack_into("<I", mem.ram, PT + 4 * i, (i << 12) | P | RW)
    for va, e in ptes:
        struct.pack_into("<I", mem.ram, PT + 4 * (va >> 12), e)
    for i, e in pdes:
        struct.pack_into("<I", mem.ram, PD + 4 * i, e)
    uc.reg_write(X.UC_X86_REG_CR3, PD)
    uc.reg_write(X.UC_X86_REG_CR4, cr4)
    uc.reg_write(X.UC_X86_REG_CR0, cr0)
    uc.reg_write(X.UC_X86_REG_ESP, STACK)
    faults = []

    def intr(uc, intno, _):
        faults.append((intno, uc.reg_read(X.UC_X86_REG_CR2), uc.reg_read(X.UC_X86_REG_EIP)))
        uc.emu_stop()
    uc.hook_add(UC_HOOK_INTR, intr)
    return mem, uc, (VirtualTlb(uc, mem) if virtual else None), faults


def run(virtual, prog, **kw):
    """Run prog to its final hlt the way the machine does: a refused fill is
    run again with unicorn's walker.  Returns (RAM, registers, faults, tlb)."""
    mem, uc, tlb, faults = guest(virtual, prog, **kw)
    eip = CODE
    while True:
        try:
            uc.emu_start(eip, CODE + len(prog) - 1)
        except UcError as e:
            assert tlb is not None and tlb.fallback(e), e
            eip = uc.reg_read(X.UC_X86_REG_EIP)
            continue
        if tlb is not None:
            tlb.resume()
        break
    regs = [uc.reg_read(r) for r in (X.UC_X86_REG_EAX, X.UC_X86_REG_EDI, X.UC_X86_REG_EIP)]
    return bytes(mem.ram), regs, faults, tlb


def movl(addr, imm):
    return b"\xc7\x05" + struct.pack("<II", addr, imm)


def hlt_after(code):
    return code + b"\xf4"


def store_loop(n):
    # mov $n,%ecx; mov $DATA,%esi; 1: mov %eax,(%esi); dec %ecx; jnz 1b
    return hlt_after(b"\xb9" + struct.pack("<I", n) + b"\xbe" + struct.pack("<I", DATA)
                     + b"\x89\x06\x49\x75\xfb")


def test_a_data_page_is_filled_without_exec():
    ram, _, _, tlb = run(True, store_loop(1000))
    _, refused, code_pages = tlb.stats
    assert code_pages == 1 and refused == 0     # the loop's page only
    assert ram == run(False, store_loop(1000))[0]


def test_a_page_that_becomes_code_invalidates_translations_through_an_alias():
    """Write code through ALIAS (a data fill: no EXEC, so later stores skip
    the TB invalidation), run it at CODE2, rewrite it through ALIAS, run it
    again: the new code runs (the TLB was flushed when CODE2 became code)."""
    prog = hlt_after(movl(ALIAS, 0x0001b8) + movl(ALIAS + 4, 0xc300)   # mov $1,%eax; ret
                     + b"\xbb" + struct.pack("<I", CODE2) + b"\xff\xd3"  # call *%ebx
                     + b"\x89\xc7"                                       # mov %eax,%edi
                     + movl(ALIAS, 0x0002b8)                             # mov $2,%eax
                     + b"\xff\xd3")
    kw = dict(ptes=[(ALIAS, CODE2 | P | RW)])
    virtual, cpu = run(True, prog, **kw), run(False, prog, **kw)
    eax, edi, _ = virtual[1]
    assert (edi, eax) == (1, 2)
    assert virtual[:2] == cpu[:2]


def test_accessed_and_dirty_bits_match_unicorns_walker():
    """Reads, then a write, to a 4 KiB page; a read and a write of a 4 MiB
    page (CR4.PSE); a read-only page read: the page tables end the same."""
    prog = hlt_after(b"\xa1" + struct.pack("<I", DATA)               # read: A, no D
                     + b"\xa1" + struct.pack("<I", DATA + 0x1000)
                     + b"\xa3" + struct.pack("<I", DATA + 0x1000)    # write: D
                     + b"\xa1" + struct.pack("<I", 0x800010)          # 4 MiB page, read
                     + b"\xa1" + struct.pack("<I", 0xc00010)          # 4 MiB page, read
                     + b"\xa3" + struct.pack("<I", 0xc00020)          # then written
                     + b"\xa1" + struct.pack("<I", DATA + 0x3000))    # read-only page
    kw = dict(cr4=0x10, pdes=[(2, 0 | P | RW | PS), (3, 0x400000 | P | RW | PS)],
              ptes=[(DATA + 0x3000, (DATA + 0x3000) | P)])
    virtual, cpu = run(True, prog, **kw), run(False, prog, **kw)
    assert virtual[0] == cpu[0] and virtual[1] == cpu[1]
    pde3, = struct.unpack_from("<I", virtual[0], PD + 12)
    pte, = struct.unpack_from("<I", virtual[0], PT + 4 * (DATA >> 12))
    assert pde3 & (A | D) == A | D and pte & (A | D) == A


@pytest.mark.parametrize("cr0, faults", [(0x80010001, True), (0x80000001, False)])
def test_a_ring0_write_to_a_read_only_page_follows_cr0_wp(cr0, faults):
    prog = hlt_after(b"\xa3" + struct.pack("<I", DATA + 0x44))
    kw = dict(cr0=cr0, ptes=[(DATA, DATA | P)])
    virtual, cpu = run(True, prog, **kw), run(False, prog, **kw)
    assert virtual[:3] == cpu[:3]
    assert virtual[2] == ([(14, DATA + 0x44, CODE)] if faults else [])


def test_a_refused_fill_leaves_the_page_fault_to_unicorns_walker():
    """Not present: the hook refuses, emu_start stops before the load with
    the registers before it; run again with unicorn's walker, the #PF has
    the exact CR2 (the hook only sees the page)."""
    prog = hlt_after(b"\x40\x40\xa1" + struct.pack("<I", 0x800123) + b"\x40")
    mem, uc, tlb, faults = guest(True, prog)
    with pytest.raises(UcError) as e:
        uc.emu_start(CODE, CODE + len(prog) - 1)
    assert uc.reg_read(X.UC_X86_REG_EIP) == CODE + 2 and uc.reg_read(X.UC_X86_REG_EAX) == 2
    assert tlb.fallback(e.value) and tlb.began and tlb.stats[1] == 1
    uc.emu_start(CODE + 2, CODE + len(prog) - 1)
    tlb.resume()
    assert faults == [(14, 0x800123, CODE + 2)]
    assert run(True, prog)[1:3] == run(False, prog)[1:3]


# ------------------------------------------------------------- the real kernel
def outcome(m):
    return (m.icount, hashlib.sha256(bytes(m.ram)).hexdigest(), bytes(m.console_output),
            [m.read_register(r) for r in ("eip", "esp", "eax", "cr2", "cr3", "eflags")])


def test_the_kernel_runs_the_same_with_both_tlbs(kernel):
    """1,000 kthreads created and stopped: the same icount, RAM (page-table
    bits included), console and registers at oops_test."""
    at = symbols(kernel)["oops_test"]
    got = {}
    for tlb in ("virtual", "cpu"):
        m = Machine(kernel, cmdline="kthread_bench=1000", tlb=tlb)
        m.add_breakpoint(at)
        assert m.cont().reason == "breakpoint"
        got[tlb] = outcome(m)
    assert got["virtual"] == got["cpu"]
    assert b"kthread_bench" in got["cpu"][2]


def test_two_cpus_run_the_same_with_both_tlbs(kernel):
    """The APs start in real mode (paging off: the hook maps 1:1) from a
    trampoline the BSP copied.  CR2 aside: no page fault happens and the
    hook leaves it 0, while with unicorn's walker CPU 1's CR2 becomes
    non-zero once it idles, depending on how the run is sliced: a walk made
    outside the guest's instructions (unicorn writes CR2 on any failed one)."""
    got = {}
    for tlb in ("virtual", "cpu"):
        m = Machine(kernel, cpus=2, tlb=tlb)
        m.cont(4_000_000)
        got[tlb] = outcome(m)
        got[tlb][3][3] = []
        for k in range(m.ncpus):
            with m.on_cpu(k):
                got[tlb][3][3].append(m.read_register("cr2"))
    assert got["virtual"][3][3] == [0, 0]
    got["cpu"][3][3] = [0, 0]
    assert got["virtual"] == got["cpu"] and b"init: boot complete" in got["cpu"][2]


def faulting(kernel, kind, tlb="virtual", probe=None, bp=None, per_insn=False):
    """oops=kind with exceptions caught: the stops up to the fault, its
    delivery, the console after the oops; `probe`/`bp` at the faulting
    instruction."""
    m = Machine(kernel, cmdline="oops=" + kind, tlb=tlb)
    m.catch_exceptions = True
    if per_insn:
        m.per_instruction_clock(True)
    fired = []
    if probe is not None:
        m.add_probe(probe, lambda va, ic: fired.append(ic))
    if bp is not None:
        m.add_breakpoint(bp)
    stops = []
    for _ in range(3):                      # at most the breakpoint, the fault
        s = m.cont(60_000_000)
        stops.append((s.reason, s.pc, m.icount, s.detail))
        if s.reason != "breakpoint":
            break
    if m.caught_exception is not None:
        stops.append(m.deliver_caught_exception())
        m.cont(2_000_000)
    return stops, fired, outcome(m)


@pytest.mark.parametrize("kind", ["pf", "so"])
def test_page_faults_are_the_same_with_both_tlbs(kernel, kind):
    virtual = faulting(kernel, kind)
    assert virtual == faulting(kernel, kind, tlb="cpu")
    assert virtual[0][0][0] == "fault" and "cr2" in virtual[0][0][3]


@pytest.mark.parametrize("per_insn", [False, True])
def test_a_probe_and_a_breakpoint_on_the_faulting_instruction(kernel, per_insn):
    """The refused instruction runs again: its probe fires once per time it
    begins and its breakpoint stops once, as with unicorn's walker."""
    pc = faulting(kernel, "pf", tlb="cpu")[0][0][1]
    for kw in (dict(probe=pc), dict(bp=pc)):
        virtual = faulting(kernel, "pf", per_insn=per_insn, **kw)
        assert virtual == faulting(kernel, "pf", tlb="cpu", per_insn=per_insn, **kw)
        if "probe" in kw:
            assert len(virtual[1]) == 1
        else:
            assert [s[0] for s in virtual[0][:2]] == ["breakpoint", "fault"]


def test_tlb_mode_is_checked():
    with pytest.raises(ValueError, match="tlb must be one of virtual, cpu"):
        Machine("/nonexistent", tlb="fast")


def test_a_deadline_right_after_a_refused_instruction(kernel):
    """cont(1) onto the faulting store: its rerun with unicorn's walker first
    stops for the clock (a stop armed after the store), which must not hand
    the store back to the hook (it would be refused again, for ever)."""
    _, pc, icount, _ = faulting(kernel, "pf", tlb="cpu")[0][0]
    got = {}
    for tlb in ("virtual", "cpu"):
        m = Machine(kernel, cmdline="oops=pf", tlb=tlb)
        m.catch_exceptions = True
        m.cont(icount - 1)
        assert m.read_register("eip") == pc
        s = m.cont(1)
        got[tlb] = (s.reason, s.pc, m.icount, m.caught_exception, outcome(m))
    assert got["virtual"] == got["cpu"]
    assert got["cpu"][:3] == ("fault", pc, icount)
