"""Robustness soak: abuse a running kthread-stub and check that nothing is lost.

    .venv/bin/python bench/soak.py [--packets 100000] [--cycles 1000] [--seed 1]

Against a real stub (real machine, real kernel, TCP on 127.0.0.1) it runs:

* fuzz: `--packets` items, each a malformed input (bad checksum, truncated
  frame, frame over MAX_FRAME, non-hex checksum, random bytes with 0x03,
  stray `}` `*` `+` `-`) or a well-formed packet with hostile content (invalid
  hex, huge lengths in m/M/X, writes outside guest RAM, frames over
  PacketSize, unknown and vFile packets, valid writes to a scratch region),
  each followed by a probe `m` read of the scratch region.  Every well-formed
  packet must be acked and answered exactly once (ack-mode retransmissions
  aside), every probe must return what the scratch region holds by the valid
  writes alone, and afterwards (scratch restored) the registers and all of
  guest RAM must equal the snapshot taken before.
* cycles: connect/disconnect `--cycles` times (half of them dropping the
  connection in the middle of a packet), then check registers and RAM.
* faults: boot with each `oops=` kind (BUG/ud2, #DE, #GP, #PF, stack
  overflow, triple fault): the stop's signal, registers and memory reads,
  then continuing with the signal gives the kernel's oops (or a triple
  fault), and the stub keeps serving.

Prints the figures (tried / survived) and exits non-zero if anything was lost.
The tests (tests/test_robust_*.py) import `fuzz` and `cycle_connections`.
"""
import argparse
import os
import random
import re
import socket
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

from gdbstub.harness.session import StubProcess  # noqa: E402
from gdbstub.rsp.packet import (PACKET_SIZE, Ack, Decoder, MAX_FRAME, Nak,  # noqa: E402
                                Packet, checksum, escape)

SYNC = b"#zz"                   # brings the stub's decoder back to idle from any state
SCRATCH = 0x07F00000            # physical (paging is off at the entry point): 1 MiB below the top of 128 MiB
SCRATCH_SIZE = 0x1000
RAM_SIZE = 128 << 20
READ_CHUNK = 0x8000             # bytes per m read of the RAM snapshot
_RUN = re.compile(rb"(.)\*(.)", re.DOTALL)


def frame(payload: bytes, good: bool = True) -> bytes:
    cs = checksum(payload)
    return b"$" + payload + b"#" + b"%02x" % (cs if good else (cs + 1) & 0xFF)


class Client:
    """A minimal RSP client in ack mode over TCP."""

    def __init__(self, address, timeout=30.0):
        host, port = address.rsplit(":", 1)
        self.sock = socket.create_connection((host, int(port)), timeout=timeout)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.dec = Decoder()
        self.events = []
        self.last_packet = None         # what a '-' from us makes the stub send again

    def send(self, data: bytes):
        self.sock.sendall(data)

    def _more(self):
        data = self.sock.recv(1 << 20)
        if not data:
            raise ConnectionError("the stub closed the connection")
        self.events += self.dec.feed(data)

    def next_event(self):
        while not self.events:
            self._more()
        return self.events.pop(0)

    def ask(self, payload: bytes) -> bytes:
        """Send one packet, return its reply (skipping acks)."""
        self.send(frame(payload))
        while True:
            ev = self.next_event()
            if isinstance(ev, Packet):
                self.last_packet = ev.data
                return ev.data

    def ask_raw(self, payload: bytes) -> bytes:
        """ask(), but returns the reply's frame body as sent (run-length
        coded): equal bodies mean equal replies (the stub's coding is
        deterministic), and comparing them skips the expansion (seconds for
        128 MiB of zeros in Python).  `expand` decodes one when needed."""
        assert not self.events
        self.send(frame(payload))
        buf = b""
        while True:
            end = buf.find(b"#", buf.find(b"$"))
            if end >= 0 and len(buf) >= end + 3:
                break
            data = self.sock.recv(1 << 20)
            if not data:
                raise ConnectionError("the stub closed the connection")
            buf += data
        start = buf.find(b"$")
        body = buf[start + 1:end]
        assert buf[:start].strip(b"+") == b"" and len(buf) == end + 3, buf[:80]
        assert int(buf[end + 1:end + 3], 16) == checksum(body), "bad checksum from the stub"
        return body

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass


