"""Protocol abuse and client faults against a real kthread-stub (real machine,
real kernel, TCP on 127.0.0.1), then real gdb.

The engine is bench/soak.py (also a standalone soak).  Figures are printed
(`pytest -s` shows them): packets tried and survived, connections cycled.
The 100,000-packet fuzz takes about a minute, so CI runs 10,000 and the full
run carries the `slow` marker (`pytest -m slow`).
"""
import os
import re
import signal
import socket
import subprocess
import sys

import pytest

from gdbharness import match_in_order
from gdbstub.harness import session
from gdbstub.harness.session import StubProcess

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "bench"))

import soak  # noqa: E402
from test_e2e_seed import SEED  # noqa: E402

SCRIPT = os.path.join(ROOT, "gdb_scripts", "kthreadd.gdb")
pytestmark = pytest.mark.e2e


def run_seed_session(kernel, stub):
    cmd = session.gdb_command(kernel, stub.address(), SCRIPT)
    res = subprocess.run(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                         stderr=subprocess.STDOUT, cwd=ROOT, timeout=120, text=True)
    return session.prettify(res.stdout)


# These sessions end with `D` and the next client expects the machine where
# the last one left it.
HALT = ("--halt-on-detach",)


def _fuzz_then_seed(kernel, n):
    with StubProcess(kernel, HALT) as stub:
        stats = soak.fuzz(stub.address(), n_items=n, seed=7)
        assert stats["survived"] == stats["items"] == n
        assert stub.alive()
        match_in_order(SEED, run_seed_session(kernel, stub))
        assert stub.alive()
        assert b"Traceback" not in stub.output()
    print(f"fuzz: kinds {stats['kinds']}")


def test_fuzz_10k_packets_then_seed_session(kernel, gdb):
    _fuzz_then_seed(kernel, 10_000)


@pytest.mark.slow
def test_fuzz_100k_packets_then_seed_session(kernel, gdb):
    _fuzz_then_seed(kernel, 100_000)


def test_1000_connect_disconnect_cycles(kernel, gdb):
    with StubProcess(kernel, HALT) as stub:
        stats = soak.cycle_connections(stub.address(), 1000)
        assert stats["cycles"] == 1000
        out = stub.output().decode(errors="replace")
        # every cycle was a session of its own (none refused as a "second gdb")
        assert out.count("gdb connected from") >= 1002
        assert "refused" not in out and "Traceback" not in out
        match_in_order(SEED, run_seed_session(kernel, stub))


def test_second_client_is_refused_and_first_unaffected(kernel, gdb):
    with StubProcess(kernel, HALT) as stub:
        first = soak.Client(stub.address())
        regs = first.ask(b"g")
        assert first.ask(b"Z0,c1001000,1") == b"OK"
        for _ in range(3):
            second = soak.Client(stub.address())
            assert second.ask(b"qSupported:swbreak+") == \
                b"E.another gdb is already attached to this machine"
            with pytest.raises(ConnectionError):
                while True:
                    second.next_event()
            second.close()
        for _ in range(50):              # a storm of clients that say nothing
            socket.create_connection(("127.0.0.1", stub.port)).close()
        assert first.ask(b"g") == regs
        # real gdb shows the reason
        r = subprocess.run(session.gdb_command(kernel, stub.address(), commands=["p $pc"]),
                           stdin=subprocess.DEVNULL, capture_output=True, text=True,
                           cwd=ROOT, timeout=60)
        assert "Remote failure reply: E.another gdb is already attached to this machine" \
            in r.stdout + r.stderr, r.stdout + r.stderr
        assert first.ask(b"g") == regs
        assert first.ask(b"z0,c1001000,1") == b"OK"
        assert first.ask(b"D") == b"OK"
        first.close()
        out = stub.output().decode()
        assert out.count("refused a second gdb") == 54
        # after the first leaves, the next one is served
        c = soak.Client(stub.address())
        assert c.ask(b"g") == regs
        c.close()


def _stop_reply(c):
    while True:
        ev = c.next_event()
        if isinstance(ev, soak.Packet):
            return ev.data


def test_ctrl_c_storm_during_continue(kernel):
    """100 rounds of continue + a burst of 0x03: one stop (SIGINT) per continue,
    nothing lost, and the kernel then boots to the end as it would have."""
    with StubProcess(kernel, ("--slice", "5000")) as stub:
        c = soak.Client(stub.address())
        c.ask(b"qSupported:swbreak+;vContSupported+")
        regs0 = c.ask(b"g")
        stops = 0
        for i in range(100):
            c.send(soak.frame(b"vCont;c"))
            c.send(b"\x03" * (1 + i % 20))
            r = _stop_reply(c)
            assert r.startswith(b"T02"), r
            stops += 1
            # stray 0x03 while stopped are ignored; the stub still answers
            c.send(b"\x03\x03")
            assert len(c.ask(b"g")) == len(regs0)
        # the guest still runs to the end of its boot
        assert c.ask(b"Z0,%x,1" % _symbol(kernel, "oops_test")) == b"OK"
        c.send(soak.frame(b"vCont;c"))
        assert _stop_reply(c).startswith(b"T05")
        assert b"init: boot complete" in stub.output()
        c.ask(b"D")
        c.close()
        print(f"ctrl-c storm: {stops} continues interrupted, "
              f"{sum(1 + i % 20 for i in range(100))} interrupt bytes, all stops answered")


