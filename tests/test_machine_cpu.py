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


def a_cpu(index=0, code=CODE, console=None):
    mem = GuestMemory(4 << 20)
    mem.write_phys(CODE_AT, code)
    ports = []

    def on_in(port, size):
        ports.append(("in", port, size))
        return 0x5A

    def on_out(port, size, value):
        ports.append(("out", port, size, value))

    sink = console if console is not None else (lambda data: ports.append(("console", data)))
    cpu = Cpu(index, mem, vclock.new_clock(), (on_in, on_out, sink), NoInterrupts())
    cpu.write_register("eip", CODE_AT)
    return cpu, ports


# the console as printk drives it: poll LSR (in al, dx), then write THR,
# for "hi\n" then "x"; then a 16-bit read of LSR and a write to port 0x80
PRINT = bytes.fromhex(
    "66bafd03" "ec" "66baf803" "b068" "ee"      # mov dx,0x3fd; in al,dx; mov dx,0x3f8; mov al,'h'; out dx,al
    "b069" "ee" "b00a" "ee" "b078" "ee"         # 'i', '\n', 'x'
    "66bafd03" "66ed" "e680" "f4")              # mov dx,0x3fd; in ax,dx; out 0x80,al; hlt


def test_the_console_uart_is_served_in_the_engine_a_line_at_a_time():
    """LSR reads and THR writes never reach the port callbacks: the bytes
    reach the console a line at a time, and a partial line before the
    next access to another port (or when the run ends); a 16-bit access
    and other ports still reach the callbacks."""
    cpu, ports = a_cpu(code=PRINT)
    cpu.ports.set_uart(0x3F8)
    assert cpu.run(1000, lambda: False) is None
    assert ports == [("console", b"hi\n"), ("console", b"x"), ("in", 0x3FD, 2),
                     ("out", 0x80, 1, 0x5A)]
    assert cpu.read_register("eax") & 0xFF == 0x5A     # the 16-bit IN's value


def test_a_partial_line_reaches_the_console_when_the_run_ends():
    cpu, ports = a_cpu(code=bytes.fromhex("66baf803" "b078" "ee" "f4"))   # 'x'; hlt
    cpu.ports.set_uart(0x3F8)
    cpu.run(1000, lambda: False)
    assert ports == [("console", b"x")]


def test_a_line_longer_than_the_buffer_arrives_whole_and_in_order():
    # mov ecx, 5000; mov dx, 0x3f8; mov al, 'a'; 1: out dx, al; loop 1b;
    # mov al, '\n'; out dx, al; hlt
    code = bytes.fromhex("b988130000" "66baf803" "b061" "ee" "e2fd" "b00a" "ee" "f4")
    cpu, ports = a_cpu(code=code)
    cpu.ports.set_uart(0x3F8)
    cpu.run(100_000, lambda: False)
    chunks = [p[1] for p in ports if p[0] == "console"]
    assert b"".join(chunks) == b"a" * 5000 + b"\n"
    assert [len(c) for c in chunks] == [vclock.CON_SIZE, 5001 - vclock.CON_SIZE]
    assert len(ports) == len(chunks)


def test_with_dlab_set_thr_writes_go_to_the_callbacks():
    cpu, ports = a_cpu(code=PRINT)
    cpu.ports.set_uart(0x3F8, dlab=True)        # 0x3f8 is the divisor latch now
    cpu.run(1000, lambda: False)
    assert [p for p in ports if p[0] == "out"][:3] == [
        ("out", 0x3F8, 1, 0x68), ("out", 0x3F8, 1, 0x69), ("out", 0x3F8, 1, 0x0A)]
    assert not [p for p in ports if p[0] == "console"]


def test_an_error_in_the_console_reader_stops_the_run_and_is_raised():
    def console(data):
        raise RuntimeError("reader failed on %r" % data)
    cpu, _ = a_cpu(code=PRINT, console=console)
    cpu.ports.set_uart(0x3F8)
    try:
        cpu.run(1000, lambda: False)
    except RuntimeError as e:
        assert "hi" in str(e)
    else:
        raise AssertionError("the console reader's error was lost")


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
