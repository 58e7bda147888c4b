"""IRQ timing rules: the sti shadow, `sti; hlt`, request_stop()."""
import threading
import time

import pytest

from machine import Machine, Reason
from machine.testkit import build_kernel, symbols, TIMER_OS, TIMER_OS_DATA

SETUP = TIMER_OS.split("    sti\nmain_loop:")[0]

ISR = r"""
timer_isr:
    push %eax
    push %edx
    incl ticks
    cmpl $0, irq_eip
    jne 1f
    mov 8(%esp), %eax
    mov %eax, irq_eip
1:  mov $0x20, %al
    out %al, $0x20
    pop %edx
    pop %eax
    iret
"""

DATA = TIMER_OS_DATA + "\nirq_eip:\n    .long 0\n"


def build(tmp, name, main):
    return build_kernel(tmp, SETUP + main + ISR, DATA, name=name)


@pytest.fixture(scope="module")
def tmp(tmp_path_factory):
    return tmp_path_factory.mktemp("irq")


def read32(m, addr):
    return int.from_bytes(m.read_memory(addr, 4), "little")


def test_irq_waits_for_sti_plus_one_instruction(tmp):
    # The tick falls inside the cli window; it is taken after the
    # instruction that follows sti, as on a real CPU.
    path = build(tmp, "shadow", r"""
    cli
    mov $150000, %ecx
2:  loop 2b
    sti
after_sti:
    nop
expect:
    nop
3:  jmp 3b
""")
    sy = symbols(path)
    m = Machine(path)
    m.cont(400_000)
    assert read32(m, sy["irq_eip"]) == sy["expect"]


def test_sti_hlt_with_pending_irq_wakes_at_once(tmp):
    path = build(tmp, "stihlt", r"""
    cli
    mov $150000, %ecx
2:  loop 2b
    sti
    hlt
after_hlt:
    nop
3:  jmp 3b
""")
    sy = symbols(path)
    m = Machine(path)
    m.add_breakpoint(sy["timer_isr"])
    s = m.cont(400_000)
    assert s.reason == "breakpoint"
    assert m.icount < 200_000                 # no idle skip to the next tick
    m.remove_breakpoint(sy["timer_isr"])
    m.cont(1000)
    assert read32(m, sy["irq_eip"]) == sy["after_hlt"]


def test_masked_irq_is_delivered_when_unmasked(tmp):
    path = build(tmp, "unmask", r"""
    mov $0xff, %al
    out %al, $0x21              # mask everything
    sti
    mov $150000, %ecx
2:  loop 2b                     # a tick is latched in IRR meanwhile
    mov $0xfe, %al
unmask:
    out %al, $0x21
expect:
    nop
    nop
3:  jmp 3b
""")
    sy = symbols(path)
    m = Machine(path)
    m.cont(400_000)
    # IF is set: the IRQ is taken right after the OUT that unmasks it
    assert read32(m, sy["irq_eip"]) == sy["expect"]


def test_request_stop_from_another_thread(tmp):
    path = build(tmp, "spin", "    sti\n3:  jmp 3b\n")
    m = Machine(path)
    timer = threading.Timer(0.2, m.request_stop)
    timer.start()
    t = time.time()
    s = m.cont(None)
    timer.join()
    assert s.reason == Reason.STOP_REQUESTED
    assert time.time() - t < 5
    assert m.icount > 0
    # the machine continues normally afterwards
    before = m.icount
    s = m.cont(1000)
    assert s.reason == "limit" and m.icount == before + 1000


def test_request_stop_while_idle_applies_to_next_cont(tmp):
    path = build(tmp, "spin2", "    sti\n3:  jmp 3b\n")
    m = Machine(path)
    m.request_stop()
    s = m.cont(1000)
    assert s.reason == Reason.STOP_REQUESTED and m.icount == 0
    assert m.cont(1000).reason == Reason.LIMIT


def test_halt_with_masked_timer_returns_from_cont_none(tmp):
    path = build(tmp, "maskedhlt", r"""
    mov $0xff, %al
    out %al, $0x21              # IRQ 0 masked, IF=1: hlt never wakes
    sti
3:  hlt
    jmp 3b
""")
    m = Machine(path)
    s = m.cont(None)
    assert s.reason == Reason.HALTED and "no interrupt can wake" in s.detail
    t = m.icount
    s = m.cont(250_000)         # with a limit, time still passes exactly
    assert s.reason == "limit" and m.icount == t + 250_000
