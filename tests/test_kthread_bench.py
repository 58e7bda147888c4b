"""The kernel's kthread_bench= boot option (kernel_src/kernel/kthread_bench.c, the
workload of bench/bench_vs_qemu.py), on the machine without gdb: init creates,
waits for and stops N kthreads one after another; without the option it does
nothing."""
import pytest

from machine import Machine
from machine.kbuild import ensure_kernel

BUDGET = 100_000_000


@pytest.fixture(scope="module")
def kernel():
    return ensure_kernel()


def boot(kernel, cmdline):
    m = Machine(kernel, cmdline=cmdline)
    while b"init: boot complete" not in m.console_output and m.icount < BUDGET:
        m.cont(1_000_000)
    return m.console_output.decode(errors="replace").replace("\r\n", "\n")


def test_kthread_bench_creates_and_stops_n_kthreads(kernel):
    out = boot(kernel, "kthread_bench=25")
    assert "kthread_bench: 25 of 25 kthreads created and stopped\n" in out, out[-2000:]
    assert out.index("kthread_bench: 25") < out.index("init: boot complete")
    for i in (0, 24):
        assert "kthread_stop: kbench/%d pid " % i in out
        assert "returned %d\n" % i in out.split("kthread_stop: kbench/%d pid " % i)[1][:40]


def test_no_option_no_workload(kernel):
    out = boot(kernel, "")
    assert "init: boot complete" in out
    assert "kthread_bench" not in out and "kbench/" not in out
