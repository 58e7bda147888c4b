"""Guest faults at the machine level: catching exceptions before delivery,
delivering them later, and the unicorn #1883 workaround (machine/excstate.py)
without which the second #PF/#DE/#GP of a run is reported as a double fault."""
import pytest
from unicorn import Uc, UC_ARCH_X86, UC_MODE_32, UC_HOOK_INTR
from unicorn import x86_const as X

from machine import Machine, excstate

BOOT_INSNS = 60_000_000

CASES = {           # kind: (vector, signal, error code)
    "de": (0, 8, None),
    "ud": (6, 4, None),
    "gp": (13, 11, 0x1F8),
    "pf": (14, 11, 2),
    "so": (14, 11, 2),
    "tf": (6, 4, None),
}


def booted(kernel, kind):
    m = Machine(kernel, cmdline=f"oops={kind}")
    m.catch_exceptions = True
    stop = m.cont(BOOT_INSNS)
    return m, stop


@pytest.mark.parametrize("kind", sorted(CASES))
def test_caught_before_delivery(kernel, kind):
    vector, sig, err = CASES[kind]
    m, stop = booted(kernel, kind)
    assert (stop.reason, stop.vector, stop.signal) == ("fault", vector, sig), stop
    assert stop.pc == m.read_register("eip")
    assert m.caught_exception == (vector, err)
    assert b"Oops" not in m.console_output
    if kind in ("pf", "so"):
        assert f"cr2 0x{m.read_register('cr2'):08x}" in stop.detail
    esp = m.read_register("esp")
    # Delivered on request: the kernel's oops, or a triple fault.
    s = m.deliver_caught_exception()
    if kind in ("so", "tf"):
        assert s.reason == "triple_fault" and s.signal == 11 and s.pc == stop.pc
        return
    assert s is None and m.caught_exception is None
    assert m.read_register("esp") < esp               # the exception frame
    m.cont(2_000_000)
    assert f"vector {vector} eip {stop.pc:08x}".encode() in m.console_output


@pytest.mark.parametrize("kind", ["de", "gp", "pf"])
def test_refault_after_drop_is_the_same_exception(kernel, kind):
    """Not delivered (gdb `signal 0`): the instruction runs again and raises the
    same exception, not a #DF (unicorn #1883 workaround)."""
    vector = CASES[kind][0]
    m, stop = booted(kernel, kind)
    for _ in range(5):
        again = m.cont(1000)
        assert (again.reason, again.vector, again.pc) == ("fault", vector, stop.pc), again
    assert m.deliver_caught_exception() is None
    m.cont(2_000_000)
    assert f"vector {vector} eip {stop.pc:08x}".encode() in m.console_output


def test_step_at_a_caught_fault_refaults(kernel):
    m, stop = booted(kernel, "ud")
    s = m.step()
    assert (s.reason, s.vector, s.pc) == ("fault", 6, stop.pc)


def test_catch_off_by_default(kernel):
    m = Machine(kernel, cmdline="oops=pf")
    assert m.catch_exceptions is False
    m.cont(BOOT_INSNS)
    assert b"BUG: unable to handle kernel paging request at 00000000" in m.console_output


def test_catch_survives_reset(kernel):
    m, stop = booted(kernel, "ud")
    m.reset()
    assert m.catch_exceptions and m.cont(BOOT_INSNS).vector == 6


def test_excstate_offset_found():
    assert excstate.available()


def test_unicorn_reports_second_fault_as_double_fault_without_the_workaround():
    """The engine bug itself, and that clearing old_exception fixes it."""
    def run(clear):
        uc = Uc(UC_ARCH_X86, UC_MODE_32)
        uc.mem_map(0, 0x10000)
        uc.mem_write(0x1000, b"\x31\xc9\xf7\xf1\xf7\xf1")   # xor ecx,ecx; div ecx; div ecx
        uc.reg_write(X.UC_X86_REG_ESP, 0x8000)
        seen = []

        def hook(u, intno, _):
            seen.append(intno)
            u.reg_write(X.UC_X86_REG_EIP, u.reg_read(X.UC_X86_REG_EIP) + 2)
            u.emu_stop()
        uc.hook_add(UC_HOOK_INTR, hook)
        uc.emu_start(0x1000, 0x1006)
        if clear:
            excstate.clear(uc)
        uc.emu_start(uc.reg_read(X.UC_X86_REG_EIP), 0x1006)
        return seen
    assert run(clear=False) == [0, 8]
    assert run(clear=True) == [0, 0]
