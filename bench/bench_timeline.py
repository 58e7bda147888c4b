"""Cost of `kthread-lab timeline` (labs/timeline.py): drawing a scheduling trace.

  python bench/bench_timeline.py [--repeat R]

The trace is a boot's (schedtrace.record_boot, up to oops_test), as
`kthread-stub --trace` writes it.  Times, best of --repeat:
  cli      the whole command, `python -m labs timeline FILE --out X` for X in
           .html, .svg, .png (a fresh Python: imports, matplotlib included)
  render   in-process: load + figure + write, for each format
"""
import argparse
import os
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)


def best(fn, repeat):
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return min(times)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    from gdbstub.kernelaware import schedtrace
    from labs import timeline
    from machine.kbuild import ensure_kernel

    with tempfile.TemporaryDirectory() as d:
        trace = os.path.join(d, "boot.json")
        with open(trace, "w") as f:
            f.write(schedtrace.dumps(schedtrace.record_boot(ensure_kernel()).trace()))
        tl = timeline.load(trace)
        print(f"trace: a boot to oops_test, {len(tl.tasks)} tasks, {len(tl.slices)} slices, "
              f"{len(tl.events)} instants, {os.path.getsize(trace)} bytes")
        for ext in timeline.FORMATS:
            out = os.path.join(d, "t" + ext)
            cli = best(lambda: subprocess.run(
                [sys.executable, "-m", "labs", "timeline", trace, "--out", out],
                check=True, stdout=subprocess.DEVNULL, cwd=ROOT), args.repeat)
            render = best(lambda: timeline.render(timeline.load(trace), out, trace),
                          args.repeat)
            print(f"{ext:5}  cli {cli:.2f} s   render {render:.2f} s   "
                  f"{os.path.getsize(out)} bytes")


if __name__ == "__main__":
    main()