def _symbol(kernel, name):
    out = subprocess.run(["nm", os.path.join(ROOT, kernel)], capture_output=True,
                         text=True, check=True).stdout
    return int(re.search(r"^([0-9a-f]+) \w %s$" % name, out, re.M).group(1), 16)


def _gdb_proc(kernel, stub, commands):
    cmd = session.gdb_command(kernel, stub.address(), commands=commands)
    return subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, cwd=ROOT, text=True)


_SESSION_ENDED = re.compile(rb"session ended \(.*?\); machine left at eip=0x([0-9a-f]+)")


def _left_at(stub, n):
    """The eip the stub reported when session number n ended."""
    found = _SESSION_ENDED.findall(stub.stderr)
    return int(found[n], 16) if len(found) > n else None


def _wait_sessions_ended(stub, n, deadline=30):
    """Until the stub has said n times that a session ended (gdb went away)."""
    stub.wait_for(_SESSION_ENDED, "stderr", timeout=deadline, count=n)


BUSY = {
    "continue": ["break start_kernel", "continue", "delete", "continue"],
    "step": ["break start_kernel", "continue", "stepi 100000000"],
    # a stream of 32 KiB m packets: killed in the middle of one, most likely
    "dump": ["dump binary memory /dev/null 0 0x7ff0000"] * 20,
}
# gdb is killed once the stub's packet log (--debug-rsp on its stderr) shows
# it busy: (packet prefix, count), acted on as the line arrives
BUSY_SEEN = {"continue": ('getpkt ("vCont;c', 2), "step": ('getpkt ("vCont;s', 200),
             "dump": ('getpkt ("m', 8)}


@pytest.mark.parametrize("how", sorted(BUSY))
def test_gdb_killed_while_running(kernel, gdb, how):
    """SIGKILL gdb during `continue`, a long `stepi`, a bulk memory read: the
    stub stops the machine, keeps it where it was, and the next gdb finds it
    there and works."""
    with StubProcess(kernel, ["--debug-rsp", "-"]) as stub:
        busy = BUSY[how]
        g = _gdb_proc(kernel, stub, busy)
        prefix, count = BUSY_SEEN[how]
        stub.wait_for(prefix, "stderr", count=count)
        assert g.poll() is None, g.stdout.read()
        g.send_signal(signal.SIGKILL)
        g.wait()
        _wait_sessions_ended(stub, 1)
        pc = _left_at(stub, 0)
        text = subprocess.run(session.gdb_command(kernel, stub.address(),
                                                  commands=["p/x $pc", "bt 1"]),
                              stdin=subprocess.DEVNULL, capture_output=True, text=True,
                              cwd=ROOT, timeout=60).stdout
        assert f"= 0x{pc:x}" in text, text
        assert stub.alive()
        assert b"Traceback" not in stub.output()


def test_killed_mid_packet_and_mid_reply(kernel):
    """A client that dies halfway through sending a packet (or never reads a
    64 KiB reply) costs nothing: the next client gets the same machine."""
    with StubProcess(kernel) as stub:
        c = soak.Client(stub.address())
        regs = c.ask(b"g")
        ram = c.ask(b"m1000000,1000")
        c.close()
        for partial in (b"$M7f00000,4:0102", b"$M7f00000,4:01020304#", b"$m1000000,8000#6",
                        b"}", b"$X7f00000,4:" + b"\x00" * 2):
            c = soak.Client(stub.address())
            c.send(partial)
            c.sock.shutdown(socket.SHUT_RDWR)
            c.close()
        c = soak.Client(stub.address())
        c.send(soak.frame(b"m0,8000"))   # never read
        c.close()
        c = soak.Client(stub.address())
        assert c.ask(b"g") == regs
        assert c.ask(b"m1000000,1000") == ram
        assert c.ask(b"m7f00000,4") == b"00000000"
        c.close()


@pytest.mark.parametrize("ending", [b"D", None])
def test_stdio_transport_survives_garbage(kernel, ending):
    """`target remote | kthread-stub --stdio`: the same abuse on a pipe, then
    a detach or just EOF: answers intact, exit status 0, no traceback."""
    import random
    f = soak.Fuzzer(random.Random(3), bytearray(soak.SCRATCH_SIZE))
    data = b"".join(f.malformed() + soak.SYNC for _ in range(2000))
    data += soak.frame(b"qAttached") + soak.frame(b"mzz,1") + soak.frame(b"m0,ffffffff")
    if ending:
        data += soak.frame(ending)
    r = subprocess.run(session.stub_command(kernel, stdio=True),
                       input=data, capture_output=True, timeout=120, cwd=ROOT)
    assert r.returncode == 0 and b"Traceback" not in r.stderr, r.stderr[-2000:]
    replies = [e.data for e in soak.Decoder().feed(r.stdout) if isinstance(e, soak.Packet)]
    assert replies[:2] == [b"1", b"E01"]
    assert len(replies[2]) == soak.PACKET_SIZE           # 32 KiB, hex
    assert replies[3:] == ([b"OK"] if ending else [])
