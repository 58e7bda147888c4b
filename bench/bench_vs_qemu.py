"""Ours vs QEMU 7.2 (TCG), the same kernel_src/vmlinux, through real gdb: a table of medians.

    python3 bench/bench_vs_qemu.py [--runs 5] [--png bench/results/bench_vs_qemu.png]

Each run starts a fresh target for each side (ours: kthread-stub on a TCP port;
QEMU: `qemu-system-i386 -kernel vmlinux -m 128 -display none -S -gdb tcp:...`),
alternating ours, QEMU, ours, ...; gdb 13 runs one Python script against it
(timing with time.perf_counter inside gdb).  Rows:

- connect to kthreadd (s): gdb start to the `kthreadd` breakpoint (QEMU: SeaBIOS
  and its multiboot option ROM run first);
- next over a call (/s): `next` over kthreadd.c:195 `set_task_comm(...)`, 200 times
  (`set $pc` back to the line between them);
- stepi/s: `stepi 5000` from there;
- memory read (MB/s): `dump binary memory` of 1 MiB of kernel text;
- the rest run a known guest workload injected by gdb, so guest time (QEMU's PIT
  runs on wall-clock time, ours on instruction count) plays no part: at kthreadd,
  gdb writes a loop into free RAM (page A, 0xc7000000), IF cleared:
      mov $N,%ecx; mov $D,%esi
  1:  mov (%esi),%eax; add $1,%eax; mov %eax,(%esi); dec %ecx; jnz 1b   (5 insns)
      jmp B          (B on another page, where a breakpoint ends the run)
  that is exactly 5N+3 guest instructions; D is the page after A.  N is picked from
  a short probe so that each run takes about --target-s seconds (bounded: a
  configuration that would take hours, like gdb's software watchpoints single-
  stepping, still reports its rate from a short run);
- breakpoint hits/s: a breakpoint on the loop head with `ignore` 1999: 2,000 hits;
- free-running guest instructions/s, min and median over runs: no breakpoints
  (other than B); 10 breakpoints on kernel functions off the hot path; one
  breakpoint never hit on the loop's own 4 KiB page (QEMU >= 6.1 single-steps
  every page that holds a breakpoint); a watchpoint on `jiffies` (off the hot
  path); a watchpoint on an untouched word (D+0x100) of the page the loop reads
  and writes.  gdb uses hardware watchpoints when the stub takes Z2 and
  software ones (single-stepping everything) otherwise; the row says which;
- raw `g` round trip (us): bench_gdb.g_roundtrip_us, a socket client, no gdb;
- kernel workloads of our own, each on a fresh target booted with an option (QEMU:
  `-append`), timed as the wall time of the `continue` from `kthreadd` to
  `oops_test`, the end of the boot: lab 5's `lab5=run` (a producer and a consumer
  kthread started, run 100 ms of guest time, stopped with kthread_stop; then init's
  last checks), where guest time plays a part (QEMU's 100 ms are real ones, ours
  are virtual: the idle CPU's `hlt` skips them); and `kthread_bench=1000`
  (kernel/kthread_bench.c: init creates, waits for and stops 1,000 kthreads one
  after another, through kthreadd), which is CPU work and console output.

The PNG is a bar chart of the ratios ours/QEMU (> 1 = ours ahead, for `s` and
`us` rows the ratio is inverted so that > 1 always means ours is better).
"""
import argparse
import contextlib
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)
sys.path.insert(0, os.path.join(ROOT, "bench"))
sys.path.insert(0, os.path.join(ROOT, "tests"))

import bench_gdb  # noqa: E402
from gdbstub.harness import session  # noqa: E402
from test_qemu_fidelity import Qemu, qemu_binary  # noqa: E402

LOOP_PAGE = 0xc7000000      # physical 112 MiB: RAM on both, untouched by the boot so far
OFF_PATH = ["do_timer", "schedule", "printk", "do_fork", "msleep", "kmalloc",
            "wake_up_process", "run_timers", "vsnprintf", "kthread_create"]

