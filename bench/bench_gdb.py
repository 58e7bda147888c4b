"""Debugger-side speed through real gdb, against a real kthread-stub on a TCP port.

    .venv/bin/python bench/bench_gdb.py [--runs 3]

Rows (median of --runs; each run is a fresh stub and gdb):
- connect to kthreadd: wall time from starting gdb to the `kthreadd` breakpoint;
- stepi/s: `stepi 5000`;
- breakpoint hits/s: 2,000 hits of a breakpoint in the timer path (`ignore` count);
- memory read MB/s: `dump binary memory` of 1 MiB of kernel text;
- raw `g` round trip, microseconds, from a small socket client (no gdb).
The timing is done inside gdb (its Python `time.perf_counter`) around each command.
"""
import argparse
import os
import re
import socket
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

from gdbstub.harness import session  # noqa: E402

HIT_SYMBOL = "do_timer"   # runs once per timer tick: a steady stream of breakpoint hits

GDB_PY = r"""
import gdb, time
def timed(cmd):
    t = time.perf_counter(); gdb.execute(cmd, to_string=True); return time.perf_counter() - t
gdb.execute("break kthreadd", to_string=True)
gdb.execute("continue", to_string=True)
print("RESULT connect_s %%f" %% (time.perf_counter() - %(t_start)f))
print("RESULT stepi_per_s %%f" %% (5000 / timed("stepi 5000")))
gdb.execute("delete", to_string=True)
gdb.execute("break %(hit)s", to_string=True)
gdb.execute("ignore 2 1999", to_string=True)
print("RESULT hits_per_s %%f" %% (2000 / timed("continue")))
gdb.execute("delete", to_string=True)
print("RESULT read_MB_per_s %%f" %% (1.0 / timed("dump binary memory %(dump)s 0xc1000000 0xc1100000")))
"""


def gdb_run(kernel):
    with session.StubProcess(kernel, once=True) as stub, tempfile.TemporaryDirectory() as tmp:
        script = os.path.join(tmp, "bench.py")
        t_start = time.perf_counter()
        # time.perf_counter is CLOCK_MONOTONIC on Linux: comparable across processes.
        with open(script, "w") as f:
            f.write(GDB_PY % {"dump": os.path.join(tmp, "mem.bin"), "t_start": t_start,
                              "hit": HIT_SYMBOL})
        res = subprocess.run(session.gdb_command(kernel, stub.address(), script, batch=True,
                                                 trace=False),
                             capture_output=True, text=True, cwd=ROOT, timeout=600)
        found = dict(re.findall(r"RESULT (\S+) (\S+)", res.stdout))
        if len(found) < 4:
            raise SystemExit("bench run failed:\n" + res.stdout + res.stderr)
        return {k: float(v) for k, v in found.items()}


def g_roundtrip_us(kernel, count=2000):
    with session.StubProcess(kernel, once=True) as stub:
        s = socket.create_connection(("127.0.0.1", stub.port))
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

        def exchange(payload):
            s.sendall(b"$%s#%02x" % (payload, sum(payload) & 0xff))
            buf = b""
            while not re.search(rb"\$[^#]*#..", buf):
                buf += s.recv(65536)
            return buf

        exchange(b"QStartNoAckMode")
        s.sendall(b"+")
        t = time.perf_counter()
        for _ in range(count):
            exchange(b"g")
        us = (time.perf_counter() - t) / count * 1e6
        exchange(b"D")
        s.close()
        return us


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--runs", type=int, default=3)
    args = ap.parse_args()
    from machine.kbuild import ensure_kernel
    kernel = os.path.relpath(ensure_kernel(), ROOT)
    runs = [gdb_run(kernel) for _ in range(args.runs)]
    g = [g_roundtrip_us(kernel) for _ in range(args.runs)]
    print(f"command: {' '.join([os.path.relpath(sys.executable, ROOT)] + sys.argv)}")
    print(f"{'row':28} {'median':>10}  target")
    rows = [("connect to kthreadd (s)", "connect_s", "-"),
            ("stepi per second", "stepi_per_s", ">= 1700"),
            ("breakpoint hits per second", "hits_per_s", ">= 1050"),
            ("memory read (MB/s)", "read_MB_per_s", ">= 30")]
    for label, key, target in rows:
        print(f"{label:28} {statistics.median(r[key] for r in runs):10.2f}  {target}")
    print(f"{'raw g round trip (us)':28} {statistics.median(g):10.1f}  < 70")


if __name__ == "__main__":
    main()
