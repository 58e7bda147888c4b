"""More than one CPU on the machine (issue 17): the MP table, AP start-up by
INIT/STARTUP in real mode, one RAM, deterministic quanta, --sched-seed.

The guest is a tiny kernel: the BSP copies a 16-bit trampoline to 0x9000,
starts each AP with INIT + STARTUP (vector 9), and every CPU adds 1 to a
shared counter NITER times, under a `lock bts` spinlock (or, for the planted
race, without it); the BSP waits for all, prints the counter in hex, halts.
"""
import random

import pytest

from machine import Machine
from machine.mptable import FLOATING_AT
from machine.testkit import build_kernel, symbols

NITER = 3000

SMP_OS = r"""
    mov $0x90000, %esp
    movl $0x1ff, 0xfee000f0             # APIC software enable
    mov $tramp, %esi
    mov $0x9000, %edi
    mov $(tramp_end - tramp), %ecx
    rep movsb
    mov $1, %ebx
start_ap:
    cmp ncpus, %ebx
    jae worker
    mov %ebx, %eax
    shl $24, %eax
    mov %eax, 0xfee00310                # destination
    movl $0xc500, 0xfee00300            # INIT, level assert
    movl $0x8500, 0xfee00300            # INIT, level de-assert
    movl $0x0609, 0xfee00300            # STARTUP, vector 9: 0900:0000
    inc %ebx
    jmp start_ap

worker:
    mov $NITER, %ecx
1:  ACQUIRE
    mov counter, %eax
    inc %eax
    mov %eax, counter
    RELEASE
    loop 1b
    lock incl finished
    mov 0xfee00020, %eax                # APIC id: 0 is the BSP
    shr $24, %eax
    jnz ap_done
2:  pause
    mov finished, %eax
    cmp ncpus, %eax
    jb 2b
    mov counter, %ebx
    mov $8, %ecx
    mov $0x3f8, %dx
3:  rol $4, %ebx
    mov %ebx, %eax
    and $0xf, %eax
    mov hexdigits(%eax), %al
    out %al, %dx
    loop 3b
    mov $'\n', %al
    out %al, %dx
ap_done:
    cli
    hlt
    jmp ap_done

    .code16
tramp:
    cli
    lgdtl %cs:gdtdesc - tramp
    mov %cr0, %eax
    or $1, %eax
    mov %eax, %cr0
    ljmpl $0x08, $ap32
    .align 4
gdtdesc:
    .word 23
    .long 0x7000                        # the loader's flat GDT
tramp_end:
    .code32
ap32:
    mov $0x10, %ax
    mov %ax, %ds
    mov %ax, %es
    mov %ax, %ss
    mov 0xfee00020, %eax
    shr $24, %eax
    shl $12, %eax
    mov $0x80000, %esp
    sub %eax, %esp                      # a stack per AP
    movl $0x1ff, 0xfee000f0
    jmp worker
"""

LOCKED = ("""5:  lock btsl $0, lock
    jnc 6f
    pause
    jmp 5b
6:""", "movl $0, lock")

SMP_DATA = r"""
ncpus:  .long NCPUS
counter: .long 0
lock:   .long 0
finished: .long 0
hexdigits: .ascii "0123456789abcdef"
"""