GDB_PY = r"""
import gdb, time, struct
T0 = %(t_start)f
def ex(cmd):
    return gdb.execute(cmd, to_string=True)
def timed(cmd):
    t = time.perf_counter(); ex(cmd); return time.perf_counter() - t
def result(key, value):
    print("RESULT %%s %%f" %% (key, value), flush=True)

ex("break kthreadd")
ex("continue")
result("connect_s", time.perf_counter() - T0)
ex("delete")

# next over a call: kthread.c:195 set_task_comm(current, "kthreadd")
ex("next")                         # to line 195, past the prologue
line195 = int(gdb.parse_and_eval("$pc"))
t = time.perf_counter()
for i in range(%(nexts)d):
    ex("next")
    gdb.execute("set var $pc = %%d" %% line195)
result("next_per_s", %(nexts)d / (time.perf_counter() - t))

result("stepi_per_s", 5000 / timed("stepi 5000"))
result("read_MB_per_s", 1.0 / timed("dump binary memory %(dump)s 0xc1000000 0xc1100000"))

# --- the injected loop ---------------------------------------------------------
A = %(page)d
D = A + 0x1000
B = A + 0x2000
inf = gdb.selected_inferior()
def load(n):
    code = b"\xb9" + struct.pack("<I", n) + b"\xbe" + struct.pack("<I", D)
    code += b"\x8b\x06\x83\xc0\x01\x89\x06\x49\x75\xf6"          # the 5-insn loop
    jmp_at = A + len(code)
    code += b"\xe9" + struct.pack("<i", B - (jmp_at + 5))
    inf.write_memory(A, code)
    inf.write_memory(D, b"\0" * 0x200)
    inf.write_memory(B, b"\x90\x90")
    gdb.execute("set var $eflags = $eflags & ~0x200")             # no IRQs
    gdb.execute("set var $pc = %%d" %% A)
def run(n):
    load(n)
    t = time.perf_counter(); ex("continue"); dt = time.perf_counter() - t
    pc = int(gdb.parse_and_eval("$pc"))
    if pc != B:
        raise gdb.GdbError("loop run stopped at 0x%%x, not 0x%%x" %% (pc, B))
    return dt
def rate(label, probe_n, target_s, cap_n):
    # grow n until the run is long enough that gdb's fixed cost per
    # continue does not dominate (a short probe would measure only that)
    n = probe_n
    dt = run(n)
    while dt < target_s / 2 and n < cap_n:
        n = int(min(cap_n, max(2 * n, n * target_s / max(dt, 1e-6))))
        dt = run(n)
    result(label, (5 * n + 3) / dt)
    result(label + "_n", n)

ex("delete")
ex("break *%%d" %% B)
# breakpoint hits: the loop head, ignore 1999
load(4000)
gdb.execute("break *%%d" %% (A + 10))
bnum = gdb.breakpoints()[-1].number
gdb.execute("ignore %%d 1999" %% bnum, to_string=True)
t = time.perf_counter(); ex("continue"); dt = time.perf_counter() - t
result("hits_per_s", 2000 / dt)
gdb.execute("delete %%d" %% bnum)

TS, CAP = %(target_s)f, %(cap_n)d
rate("free0", 100000, TS, CAP)
for f in %(off_path)r:
    ex("break %%s" %% f)
rate("free10", 100000, TS, CAP)
ex("delete")
ex("break *%%d" %% B)
ex("break *%%d" %% (A + 0x800))                                     # never hit, loop's page
rate("free_hotpage_bp", 2000, TS, CAP)
ex("delete")
ex("break *%%d" %% B)
result("free_watch_hw", "Hardware" in ex("watch jiffies"))
rate("free_watch", 20, TS, CAP)
ex("delete")
ex("break *%%d" %% B)
result("free_watch_hotpage_hw", "Hardware" in ex("watch *(int *) %%d" %% (D + 0x100)))
rate("free_watch_hotpage", 20, TS, CAP)
result("done", 1)
"""

GDB_WORKLOAD_PY = r"""
import gdb, time
def ex(cmd):
    return gdb.execute(cmd, to_string=True)
ex("break kthreadd")
ex("continue")
ex("delete")
ex("break oops_test")
t = time.perf_counter(); ex("continue"); dt = time.perf_counter() - t
if "oops_test" not in ex("frame"):
    raise gdb.GdbError("the workload run did not reach oops_test")
print("RESULT %(key)s %%f" %% dt, flush=True)
"""
WORKLOADS = [("lab5_s", "lab5=run"), ("kthreads_s", "kthread_bench=1000")]

ROWS = [
    # key, label, unit, higher is better
    ("connect_s", "target remote to kthreadd", "s", False),
    ("stepi_per_s", "stepi (5,000 steps)", "/s", True),
    ("hits_per_s", "breakpoint hits (2,000)", "/s", True),
    ("read_MB_per_s", "memory read (dump 1 MiB)", "MB/s", True),
    ("next_per_s", "next over a call", "/s", True),
    ("g_us", "raw g packet round trip", "us", False),
    ("lab5_s", "kernel workload: kthreadd to oops_test with lab5=run", "s", False),
    ("kthreads_s", "kernel workload: create and stop 1,000 kthreads (kthread_bench=1000)",
     "s", False),
]
FREE_ROWS = [
    ("free0", "free-running, 0 breakpoints"),
    ("free10", "free-running, 10 breakpoints off path"),
    ("free_hotpage_bp", "free-running, 1 bp on the loop's page"),
    ("free_watch", "free-running, watch jiffies"),
    ("free_watch_hotpage", "free-running, watch on loop's data page"),
]