def expand(body: bytes) -> bytes:
    """A plain (hex) reply body with its runs expanded."""
    return _RUN.sub(lambda m: m.group(1) * (m.group(2)[0] - 28), body)


def snapshot(c: Client):
    """(g reply, all of guest RAM as the m reply bodies of READ_CHUNK bytes
    each), read through the protocol."""
    regs = c.ask_raw(b"g")
    return regs, [c.ask_raw(b"m%x,%x" % (addr, READ_CHUNK))
                  for addr in range(0, RAM_SIZE, READ_CHUNK)]


def first_difference(ram0, ram1):
    for i, (a, b) in enumerate(zip(ram0, ram1)):
        if a != b:
            x, y = bytes.fromhex(expand(a).decode()), bytes.fromhex(expand(b).decode())
            return i * READ_CHUNK + next(k for k in range(len(x)) if x[k] != y[k])
    return None


# ------------------------------------------------------------------ generators

def _no_packet(chunk: bytes) -> bool:
    """True if `chunk` (then SYNC) holds no well-formed frame."""
    return not any(isinstance(e, Packet) for e in Decoder().feed(chunk + SYNC))


def _random_bytes(rng):
    alphabet = b"$#}*+-\x03" + bytes(range(256))
    n = rng.randrange(1, 64)
    return bytes(rng.choice(alphabet) for _ in range(n))


