"""Real gdb against the real stub on a real socket (and on stdio), fake target.

Needs gdb (skipped with a reason otherwise), not unicorn: the stub serves
gdbstub.fake.FakeTarget (`kthread-stub --fake-target`).
"""

import os
import re
import shutil
import signal
import socket
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from gdbstub.rsp.packet import Decoder, Packet, encode_packet  # noqa: E402
from gdbharness import read_until  # noqa: E402
from gdbstub.harness.session import StubProcess, gdb_settings, stub_command, stub_pipe  # noqa: E402

GDB = shutil.which("gdb")
needs_gdb = pytest.mark.skipif(GDB is None, reason="gdb is not installed (Debian: apt-get install gdb)")


def stopped(stub) -> str:
    """Stop the stub; everything it said on stderr."""
    stub.close()
    return stub.stderr.decode()


@pytest.fixture
def stub():
    with StubProcess(fake=True) as s:
        yield s


def gdb_cmd(*commands):
    cmd = [GDB, "-q", "-nx", "-batch", *gdb_settings(), "-ex", "set architecture i386"]
    for c in commands:
        cmd += ["-ex", c]
    return cmd


def run_gdb(*commands, timeout=60):
    res = subprocess.run(gdb_cmd(*commands), cwd=ROOT, capture_output=True, text=True,
                         timeout=timeout, stdin=subprocess.DEVNULL)
    return res.stdout + res.stderr


def assert_no_tdesc_trouble(out):
    assert "Architecture rejected" not in out
    assert "target description" not in out.lower()
    assert "Remote 'g' packet reply is too long" not in out
    assert "Truncated register" not in out


def test_banner(stub):
    assert f"connect with: gdb " in stub.banner
    assert f"-ex 'target remote {stub.address()}'" in stub.banner


@needs_gdb
def test_gdb_session_over_tcp(stub):
    out = run_gdb(
        "set debug remote 0",
        f"target remote {stub.address()}",
        "info registers eip esp eflags",
        "x/4xb 0x1000",
        "p $st0",
        "p $fctrl",
        "break *0x100040",
        "continue",
        "stepi",
        "p $pc",
        "info threads",
        "detach",
    )
    assert_no_tdesc_trouble(out)
    assert re.search(r"eip\s+0x100000", out)
    assert re.search(r"esp\s+0x8000", out)
    assert "0x1000:\t0x00\t0x01\t0x02\t0x03" in out
    assert "$2 = 895" in out  # fctrl 0x37f
    assert "Breakpoint 1, 0x00100040 in ?? ()" in out
    assert "0x100041" in out
    assert "Thread 1 (CPU#0)" in out
    assert "detached" in out


@needs_gdb
def test_gdb_uses_our_tdesc(stub):
    out = run_gdb(f"target remote {stub.address()}", "maint print registers")
    assert_no_tdesc_trouble(out)
    names = re.findall(r"^\s*(\w+)\s+\d+\s+\d+", out, re.M)
    assert names[:16] == ["eax", "ecx", "edx", "ebx", "esp", "ebp", "esi", "edi", "eip",
                          "eflags", "cs", "ss", "ds", "es", "fs", "gs"]


@needs_gdb
def test_gdb_over_stdio():
    out = run_gdb(f"target remote {stub_pipe(None, fake=True, stderr_path=None)}",
                  "p/x $eax", "x/2xb 0x1002", "detach")
    assert_no_tdesc_trouble(out)
    assert "$1 = 0x2badb002" in out
    assert "0x1002:\t0x02\t0x03" in out


@needs_gdb
def test_ctrl_c_from_gdb_stops_with_sigint():
    s = StubProcess(fake=True, args=["--slice", "1000"], once=True)
    try:
        # gdb's remote debug log goes to unbuffered stderr: interrupt once
        # the resume packet is on the wire.
        p = subprocess.Popen(gdb_cmd(f"target remote {s.address()}", "set debug remote 1",
                                     "continue", "set debug remote 0", "p $pc", "detach"),
                             cwd=ROOT, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                             stderr=subprocess.STDOUT, text=True)
        seen = read_until(p.stdout, "Sending packet: $vCont;c")
        p.send_signal(signal.SIGINT)
        out, _ = p.communicate(timeout=30)
        out = "".join(seen) + out
    finally:
        err = stopped(s)
    assert "Program received signal SIGINT, Interrupt." in out
    assert "detached" in out
    assert "session ended (detached)" in err


