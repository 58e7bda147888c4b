"""Benchmark (not a test): submissions graded per minute by `kthread-lab grade N --batch`.

Generates N submission folders for a lab from its key (reference, wrong and
equivalent solutions, partial ones, answers in other formats, an echo
forgery, a refused `shell` line, a hang that only the guest instruction
deadline stops, a folder with no command file), grades them with the CLI
over every core, and prints the rate.  tests/test_labs_batch.py reuses
`generate`.

    python bench/bench_batch.py [--lab 1] [--count 50] [--jobs J]
"""
import argparse
import os
import re
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)


def generate(lab, folder, count=50):
    """Write `count` submission folders s00..s49 for `lab` into `folder`."""
    def key(name):
        with open(lab.key_file(name)) as f:
            return f.read()
    ref, wrong, equiv = key("reference.gdb"), key("wrong.gdb"), key("equivalent.gdb")
    ref_ans, wrong_ans = key("reference-answers.txt"), key("wrong-answers.txt")
    ref_lines = [l for l in ref.splitlines() if l.strip() and not l.startswith("#")]
    kinds = [
        ("reference", ref, ref_ans),
        ("wrong", wrong, wrong_ans),
        ("equivalent", equiv, re.sub(r"(?m)^Q(\d+):", r"**Q\1.**", ref_ans)),
        ("mixed", ref, wrong_ans),
        ("partial", "\n".join(ref_lines[:len(ref_lines) // 2]) + "\n", ref_ans),
        ("forged", "".join(f"echo {l}\\n\n" for l in ref_lines), ref_ans),
        ("refused", ref + "shell touch pwned\n", ref_ans),
        ("hang", "continue\nbt\n", ""),
        ("empty", None, ref_ans),
        ("numbered", ref, re.sub(r"(?m)^Q(\d+):", r"\1.", ref_ans)),
    ]
    for i in range(count):
        name, commands, answers = kinds[i % len(kinds)]
        d = os.path.join(folder, f"s{i:02d}-{name}")
        os.makedirs(d)
        if commands is not None:
            with open(os.path.join(d, "lab.gdb"), "w") as f:
                f.write(commands)
        if answers:
            with open(os.path.join(d, "answers.txt"), "w") as f:
                f.write(answers)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--lab", default="1")
    ap.add_argument("--count", type=int, default=50)
    ap.add_argument("--jobs", type=int)
    args = ap.parse_args()
    from labs import get_lab
    lab = get_lab(args.lab)
    with tempfile.TemporaryDirectory() as tmp:
        subs = os.path.join(tmp, "subs")
        os.makedirs(subs)
        generate(lab, subs, args.count)
        cmd = [sys.executable, "-m", "labs", "grade", args.lab, "--batch", subs,
               "--out", os.path.join(tmp, "out")] + (["--jobs", str(args.jobs)] if args.jobs else [])
        t0 = time.perf_counter()
        r = subprocess.run(cmd, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                           text=True)
        elapsed = time.perf_counter() - t0
    print(r.stdout.strip())
    print(f"lab {args.lab}: {args.count} submissions in {elapsed:.1f} s = "
          f"{args.count / elapsed * 60:.0f} submissions per minute "
          f"({args.jobs or os.cpu_count()} at once, {os.cpu_count()} cores)")
    print("command: python bench/bench_batch.py " + " ".join(sys.argv[1:]))
    return r.returncode


if __name__ == "__main__":
    sys.exit(main())