class Fuzzer:
    def __init__(self, rng, scratch: bytearray):
        self.rng = rng
        self.scratch = scratch       # model of the scratch region
        self.counts = {}

    def _count(self, kind):
        self.counts[kind] = self.counts.get(kind, 0) + 1

    def malformed(self) -> bytes:
        rng = self.rng
        kind = rng.choice(["checksum", "checksum", "truncated", "truncated_cs", "nonhex_cs",
                           "random", "random", "random", "stray", "interrupt", "over_max"
                           if rng.random() < 0.01 else "checksum"])
        self._count("malformed:" + kind)
        p = self.benign_payload()
        if kind == "checksum":
            return frame(p, good=False)
        if kind == "truncated":
            f = frame(p)
            return f[:rng.randrange(1, len(f) - 2)]
        if kind == "truncated_cs":
            return frame(p)[:-1]
        if kind == "nonhex_cs":
            return b"$" + p + b"#" + bytes(rng.choice(b"gxz}*$ ") for _ in range(2))
        if kind == "stray":
            return bytes(rng.choice(b"}*+-") for _ in range(rng.randrange(1, 10)))
        if kind == "interrupt":
            return b"\x03" * rng.randrange(1, 20)
        if kind == "over_max":
            return b"$" + b"m" * (MAX_FRAME + rng.randrange(1, 5000)) + b"#00"
        while True:
            chunk = _random_bytes(rng)
            if _no_packet(chunk):
                return chunk

    def benign_payload(self) -> bytes:
        rng = self.rng
        return rng.choice([b"g", b"?", b"qC", b"qAttached", b"p8", b"qfThreadInfo",
                           b"qXfer:features:read:target.xml:0,100", b"vCont?"])

    def hostile(self):
        """(payload, check(reply) -> bool): a well-formed packet with hostile content."""
        rng = self.rng
        kind = rng.choice(["m_huge", "m_badhex", "M_lie", "M_badhex", "X_lie", "M_outside",
                           "X_outside", "M_big", "write", "write", "xwrite", "unknown",
                           "vfile", "p_bad", "qxfer", "z", "h", "rle", "qsupported", "benign", "misc"])
        self._count("well-formed:" + kind)
        E = lambda r: r.startswith(b"E")                      # noqa: E731
        if kind == "m_huge":
            addr = rng.choice([0, 0x1000, 0x7FFFFF0, 0x8000000, 0xFFFFFFF0, 0xC0000000])
            length = rng.choice([0xFFFFFFFF, 0x7FFFFFFF, 0x100000000, 0x10000, 0x9000])
            return (b"m%x,%x" % (addr, length),
                    lambda r: len(r) <= PACKET_SIZE and (E(r) or len(r) % 2 == 0))
        if kind == "m_badhex":
            return (rng.choice([b"mzz,4", b"m0,zz", b"m,", b"m0", b"m0,", b"m-1,4", b"m0,4,5"]), E)
        if kind == "M_lie":
            n = rng.choice([0xFFFFFFFF, 0x7FFFFFFF, 5, 0, 3])
            return b"M%x,%x:%s" % (SCRATCH, n, b"ab" * 4), E
        if kind == "M_badhex":
            return b"M%x,2:%s" % (SCRATCH, rng.choice([b"zzzz", b"1", b"12345", b"g0g0"])), E
        if kind == "X_lie":
            n = rng.choice([0xFFFFFFFF, 0x100000, 9])
            return b"X%x,%x:" % (SCRATCH, n) + escape(b"\x00" * 4), E
        if kind == "M_outside":
            addr = rng.choice([RAM_SIZE, RAM_SIZE + 0x1000, 0xFFFFFFF0, 0xFEC00000,
                               RAM_SIZE - 8])   # the last straddles the end of RAM
            n = rng.choice([16, 32])
            return b"M%x,%x:%s" % (addr, n, b"5a" * n), E
        if kind == "X_outside":
            return b"X%x,10:" % (RAM_SIZE + 0x40) + escape(bytes(range(0x20, 0x30))), E
        if kind == "M_big":
            # Over PacketSize (but under MAX_FRAME): outside RAM, so refused whole.
            n = rng.choice([0x9000, 0x10000, 0x20000])
            return b"M%x,%x:" % (RAM_SIZE, n) + b"00" * n, E
        if kind in ("write", "xwrite"):
            off = rng.randrange(0, SCRATCH_SIZE - 64)
            data = bytes(rng.randrange(256) for _ in range(rng.randrange(1, 64)))
            self.scratch[off:off + len(data)] = data
            if kind == "write":
                return b"M%x,%x:%s" % (SCRATCH + off, len(data), data.hex().encode()), \
                    (lambda r: r == b"OK")
            return b"X%x,%x:" % (SCRATCH + off, len(data)) + escape(data), (lambda r: r == b"OK")
        if kind == "unknown":
            # (`!`, `R`, `bs`, `bc` are implemented: extended remote, reverse execution)
            return rng.choice([b"Qbogus", b"qbogus", b"A", b"b", b"B", b"d", b"e", b"i",
                               b"I", b"r", b"t", b"vMustReplyEmpty", b"jThreadsInfo",
                               b"QNonStop:1", b"qTStatus", b"vCtrlC"]), \
                (lambda r: r == b"" or E(r))
        if kind == "vfile":
            return rng.choice([b"vFile:open:2f6574632f706173737764,0,0", b"vFile:setfs:0",
                               b"vFile:pread:3,1000,0", b"vFile:unlink:2f746d70",
                               b"qXfer:exec-file:read::0,fff"]), (lambda r: r == b"")
        if kind == "p_bad":
            return rng.choice([b"pffff", b"p100", b"pzz", b"p", b"p-1", b"p" + b"f" * 30]), E
        if kind == "qxfer":
            off = rng.choice([0, 1, 0x100, 0xFFFFFFFF, 0x100000])
            length = rng.choice([0, 1, 0xFFFFFFFF, 0x7FF])
            annex = rng.choice([b"target.xml", b"i386-core.xml", b"../../etc/passwd", b""])
            return b"qXfer:features:read:%s:%x,%x" % (annex, off, length), \
                (lambda r: len(r) <= PACKET_SIZE)
        if kind == "z":
            # Insert-then-remove pairs would need two replies; a remove of a
            # breakpoint that was never inserted must simply be answered.
            t = rng.choice([b"0", b"1", b"2", b"9", b"z"])
            return b"z%s,%x,1" % (t, rng.randrange(1 << 32)), (lambda r: True)
        if kind == "h":
            return rng.choice([b"Hg0", b"Hgzz", b"Hc-1", b"Hg" + b"f" * 20, b"Tzz", b"T0",
                               b"qThreadExtraInfo,zz", b"qThreadExtraInfo,ffffff"]), \
                (lambda r: True)
        if kind == "rle":
            # A request that uses run-length coding: gdb never sends one, the decoder expands it.
            return b"m%x,4*!" % SCRATCH, (lambda r: E(r) or len(r) <= PACKET_SIZE)
        if kind == "qsupported":
            return b"qSupported:" + bytes(rng.choice(b"abc+-=;:xyz") for _ in range(40)), \
                (lambda r: E(r) or (b"vFile" not in r and b"PacketSize" in r))
        if kind == "misc":
            # malformed resume/kill/monitor packets (valid ones would run or end things)
            return rng.choice([b"vCont;c:zz", b"vCont;", b"vCont;q", b"vCont;C:1", b"vCont;Czz",
                               b"vCont;x", b"vCont;s:1;s:2zz", b"qRcmd,zz", b"qRcmd,6", b"Z0,zz,1",
                               b"Z0,c1000000,zz", b"Z0", b"z", b"D;zz", b"vKill;zz", b"Hg-2",
                               b"Hgp1.1", b"QPassSignals:zz", b"qSymbol:zz:zz", b"Gzz",
                               b"P8=zz", b"Pzz=00000000", b"P8=0", b"Czz", b"S1", b"sfoo",
                               b"qXfer:threads:read::ffffffff,1"]), \
                (lambda r: E(r) or r in (b"", b"OK", b"l"))
        return self.benign_payload(), (lambda r: True)

    def probe(self, i: int):
        off = (i * 37) % (SCRATCH_SIZE - 64)
        n = 1 + (i % 48)
        want = bytes(self.scratch[off:off + n]).hex().encode()
        return b"m%x,%x" % (SCRATCH + off, n), want


