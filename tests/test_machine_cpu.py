"""One CPU apart from the board (machine/cpu.py): it runs code over a RAM it
is given, reaches devices only through the port callbacks it is given, and
its save() takes it back; and the module knows no device, no board, no
other CPU."""
import ast
import inspect

from machine import clock as vclock
from machine import cpu as cpumod
from machine.cpu import Cpu, RUNNING, WAIT_SIPI
from machine.memory import GuestMemory

CODE_AT = 0x1000
# mov eax, 0x1234; out 0x80, al; in al, 0x60; hlt
CODE = bytes.fromhex("b834120000" "e680" "e460" "f4")


class NoInterrupts:
    def pending(self):
        return False


def a_cpu(index=0):
    mem = GuestMemory(4 << 20)
    mem.write_phys(CODE_AT, CODE)
    ports = []

    def on_in(uc, port, size, _ud):
        ports.append(("in", port, size))
        return 0x5A

    def on_out(uc, port, size, value, _ud):
        ports.append(("out", port, size, value))

    cpu = Cpu(index, mem, vclock.new_clock(), (on_in, on_out), NoInterrupts())
    cpu.write_register("eip", CODE_AT)
    return cpu, ports


def test_a_cpu_runs_alone_through_its_port_callbacks():
    cpu, ports = a_cpu()
    assert cpu.run(1000, lambda: False) is None
    assert ports == [("out", 0x80, 1, 0x34), ("in", 0x60, 1)]
    assert cpu.read_registers(["eax", "eip"]) == [0x125A, CODE_AT + len(CODE)]
    assert cpu.just_halted() and cpu.clock.icount == 4


def test_save_and_load_take_a_cpu_back():
    cpu, ports = a_cpu()
    saved = cpu.save()
    cpu.run(1000, lambda: False)
    cpu.halted, cpu.halted_at = True, cpu.clock.icount
    cpu.load(saved, code_changed=False)
    assert (cpu.clock.icount, cpu.read_register("eip"), cpu.read_register("eax")) == (0, CODE_AT, 0)
    assert cpu.run_state == RUNNING and cpu.halted_at is None
    cpu.run(1000, lambda: False)
    assert ports[2:] == ports[:2] and cpu.clock.icount == 4


def test_an_ap_waits_for_startup_then_starts_in_real_mode():
    cpu, _ = a_cpu(index=1)
    assert cpu.run_state == WAIT_SIPI and not cpu.runnable
    cpu.start_ap(0x06)
    assert cpu.runnable and cpu.read_registers(["cs", "eip", "cr0"]) == [0x600, 0, 0x10]


def test_the_cpu_module_knows_no_device_and_no_board():
    """Devices, the board and the other CPUs are reached through callbacks."""
    tree = ast.parse(inspect.getsource(cpumod))
    imported = {a.name for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)
                for a in n.names} | {n.module for n in ast.walk(tree)
                                     if isinstance(n, ast.ImportFrom) and n.module}
    board = {"machine", "pic", "pit", "uart", "smp", "devstate", "loader", "mptable"}
    assert imported & board == set()