@needs_gdb
def test_reconnect_finds_the_machine_where_it_was(stub):
    out1 = run_gdb(f"target remote {stub.address()}", "break *0x100123", "continue", "detach")
    assert "Breakpoint 1, 0x00100123" in out1
    out2 = run_gdb(f"target remote {stub.address()}", "p $pc", "detach")
    assert "0x100123" in out2
    err = stopped(stub)
    assert err.count("gdb connected") == 2


# ------------------------------------------------------ raw socket clients


class RawClient:
    def __init__(self, port):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=10)
        self.dec = Decoder()
        self.pending = []

    def send(self, data: bytes):
        self.sock.sendall(data)

    def packet(self):
        while not self.pending:
            data = self.sock.recv(65536)
            if not data:
                raise EOFError
            self.pending += [e.data for e in self.dec.feed(data) if isinstance(e, Packet)]
        return self.pending.pop(0)

    def ask(self, payload: bytes):
        self.send(encode_packet(payload))
        return self.packet()

    def close(self):
        self.sock.close()


def test_ctrl_c_raw_and_second_client_refused(stub):
    a = RawClient(stub.port)
    assert a.ask(b"qSupported:swbreak+").startswith(b"PacketSize=")
    a.send(encode_packet(b"c"))
    b = RawClient(stub.port)
    b.send(encode_packet(b"qSupported"))
    assert b.packet().startswith(b"E.")
    with pytest.raises((EOFError, ConnectionResetError)):
        b.packet()
    b.close()
    a.send(b"\x03")
    assert a.packet().startswith(b"T02thread:01;")
    assert a.ask(b"D") == b"OK"
    a.close()
    err = stopped(stub)
    assert "refused a second gdb" in err


def test_connection_drop_while_running_keeps_server_up():
    stub = StubProcess(fake=True, args=["--debug-rsp", "-"])  # the packet log tells when `c` was taken
    try:
        a = RawClient(stub.port)
        a.ask(b"Z0,7fffffff,1")
        a.send(encode_packet(b"c"))
        stub.wait_for('getpkt ("c")', "stderr")
        a.close()  # vanish without detaching, while the machine runs
        b = RawClient(stub.port)
        reply = b.ask(b"?")
        assert reply.startswith(b"T05thread:01;")  # last stop before the session
        assert b.ask(b"D") == b"OK"
        b.close()
    finally:
        stub.close()


# ------------------------------------------------------ CLI errors


def run_cli(*args):
    return subprocess.run(stub_command(None, args), cwd=ROOT,
                          capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL)


def test_port_in_use_is_a_one_line_error(stub):
    r = run_cli("--fake-target", "--port", str(stub.port))
    assert r.returncode == 2
    assert r.stderr.strip().count("\n") == 0 and "port in use" in r.stderr
    assert "Traceback" not in r.stderr


def test_missing_kernel_is_a_one_line_error(tmp_path):
    r = run_cli("--kernel", str(tmp_path / "nope"), "--port", "0")
    assert r.returncode == 2
    assert "kernel image not found" in r.stderr and "Traceback" not in r.stderr


def test_bad_elf_is_a_one_line_error(tmp_path):
    bad = tmp_path / "vmlinux"
    bad.write_bytes(b"not an elf at all")
    r = run_cli("--kernel", str(bad), "--port", "0")
    assert r.returncode == 2, r.stderr
    assert r.stderr.strip().count("\n") == 0 and "Traceback" not in r.stderr


def test_non_loopback_host_warns():
    with StubProcess(args=["--host", "0.0.0.0", "--allow-remote"], fake=True) as p:
        first, second = p.stderr.decode().splitlines()[:2]
    assert "warning: listening on 0.0.0.0: anyone who can reach it controls" in first
    assert "Listening on 0.0.0.0:" in second