def fuzz(address, n_items=100_000, seed=1, batch=64, out=sys.stdout):
    """Run the fuzz against the stub at `address`; returns a stats dict
    (raises AssertionError when something is lost)."""
    rng = random.Random(seed)
    c = Client(address)
    c.ask(b"qSupported:swbreak+;hwbreak+;vContSupported+")
    t0 = time.monotonic()
    regs0, ram0 = snapshot(c)
    t_snap = time.monotonic() - t0
    original = bytes.fromhex(c.ask(b"m%x,%x" % (SCRATCH, SCRATCH_SIZE)).decode())
    # Random scratch contents: a probe's reply then never looks like another
    # reply (the duplicate check below relies on it).
    start = bytes(rng.randrange(1, 256) for _ in range(SCRATCH_SIZE))
    for off in range(0, SCRATCH_SIZE, 0x400):
        assert c.ask(b"M%x,400:%s" % (SCRATCH + off, start[off:off + 0x400].hex().encode())) == b"OK"
    f = Fuzzer(rng, bytearray(start))
    stats = dict(items=0, malformed=0, well_formed=0, probes=0, answered=0, survived=0,
                 bytes_sent=0, retransmits_seen=0)
    t0 = time.monotonic()
    i = 0
    last = c.last_packet
    while i < n_items:
        k = min(batch, n_items - i)
        wire = bytearray()
        plan = []                       # per item: (check or None, probe reply wanted)
        for j in range(k):
            if rng.random() < 0.5:
                payload = f.malformed()
                wire += payload + SYNC
                check = None
                stats["malformed"] += 1
            else:
                payload, check = f.hostile()
                wire += frame(payload) + SYNC
                stats["well_formed"] += 1
            probe, want = f.probe(i + j)
            wire += frame(probe)
            plan.append((check, want, payload))
        c.send(bytes(wire))
        stats["bytes_sent"] += len(wire)
        # Replies: one per well-formed packet, then the probe's; a '-' in the
        # junk makes the stub resend its last reply (a duplicate frame).
        acks = 0
        for check, want, sent in plan:
            got = []
            while True:
                ev = c.next_event()
                if isinstance(ev, Ack):
                    acks += 1
                    continue
                if not isinstance(ev, Packet):
                    continue
                if ev.data == last:
                    stats["retransmits_seen"] += 1
                    continue
                last = ev.data
                if ev.data == want and (check is None or got):
                    break
                got.append(ev.data)
            if check is None:
                assert got == [], f"item {stats['items']}: {sent[:60]!r} -> unexpected replies {[g[:60] for g in got[:3]]!r}"
            else:
                assert len(got) == 1, f"item {stats['items']}: {sent[:60]!r} -> replies {[g[:60] for g in got[:3]]!r}"
                assert check(got[0]), f"item {stats['items']}: {sent[:60]!r} -> bad reply {got[0][:80]!r}"
                stats["answered"] += 1
            stats["probes"] += 1
            stats["items"] += 1
            stats["survived"] += 1
        expected_acks = k + sum(1 for check, _, _ in plan if check is not None)
        assert acks == expected_acks, f"{acks} acks for {expected_acks} well-formed packets"
        i += k
    t_fuzz = time.monotonic() - t0
    # Put the scratch region back (a valid write), then nothing else may differ.
    c.ask(b"Hg0")
    for off in range(0, SCRATCH_SIZE, 0x400):
        assert c.ask(b"M%x,400:%s" % (SCRATCH + off, original[off:off + 0x400].hex().encode())) == b"OK"
    regs1, ram1 = snapshot(c)
    assert regs1 == regs0, "registers changed"
    if ram1 != ram0:
        raise AssertionError(f"guest RAM changed at 0x{first_difference(ram0, ram1):08x}")
    assert c.ask(b"D") == b"OK"
    c.close()
    stats.update(seconds=round(t_fuzz, 2), snapshot_seconds=round(t_snap, 2),
                 kinds=dict(sorted(f.counts.items())))
    print(f"fuzz: {stats['items']} items tried ({stats['malformed']} malformed, "
          f"{stats['well_formed']} well-formed hostile) + {stats['probes']} probes, "
          f"{stats['survived']} survived, {stats['answered']} well-formed answered once, "
          f"{stats['retransmits_seen']} retransmissions, {stats['bytes_sent']} bytes, "
          f"{t_fuzz:.1f} s; registers and {RAM_SIZE >> 20} MiB of RAM unchanged", file=out)
    return stats