class _QemuAsStub:
    """bench_gdb.g_roundtrip_us wants session.StubProcess(kernel): this is QEMU held at -S."""

    def __init__(self, kernel, *a, **k):
        self._q = Qemu(kernel)
        self.port = self._q.port

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self._q.close()


@contextlib.contextmanager
def _stub_is_qemu():
    saved = bench_gdb.session.StubProcess
    bench_gdb.session.StubProcess = _QemuAsStub
    try:
        yield
    finally:
        bench_gdb.session.StubProcess = saved


def gdb_run(kernel, side, args):
    with tempfile.TemporaryDirectory() as tmp:
        target = session.StubProcess(kernel, once=True) if side == "ours" else Qemu(kernel)
        try:
            script = os.path.join(tmp, "bench.py")
            t_start = time.perf_counter()   # CLOCK_MONOTONIC: comparable across processes
            with open(script, "w") as f:
                f.write(GDB_PY % {"dump": os.path.join(tmp, "mem.bin"), "t_start": t_start,
                                  "page": LOOP_PAGE, "nexts": args.nexts,
                                  "target_s": args.target_s, "cap_n": args.cap_n,
                                  "off_path": OFF_PATH})
            cmd = session.gdb_command(kernel, target.address(), script, batch=True,
                                      trace=False)
            try:
                res = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT,
                                     timeout=args.timeout)
                out = res.stdout + res.stderr
            except subprocess.TimeoutExpired as e:
                out = (e.stdout or b"").decode() if isinstance(e.stdout, bytes) else (e.stdout or "")
                out += "\n(gdb timed out)"
        finally:
            target.close()
    found = {k: float(v) for k, v in re.findall(r"RESULT (\S+) (\S+)", out)}
    if "done" not in found:
        print(f"warning: {side} run incomplete:\n{out[-2000:]}", file=sys.stderr)
    return found


def workload_run(kernel, side, args, key, cmdline):
    """A kernel workload row (booted with `cmdline`) on a fresh target of `side`."""
    with tempfile.TemporaryDirectory() as tmp:
        target = (session.StubProcess(kernel, ["--append", cmdline], once=True)
                  if side == "ours" else Qemu(kernel, extra=["-append", cmdline]))
        try:
            script = os.path.join(tmp, "workload.py")
            with open(script, "w") as f:
                f.write(GDB_WORKLOAD_PY % {"key": key})
            cmd = session.gdb_command(kernel, target.address(), script, batch=True,
                                      trace=False)
            res = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT,
                                 timeout=args.timeout)
            out = res.stdout + res.stderr
        finally:
            target.close()
    found = {k: float(v) for k, v in re.findall(r"RESULT (\S+) (\S+)", out)}
    if not found:
        print(f"warning: {side} workload run incomplete:\n{out[-2000:]}", file=sys.stderr)
    return found


def g_us(kernel, side):
    if side == "ours":
        return bench_gdb.g_roundtrip_us(kernel)
    with _stub_is_qemu():
        return bench_gdb.g_roundtrip_us(kernel)


def fmt(v, unit):
    if v is None:
        return "n/a"
    if unit in ("s",):
        return f"{v:.3f}"
    if unit == "us":
        return f"{v:.1f}"
    if v >= 1e6:
        return f"{v / 1e6:.2f} M"
    return f"{v:,.0f}" if v >= 100 else f"{v:.1f}"


def med(vals):
    return statistics.median(vals) if vals else None


