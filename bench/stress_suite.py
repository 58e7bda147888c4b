"""Run the test suite N times in a row beside CPU-burning processes.

    python bench/stress_suite.py [--runs 5] [--burners 2] [-- PYTEST ARGS...]

Tests must wait on events (a line of gdb output, a stop reply, a file),
never on time; a suite that passes only on an idle machine has a race.
This script makes the machine busy on purpose: `--burners` processes spin
at 100% CPU for the whole run, and the suite (or the tests chosen by the
pytest arguments after `--`) runs `--runs` times in a row.  It stops at the
first failing run and exits 1, printing that run's pytest summary.
"""
import argparse
import multiprocessing
import os
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _burn():
    while True:
        pass


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--burners", type=int, default=2)
    ap.add_argument("pytest_args", nargs="*", help="after --, passed to pytest")
    a = ap.parse_args(argv)
    burners = [multiprocessing.Process(target=_burn, daemon=True)
               for _ in range(a.burners)]
    for b in burners:
        b.start()
    try:
        for run in range(1, a.runs + 1):
            t0 = time.monotonic()
            p = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                                *a.pytest_args], cwd=ROOT, capture_output=True, text=True)
            lines = p.stdout.strip().splitlines()
            summary = lines[-1] if lines else p.stderr.strip()[-200:]
            print(f"run {run}/{a.runs} ({a.burners} burners): {summary} "
                  f"[{time.monotonic() - t0:.0f} s]", flush=True)
            if p.returncode != 0:
                print(p.stdout[-6000:], p.stderr[-2000:], sep="\n")
                return 1
        return 0
    finally:
        for b in burners:
            b.terminate()


if __name__ == "__main__":
    sys.exit(main())
