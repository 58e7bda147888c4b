"""The machine's internal interface: history.py and watch.py use its public
methods only, and TimeMachine says what it passes through to the machine
(a mutator is recorded or refused, never passed through unrecorded)."""
import ast
import inspect

import pytest

from machine import Machine, history, watch
from machine import machine as board
from machine.history import TimeMachine

SPARE = 120 << 20       # physical RAM the kernel leaves alone during this run


@pytest.mark.parametrize("mod", [history, watch], ids=lambda m: m.__name__)
def test_no_private_attribute_of_another_object(mod):
    """`x._name` only on self: the machine is used through its public API."""
    tree = ast.parse(inspect.getsource(mod))
    bad = [f"line {n.lineno}: .{n.attr}" for n in ast.walk(tree)
           if isinstance(n, ast.Attribute) and n.attr.startswith("_")
           and not n.attr.startswith("__")
           and not (isinstance(n.value, ast.Name) and n.value.id == "self")]
    assert bad == []


@pytest.mark.parametrize("mod", [history, watch, board], ids=lambda m: m.__name__)
def test_no_reach_into_the_engine(mod):
    """A CPU's unicorn engine (`uc`) is its own (machine/cpu.py): no `.uc`, no
    unicorn import, in the layers above it and in the board, which reaches
    an engine only through Cpu methods."""
    tree = ast.parse(inspect.getsource(mod))
    bad = [f"line {n.lineno}: .uc" for n in ast.walk(tree)
           if isinstance(n, ast.Attribute) and n.attr == "uc"]
    bad += [f"line {n.lineno}: import {n.module}" for n in ast.walk(tree)
            if isinstance(n, ast.ImportFrom) and (n.module or "").startswith("unicorn")]
    bad += [f"line {n.lineno}: import {a.name}" for n in ast.walk(tree)
            if isinstance(n, ast.Import) for a in n.names if a.name.startswith("unicorn")]
    assert bad == []


def test_write_phys_is_recorded_and_replayed(kernel):
    tm = TimeMachine(Machine(kernel))
    tm.cont(200_000)
    tm.write_phys(SPARE, b"kept")
    tm.cont(100_000)
    assert tm.read_phys(SPARE, 4) == b"kept"
    tm.reverse_step()           # a replay from the snapshot at icount 0
    assert tm.read_phys(SPARE, 4) == b"kept"
    tm.reverse_cont()           # back before the write: it is undone
    assert tm.icount == 0 and tm.read_phys(SPARE, 4) == b"\0" * 4


def test_what_is_not_passed_through(kernel):
    m = Machine(kernel)
    tm = TimeMachine(m)
    assert tm.icount == m.icount and tm.read_register("eip") == m.read_register("eip")
    for name in ("restore", "snapshot"):
        with pytest.raises(AttributeError, match="refused"):
            getattr(tm, name)
    with pytest.raises(AttributeError, match="not passed through"):
        tm.service              # the machine's, for history's own use
    with pytest.raises(AttributeError, match="before wrapping"):
        tm.catch_exceptions = True
    assert tm.catch_exceptions is m.catch_exceptions is False