def table(results, runs):
    """Markdown table: rows, ours, QEMU, ratio ours/QEMU."""
    lines = ["| row | ours | QEMU 7.2 | ours/QEMU (s, us rows: lower is better) |",
             "|---|---:|---:|---:|"]
    ratios = []
    for key, label, unit, higher in ROWS:
        a = med([r[key] for r in results["ours"] if key in r])
        b = med([r[key] for r in results["qemu"] if key in r])
        ratio = a / b if a is not None and b else None
        lines.append(f"| {label} ({unit}, median) | {fmt(a, unit)} | {fmt(b, unit)} | "
                     f"{'n/a' if ratio is None else f'{ratio:.2f}'} |")
        if ratio is not None:
            ratios.append((label, ratio if higher else 1 / ratio))
    for key, label in FREE_ROWS:
        vals = {}
        for side in ("ours", "qemu"):
            xs = [r[key] for r in results[side] if key in r]
            vals[side] = (min(xs), med(xs)) if xs else (None, None)
        (amin, amed), (bmin, bmed) = vals["ours"], vals["qemu"]
        ratio = amed / bmed if amed is not None and bmed else None
        if key + "_hw" in results["ours"][0]:
            kinds = ["hw" if r.get(key + "_hw") else "software"
                     for r in (results["ours"][0], results["qemu"][0])]
            label += f" (ours {kinds[0]}, QEMU {kinds[1]})"
        lines.append(f"| {label} (insns/s, min / median) | "
                     f"{fmt(amin, '/s')} / {fmt(amed, '/s')} | "
                     f"{fmt(bmin, '/s')} / {fmt(bmed, '/s')} | "
                     f"{'n/a' if ratio is None else f'{ratio:.3g}'} |")
        if ratio is not None:
            ratios.append((label, ratio))
    return "\n".join(lines), ratios


def plot(ratios, path):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("matplotlib missing (pip install matplotlib): no PNG", file=sys.stderr)
        return None
    labels = [l for l, _ in ratios]
    vals = [r for _, r in ratios]
    fig, ax = plt.subplots(figsize=(10, 0.45 * len(vals) + 1.5))
    colors = ["tab:green" if v >= 1 else "tab:red" for v in vals]
    ax.barh(range(len(vals)), vals, color=colors)
    ax.set_yticks(range(len(vals)), labels)
    ax.invert_yaxis()
    ax.set_xscale("log")
    ax.axvline(1.0, color="black", linewidth=1)
    for i, v in enumerate(vals):
        ax.text(v, i, f" {v:.3g}", va="center")
    ax.set_xlim(min(vals + [1]) / 2, max(vals + [1]) * 4)
    ax.set_xlabel("ours / QEMU 7.2, log scale; > 1: ours better (time rows inverted)")
    ax.set_title("ours vs QEMU 7.2 TCG: same vmlinux, gdb 13")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    return path


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--nexts", type=int, default=200, help="`next`s per run (default 200)")
    ap.add_argument("--target-s", type=float, default=1.0,
                    help="wall time to aim each free-running measurement at (default 1 s)")
    ap.add_argument("--cap-n", type=int, default=40_000_000,
                    help="most loop iterations per free-running run (default 4e7)")
    ap.add_argument("--timeout", type=float, default=600.0, help="per gdb run (s)")
    ap.add_argument("--png", default=os.path.join(ROOT, "bench", "results", "bench_vs_qemu.png"))
    ap.add_argument("--md", default=os.path.join(ROOT, "bench", "results", "bench_vs_qemu.md"))
    args = ap.parse_args()
    if qemu_binary() is None:
        raise SystemExit("qemu-system-i386 not found (Debian: apt-get install qemu-system-x86)")
    from machine.kbuild import ensure_kernel
    kernel = os.path.relpath(ensure_kernel(), ROOT)
    results = {"ours": [], "qemu": []}
    for i in range(args.runs):
        for side in ("ours", "qemu"):
            t = time.perf_counter()
            r = gdb_run(kernel, side, args)
            r["g_us"] = g_us(kernel, side)
            for key, cmdline in WORKLOADS:
                r.update(workload_run(kernel, side, args, key, cmdline))
            results[side].append(r)
            print(f"run {i + 1}/{args.runs} {side}: {time.perf_counter() - t:.1f} s",
                  file=sys.stderr)
    md, ratios = table(results, args.runs)
    command = "python3 bench/bench_vs_qemu.py " + " ".join(sys.argv[1:])
    qemu_version = subprocess.run([qemu_binary(), "--version"], capture_output=True,
                                  text=True).stdout.splitlines()[0]
    header = (f"command: `{command.strip()}` ({args.runs} runs, {time.strftime('%Y-%m-%d')}, "
              f"{qemu_version}, {os.cpu_count()} CPUs)")
    print(header)
    print(md)
    os.makedirs(os.path.dirname(args.md), exist_ok=True)
    with open(args.md, "w") as f:
        f.write(header + "\n\n" + md + "\n")
    png = plot(ratios, args.png)
    if png:
        print(f"chart: {os.path.relpath(png, ROOT)}")


if __name__ == "__main__":
    main()
