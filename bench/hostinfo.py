"""The line every benchmark prints first: a figure means little without the
machine it was taken on and how busy that machine was."""
import argparse
import os


def host_line() -> str:
    load = " ".join("%.2f" % x for x in os.getloadavg())
    return "host: %s, %d CPUs, load average %s" % (os.uname().machine, os.cpu_count(), load)


def loop_args(doc: str):
    """The options of a benchmark that times a guest loop (--iters, --repeat),
    parsed, after printing the host line."""
    ap = argparse.ArgumentParser(description=doc.split("\n\n")[0])
    ap.add_argument("--iters", type=int, default=4_000_000)
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    print(host_line())
    return args