def cycle_connections(address, n=1000, out=sys.stdout):
    """Connect and disconnect n times: clean detach, abrupt close, close in
    the middle of a packet, close after a half-sent Ctrl-C.  Returns stats."""
    c = Client(address)
    regs0 = c.ask(b"g")
    text0 = c.ask(b"mc1000000,100")
    c.ask(b"D")
    c.close()
    kinds = ["detach", "drop", "mid_packet", "mid_reply", "interrupt"]
    counts = dict.fromkeys(kinds, 0)
    t0 = time.monotonic()
    for i in range(n):
        kind = kinds[i % len(kinds)]
        c = Client(address)
        if kind == "detach":
            assert c.ask(b"g") == regs0
            assert c.ask(b"D") == b"OK"
        elif kind == "drop":
            c.ask(b"qSupported:swbreak+")
        elif kind == "mid_packet":
            c.send(b"$m0,1000#")        # no checksum yet
        elif kind == "mid_reply":
            c.send(frame(b"m0,8000"))   # a 64 KiB reply we never read
        else:
            c.send(b"\x03$g#6")
        c.close()
        counts[kind] += 1
    c = Client(address)
    assert c.ask(b"g") == regs0, "registers changed"
    elapsed = time.monotonic() - t0     # the stub has served every cycle by now
    assert c.ask(b"mc1000000,100") == text0, "memory changed"
    c.ask(b"D")
    c.close()
    print(f"connections: {n} cycled ({', '.join(f'{v} {k}' for k, v in counts.items())}) "
          f"in {elapsed:.1f} s; stub alive, registers and memory unchanged", file=out)
    return dict(cycles=n, seconds=round(elapsed, 2), **counts)