@pytest.fixture(scope="module")
def kernels(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("smp")
    out = {}
    for n in (2, 4):
        for locked in (True, False):
            acquire, release = LOCKED if locked else ("", "")
            body = (SMP_OS.replace("ACQUIRE", acquire).replace("RELEASE", release)
                    .replace("NITER", str(NITER)))
            name = "smp%d_%s" % (n, "lock" if locked else "race")
            out[n, locked] = build_kernel(tmp, body, SMP_DATA.replace("NCPUS", str(n)),
                                          name=name)
    return out


def run(path, cpus, **kw):
    m = Machine(path, ram_mb=16, cpus=cpus, **kw)
    stop = m.cont(50_000_000)
    return m, stop


@pytest.mark.parametrize("n", [2, 4])
def test_every_ap_starts_and_the_lock_holds(kernels, n):
    m, stop = run(kernels[n, True], n)
    assert m.console_output == b"%08x\n" % (n * NITER)
    assert stop.reason == "limit"


def test_same_machine_same_run(kernels):
    """Two boots of --cpus 4: console, icount and every CPU's registers equal."""
    runs = []
    for _ in range(2):
        m = Machine(kernels[4, True], ram_mb=16, cpus=4)
        m.cont(2_000_000)
        runs.append((bytes(m.console_output), m.icount, m.cpu,
                     m.read_registers(["eax", "ecx", "eip", "esp"])))
    assert runs[0] == runs[1]


def test_slices_do_not_change_the_run(kernels):
    whole = Machine(kernels[2, False], ram_mb=16, cpus=2)
    whole.cont(1_500_000)
    cut = Machine(kernels[2, False], ram_mb=16, cpus=2)
    rnd = random.Random(7)
    while cut.icount < 1_500_000:
        cut.cont(min(rnd.randrange(1, 40_000), 1_500_000 - cut.icount))
    assert (cut.icount, cut.cpu, cut.read_registers(["eax", "ecx", "eip"])) == \
        (whole.icount, whole.cpu, whole.read_registers(["eax", "ecx", "eip"]))
    assert cut.read_phys(symbols(kernels[2, False])["counter"], 4) == \
        whole.read_phys(symbols(kernels[2, False])["counter"], 4)


def test_planted_race_depends_on_the_seed_and_repeats(kernels):
    """Without the lock, updates are lost where a quantum ends between the
    load and the store: which ones is decided by --sched-seed alone."""
    seen = {}
    for seed in range(1, 9):
        counts = {bytes(run(kernels[2, False], 2, sched_seed=seed)[0].console_output)
                  for _ in range(2)}
        assert len(counts) == 1                 # the same seed repeats exactly
        seen[seed] = counts.pop()
    assert len(set(seen.values())) > 1          # other seeds, other interleavings
    assert any(int(v, 16) < 2 * NITER for v in seen.values())     # updates lost


def test_breakpoint_stops_the_cpu_that_hits_it(kernels):
    path = kernels[2, True]
    m = Machine(path, ram_mb=16, cpus=2)
    ap32 = symbols(path)["ap32"]
    m.add_breakpoint(ap32)
    stop = m.cont(5_000_000)
    assert stop.reason == "breakpoint" and stop.pc == ap32 and m.cpu == 1
    assert m.read_register("cr0") & 1           # the trampoline turned PE on
    m.remove_breakpoint(ap32)
    m.cont(50_000_000)
    assert m.console_output == b"%08x\n" % (2 * NITER)


def test_snapshot_restore_across_cpus(kernels):
    path = kernels[2, False]
    m = Machine(path, ram_mb=16, cpus=2, sched_seed=3)
    m.cont(400_000)
    snap = m.snapshot()
    m.cont(50_000_000)
    first = (bytes(m.console_output), m.icount)
    m.restore(snap)
    m.cont(50_000_000)
    assert (bytes(m.console_output), m.icount) == first


def test_mp_table_only_with_more_than_one_cpu(kernels):
    one = Machine(kernels[2, True], ram_mb=16)
    assert one.ncpus == 1 and b"_MP_" not in one.read_phys(0xF0000, 0x10000)
    two = Machine(kernels[2, True], ram_mb=16, cpus=2)
    assert two.read_phys(FLOATING_AT, 4) == b"_MP_"


@pytest.mark.parametrize("kw", [{"cpus": 0}, {"cpus": 5}, {"cpus": 2, "quantum": 0}])
def test_bad_cpu_arguments(kernels, kw):
    with pytest.raises(ValueError):
        Machine(kernels[2, True], ram_mb=16, **kw)
