"""Run the quick benchmarks one after another (`make bench`), each printing its
own table and the command that made it.  The long ones run on their own:

    python bench/bench_vs_qemu.py --runs 5   # side by side with QEMU (needs qemu-system-i386)
    python bench/bench_reverse.py            # reverse execution over 10 M instructions
    python bench/soak.py                     # robustness soak, 100k packets
"""
import os
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
QUICK = ["bench_machine.py", "bench_gdb.py"]


def main():
    failed = []
    for name in QUICK:
        print(f"== {name}", flush=True)
        if subprocess.call([sys.executable, os.path.join(HERE, name)]) != 0:
            failed.append(name)
    if failed:
        print("failed: " + ", ".join(failed), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
