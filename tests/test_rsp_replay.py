"""Replay packet logs recorded from real gdb 13 sessions against the stub.

Each tests/data/rsp_*.log was recorded with
    python tests/test_rsp_replay.py --record
which runs real gdb against `kthread-stub --fake-target --debug-rsp LOG`.
Replaying feeds every `getpkt` payload to a fresh Session on a fresh
FakeTarget and asserts the stub answers with exactly the recorded `putpkt`
payloads.  No gdb needed to replay.
"""

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "tests" / "data"
sys.path.insert(0, str(ROOT))

from gdbstub.fake import FakeTarget  # noqa: E402
from gdbstub.harness.session import StubProcess  # noqa: E402
from gdbstub.rsp.packet import Decoder, Packet, encode_packet, frame_payload  # noqa: E402
from gdbstub.rsplog import parse_log  # noqa: E402
from gdbstub.rspsession import Session  # noqa: E402
from gdbstub.server import make_context, make_dispatcher  # noqa: E402

# gdb command lines of each recorded session (the log's name -> commands).
SESSIONS = {
    "rsp_basic": [
        "set architecture i386",
        "target remote {addr}",
        "info registers",
        "x/4x 0x1000",
        "x/16xb 0x2000",
        "p $st0",
        "info float",
        "set var $eax = 0x1234",
        "set {int}0x1000 = 0x55aa",
        "x/x 0x1000",
        "p/x $eax",
        "break *0x100020",
        "hbreak *0x100030",
        "continue",
        "continue",
        "stepi",
        "info threads",
        "x/x 0",
        "p $pc",
        "monitor icount",
        "delete",
        "detach",
    ],
    # Acks on every packet, M instead of X, and single-stepping with s/c
    # instead of vCont.
    "rsp_ackmode": [
        "set architecture i386",
        "set remote noack-packet off",
        "set remote binary-download-packet off",
        "set remote verbose-resume-packet off",
        "target remote {addr}",
        "p/x $pc",
        "set {char[4]}0x1008 = \"abc\"",
        "x/s 0x1008",
        "tbreak *0x100005",
        "continue",
        "stepi 3",
        "p/x $pc",
        "set var $pc = 0x100100",
        "stepi",
        "p/x $eip",
        "detach",
    ],
}


def logs():
    return sorted(DATA.glob("rsp_*.log"))


def exchanges(path):
    """[(getpkt payload, [putpkt payloads])] in order."""
    out = []
    with open(path) as f:
        for kind, data in parse_log(f):
            if kind == "getpkt":
                out.append((data, []))
            elif kind == "putpkt" and out:
                payload = frame_payload(data)
                assert payload is not None, f"bad frame in log: {data!r}"
                out[-1][1].append(payload)
            elif kind == "interrupt":
                pytest.skip("logs with Ctrl-C depend on wall-clock timing")
    return out


@pytest.mark.parametrize("path", logs(), ids=lambda p: p.name)
def test_replay(path):
    target = FakeTarget()
    ctx = make_context(target)
    session = Session(ctx, make_dispatcher(ctx))
    dec = Decoder()
    ex = exchanges(path)
    assert ex, "empty log"
    for i, (request, expected) in enumerate(ex):
        raw = session.receive(encode_packet(request, binary=True))
        if session.running:
            raw += session.run_until_stopped()
        got = [e.data for e in dec.feed(raw) if isinstance(e, Packet)]
        assert got == expected, f"exchange {i}: {request!r}"
    assert session.ended == "detached"


def test_there_is_a_recorded_log():
    assert logs(), "no tests/data/rsp_*.log: record one with python tests/test_rsp_replay.py --record"


def record(name, commands):
    """Run real gdb against the stub on the fake target, logging packets."""
    log = DATA / f"{name}.log"
    stub = StubProcess(fake=True, args=["--debug-rsp", str(log)], once=True)
    addr = stub.address()
    cmd = ["gdb", "-q", "-nx", "-batch"]
    for c in commands:
        cmd += ["-ex", c.replace("{addr}", addr)]
    res = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=60)
    stub.close()
    print(res.stdout + res.stderr)
    print(f"recorded {log}")


if __name__ == "__main__":
    if "--record" in sys.argv:
        DATA.mkdir(parents=True, exist_ok=True)
        for name, commands in SESSIONS.items():
            record(name, commands)
