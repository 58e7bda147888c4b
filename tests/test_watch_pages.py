"""Watchpoints priced by the page they watch (machine.py set_memory_hooks,
machine/_mmu.c): with the virtual TLB, a watched page is refused instead of
putting unicorn's memory hooks on (which send every access of the machine
through the slow path); the first access to the page puts the hooks on for
a while, and the refused instruction runs again under them.  The hits must
be the ones the hooks alone give, at the same instruction counts."""
import pytest

from machine import Machine
from machine import machine as board
from machine.history import TimeMachine
from machine.kbuild import ensure_kernel
from machine.testkit import build_timer_os, symbols

UNTOUCHED = 0x300000        # free RAM of the timer OS: nothing reads or writes it


@pytest.fixture(scope="module")
def timer_os(tmp_path_factory):
    return build_timer_os(str(tmp_path_factory.mktemp("watchpages")), "busy", 10 ** 9)


def test_an_untouched_watched_page_puts_no_memory_hooks_on(timer_os):
    tm = TimeMachine(Machine(timer_os, ram_mb=16))
    tm.add_watchpoint("awatch", UNTOUCHED, 4)
    assert tm.m.memory_hooks and not tm.m.memory_hooks_on
    assert tm.cont(3_000_000).reason == "limit"
    assert not tm.m.memory_hooks_on


def test_the_first_access_puts_the_hooks_on_for_a_while(timer_os, monkeypatch):
    monkeypatch.setattr(board, "WATCH_HOOK_RUN", 300_000)
    ticks = symbols(timer_os)["ticks"]
    tm = TimeMachine(Machine(timer_os, ram_mb=16))
    tm.add_watchpoint("watch", ticks, 4)
    s = tm.cont(1_000_000)                      # the first tick writes it
    assert s.reason == "watchpoint" and s.watch == ("watch", ticks)
    assert tm.m.memory_hooks_on
    assert int.from_bytes(tm.read_memory(ticks, 4), "little") == 1
    tm.remove_watchpoint("watch", ticks, 4)
    tm.add_watchpoint("watch", UNTOUCHED, 4)    # a new set: pages refused again
    assert not tm.m.memory_hooks_on
    tm.add_watchpoint("watch", ticks, 4)
    tm.cont(1_000_000)
    assert tm.m.memory_hooks_on
    tm.restart()                                # time starts again: pages refused
    assert not tm.m.memory_hooks_on
    assert tm.cont(1_000_000).reason == "watchpoint" and tm.m.memory_hooks_on
    tm.remove_watchpoint("watch", ticks, 4)     # ticks no longer watched: its
    tm.cont(1_000_000)                          # writes do not keep the hooks on
    assert not tm.m.memory_hooks_on


@pytest.mark.parametrize("kind", ["watch", "rwatch", "awatch"])
@pytest.mark.parametrize("hook_run", [board.WATCH_HOOK_RUN, 20_000])
def test_pages_and_hooks_give_the_same_hits(kind, hook_run, monkeypatch):
    """The kernel with a watchpoint on jiffies (written by the timer, read by
    the scheduler and msleep): the stops, their icounts and pcs, and the
    final state, with the watched page refused (virtual TLB) and with the
    hooks always on (unicorn's own walker).  With the hooks on for 20,000
    instructions only, about every access is found by a refusal."""
    monkeypatch.setattr(board, "WATCH_HOOK_RUN", hook_run)
    kernel = ensure_kernel()
    jiffies = symbols(kernel)["jiffies"]

    def hits(tlb):
        tm = TimeMachine(Machine(kernel, tlb=tlb))
        tm.add_watchpoint(kind, jiffies, 4)
        out = []
        while len(out) < 12 and tm.icount < 40_000_000:
            s = tm.cont(40_000_000 - tm.icount)
            out.append((s.reason, tm.icount, s.pc, s.watch))
        return out, tm.read_registers(["eip", "esp", "eax", "eflags"]), bytes(tm.console_output)

    by_pages = hits("virtual")
    assert len(by_pages[0]) == 12 and all(r == "watchpoint" for r, *_ in by_pages[0])
    assert by_pages == hits("cpu")