FAULTS = {          # oops=<kind>: (stop signal, what delivering it leads to)
    "ud": (4, "oops"), "de": (8, "oops"), "gp": (11, "oops"), "pf": (11, "oops"),
    "so": (11, "triple fault"), "tf": (4, "triple fault"),
}


def _stop(c: Client) -> bytes:
    while True:
        ev = c.next_event()
        if isinstance(ev, Packet):
            return ev.data


def inject_faults(kernel, rounds=1, out=sys.stdout):
    """Boot with each oops=<kind>; check the stop (signal, pc), that registers
    and memory read, then continue with the signal: the kernel's oops (or a
    triple fault) follows, and the stub keeps serving.  Returns stats."""
    stats = dict(injected=0, stopped=0, oopses=0, triple_faults=0)
    for _ in range(rounds):
        for kind, (sig, then) in FAULTS.items():
            with StubProcess(kernel, ("--append", f"oops={kind}")) as stub:
                c = Client(stub.address())
                c.ask(b"qSupported:swbreak+;vContSupported+")
                c.send(frame(b"vCont;c"))
                stats["injected"] += 1
                r = _stop(c)
                assert r.startswith(b"T%02x" % sig), (kind, r)
                regs = bytes.fromhex(c.ask(b"g").decode())
                eip = int.from_bytes(regs[32:36], "little")
                esp = int.from_bytes(regs[16:20], "little")
                assert b"%08x" % eip in stub.output() or kind in ("so", "tf")
                if kind != "so":                # so: esp is in the guard page
                    assert not c.ask(b"m%x,10" % esp).startswith(b"E")
                stats["stopped"] += 1
                c.send(frame(b"vCont;C%02x" % sig))
                if then == "triple fault":
                    r = _stop(c)
                    assert r.startswith(b"T0b"), (kind, r)
                    assert b"triple fault" in stub.output()
                    stats["triple_faults"] += 1
                else:
                    stub.wait_for(b"---[ end trace ]---", timeout=30)
                    assert (b"eip %08x" % eip) in stub.output()
                    c.send(b"\x03")
                    assert _stop(c).startswith(b"T02")
                    stats["oopses"] += 1
                assert c.ask(b"D") == b"OK"
                c.close()
                assert stub.alive()
    print(f"faults: {stats['injected']} injected ({', '.join(FAULTS)}), {stats['stopped']} "
          f"stopped gdb with the right signal, {stats['oopses']} then oopsed in the kernel, "
          f"{stats['triple_faults']} triple-faulted; stub alive", file=out)
    return stats


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--packets", type=int, default=100_000)
    ap.add_argument("--cycles", type=int, default=1000)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--fault-rounds", type=int, default=1)
    ap.add_argument("--kernel", default=None)
    args = ap.parse_args(argv)
    kernel = args.kernel
    if kernel is None:
        from machine.kbuild import ensure_kernel
        kernel = os.path.relpath(ensure_kernel(), ROOT)
    # clients end with D and expect the machine where the last one left it
    with StubProcess(kernel, ("--halt-on-detach",)) as stub:
        fuzz(stub.address(), args.packets, args.seed)
        cycle_connections(stub.address(), args.cycles)
        alive = stub.alive()
    print("stub alive at the end:", alive)
    inject_faults(kernel, args.fault_rounds)
    return 0 if alive else 1


if __name__ == "__main__":
    sys.exit(main())
