"""Reverse execution benchmark (machine/history.py), on the real kernel.

    python3 bench/bench_reverse.py [--icount N] [--interval N]

Rows:
  forward recording   wall time to run the boot + idle to N instructions of
                      virtual time, raw Machine vs TimeMachine (snapshots)
  history memory      bytes held by history at N (snapshots share unchanged pages)
  reverse-continue    from N back to the last create_kthread hit (icount ~442 k):
                      the whole history replayed segment by segment
  reverse-stepi       first one after a stop (replays from the periodic snapshot
                      and leaves one nearby), then the median of the next 50
  reverse-stepi (gdb) the same through the stub and real gdb: wall time of
                      50 `reverse-stepi` commands in one gdb session, per command

Targets (issue 5): reverse-stepi < 50 ms, reverse-continue across 10 M < 2 s.
Note: virtual time counts idle time skipped by `hlt` as instructions; after
`init: boot complete` the kernel idles, so most of 10 M is cheap to replay.
The busy part (boot up to the second create_kthread) is ~442 k instructions.
"""
import argparse
import os
import statistics
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

from machine import Machine  # noqa: E402
from machine.history import TimeMachine, DEFAULT_INTERVAL  # noqa: E402
from machine.kbuild import ensure_kernel  # noqa: E402


def symbol(kernel, name):
    out = subprocess.run(["nm", kernel], capture_output=True, text=True).stdout
    for line in out.splitlines():
        parts = line.split()
        if len(parts) == 3 and parts[2] == name:
            return int(parts[0], 16)
    raise KeyError(name)


def run_to(m, icount):
    while m.icount < icount:
        m.cont(icount - m.icount)


def main(argv=None):
    ap = argparse.ArgumentParser()
    ap.add_argument("--icount", type=int, default=10_500_000)
    ap.add_argument("--interval", type=int, default=DEFAULT_INTERVAL)
    ap.add_argument("--no-gdb", action="store_true")
    args = ap.parse_args(argv)
    kernel = ensure_kernel()
    ck = symbol(kernel, "create_kthread")

    raw = Machine(kernel)
    t = time.perf_counter()
    run_to(raw, args.icount)
    t_raw = time.perf_counter() - t

    tm = TimeMachine(Machine(kernel), interval=args.interval)
    t = time.perf_counter()
    while tm.icount < args.icount:
        tm.cont(args.icount - tm.icount)
    t_rec = time.perf_counter() - t
    assert tm.read_registers(["eip", "esp"]) == raw.read_registers(["eip", "esp"])
    print(f"forward recording   {args.icount / 1e6:.1f} M icount: raw {t_raw * 1000:.0f} ms, "
          f"recording {t_rec * 1000:.0f} ms ({len(tm.snaps)} snapshots every "
          f"{args.interval / 1e6:g} M)")
    print(f"history memory      {tm.memory_used() / 2**20:.1f} MiB "
          f"({len(tm._store)} distinct 4 KiB pages, {len(tm.snaps)} page tables of "
          f"{tm.npages * 8 // 1024} KiB)")

    tm.add_breakpoint(ck)
    t = time.perf_counter()
    stop = tm.reverse_cont()
    t_rc = time.perf_counter() - t
    assert stop.reason == "breakpoint" and stop.pc == ck, stop
    print(f"reverse-continue    {(args.icount - tm.icount) / 1e6:.2f} M icount back to "
          f"create_kthread at {tm.icount}: {t_rc * 1000:.0f} ms")
    tm.remove_breakpoint(ck)

    t = time.perf_counter()
    tm.reverse_step()
    first = time.perf_counter() - t
    lat = []
    for _ in range(50):
        t = time.perf_counter()
        tm.reverse_step()
        lat.append(time.perf_counter() - t)
    print(f"reverse-stepi       first {first * 1000:.1f} ms, then median "
          f"{statistics.median(lat) * 1000:.1f} ms, max {max(lat) * 1000:.1f} ms (50 steps)")

    if not args.no_gdb:
        from gdbstub.harness import session
        n = 50
        base = ["break create_kthread", "continue", "continue", "delete"]
        cmds = base + ["reverse-stepi"] * n
        t = time.perf_counter()
        session.run(commands=base, kernel=os.path.relpath(kernel, ROOT))
        t0 = time.perf_counter() - t
        t = time.perf_counter()
        text, _ = session.run(commands=cmds, kernel=os.path.relpath(kernel, ROOT))
        t1 = time.perf_counter() - t
        assert text.count("(gdb) reverse-stepi") == n, text[-2000:]
        print(f"reverse-stepi (gdb) {(t1 - t0) / n * 1000:.1f} ms per command "
              f"({n} in one session, real gdb over TCP)")


if __name__ == "__main__":
    main()
