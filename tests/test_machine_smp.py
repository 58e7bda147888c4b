"""More than one CPU on the machine (issue 17): the MP table, AP start-up by
INIT/STARTUP in real mode, one RAM, deterministic quanta, --sched-seed.
The guest is testkit's tiny SMP kernel (build_smp_os): every CPU adds to a
shared counter, with a spinlock or (the planted race) without."""
import random

import pytest

from machine import Machine, smp
from machine.mptable import FLOATING_AT
from machine.testkit import build_smp_os, symbols

NITER = 3000


@pytest.fixture(scope="module")
def kernels(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("smp")
    return {(n, locked): build_smp_os(tmp, n, locked, NITER)
            for n in (2, 4) for locked in (True, False)}


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


def test_pause_ends_the_turn_of_a_waiting_cpu(kernels):
    """The lock's and the BSP's wait loops `pause`: a CPU that pauses while
    another can run gives up its turn, so the work takes about its own
    instructions (7 per increment) instead of also the turns spent spinning
    (without it: 91,065 here)."""
    box = {}
    m = box["m"] = Machine(kernels[2, True], ram_mb=16, cpus=2,
                           console=lambda data: b"\n" in data and box["m"].request_stop())
    m.cont(50_000_000)
    assert m.console_output == b"%08x\n" % (2 * NITER)
    assert m.icount < 2 * NITER * 7 + 10_000


def test_breakpoints_and_steps_at_pause_keep_the_run(kernels):
    """A breakpoint on a `pause` that ends turns is reported, then the turn
    ends as it would have without it; a step there runs the pause."""
    path = kernels[2, True]

    def finish(bps, step_at_hit=False):
        box, hits = {}, 0
        m = box["m"] = Machine(path, ram_mb=16, cpus=2,
                               console=lambda data: b"\n" in data and box["m"].request_stop())
        for a in bps:
            m.add_breakpoint(a)
        while m.cont(50_000_000).reason == "breakpoint":
            hits += 1
            if step_at_hit:
                pc = m.read_register("eip")
                assert m.step().reason == "step" and m.read_register("eip") != pc
        return bytes(m.console_output), m.icount, hits

    pauses = smp.pause_sites(path)
    assert len(pauses) == 2                     # the lock's spin and the BSP's wait
    plain = finish(())
    with_bps = finish(pauses)
    assert with_bps[:2] == plain[:2] and with_bps[2] > 0
    stepped = finish(pauses, step_at_hit=True)
    assert stepped[0] == plain[0]


def test_select_cpu_is_history(kernels):
    """The debugger making another CPU the running one is recorded: reverse
    execution comes back to it and replays it."""
    from machine.history import TimeMachine
    path = kernels[2, True]
    tm = TimeMachine(Machine(path, ram_mb=16, cpus=2))
    tm.add_breakpoint(symbols(path)["ap32"])
    assert tm.cont(5_000_000).reason == "breakpoint" and tm.cpu == 1
    with tm.on_cpu(0):
        eip0 = tm.read_register("eip")
    tm.select_cpu(0)
    assert tm.cpu == 0 and tm.read_register("eip") == eip0
    tm.step()
    after = (tm.icount, tm.cpu, tm.read_register("eip"))
    tm.reverse_step()
    assert (tm.cpu, tm.read_register("eip")) == (0, eip0)
    tm.step()
    assert (tm.icount, tm.cpu, tm.read_register("eip")) == after
    with pytest.raises(ValueError):
        Machine(path, ram_mb=16, cpus=2).select_cpu(1)      # waits for STARTUP


def test_watchpoint_sees_every_cpu(kernels):
    """A watchpoint hooks every CPU's engine: set while CPU 0 runs, it stops
    the machine at CPU 1's writes to the shared counter too."""
    from machine.history import TimeMachine
    path = kernels[2, False]
    tm = TimeMachine(Machine(path, ram_mb=16, cpus=2, quantum=1_000))
    assert tm.cpu == 0
    tm.add_watchpoint("watch", symbols(path)["counter"], 4)
    cpus = []
    while 1 not in cpus and len(cpus) < 1000:
        assert tm.cont(200_000).reason == "watchpoint"
        cpus.append(tm.cpu)
    assert 1 in cpus and cpus[0] == 0


def boot(kernel, cpus):
    """Console and icount at `init: boot complete` on `cpus` CPUs."""
    box = {}

    def console(_data):
        if b"init: boot complete" in box["m"].console_output:
            box["m"].request_stop()
    m = box["m"] = Machine(kernel, cpus=cpus, console=console)
    while b"init: boot complete" not in m.console_output and m.icount < 500_000_000:
        m.cont(50_000_000)
    return bytes(m.console_output), m.icount


@pytest.mark.parametrize("n", [2, 4])
def test_the_kernel_boots_on_every_cpu_the_same_twice(n):
    """The SMP kernel on --cpus N: every AP comes online, and two boots agree
    byte for byte on the console and on the icount."""
    from machine.kbuild import ensure_kernel
    kernel = ensure_kernel()
    first = boot(kernel, n)
    assert b"smpboot: %d CPUs online" % n in first[0]
    assert first[0].rstrip().endswith(b"init: boot complete")
    assert boot(kernel, n) == first
