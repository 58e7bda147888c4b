"""Values the two command lines take for the machine's CPUs, checked once:
`python -m machine` (machine/__main__.py) and kthread-stub (gdbstub/cli.py)
use these argparse types, so both accept and refuse the same values with the
same words."""
import argparse


def _integer(text: str, what: str, least: int, words: str) -> int:
    try:
        n = int(text, 0)
    except ValueError:
        n = least - 1
    if n < least:
        raise argparse.ArgumentTypeError(f"bad {what} {text!r}: give a {words} integer")
    return n


def quantum(text: str) -> int:
    """--quantum N: instructions a CPU runs before the next one's turn (>= 1)."""
    return _integer(text, "quantum", 1, "positive")


def sched_seed(text: str) -> int:
    """--sched-seed S: the seed that varies the quanta (>= 0)."""
    return _integer(text, "seed", 0, "non-negative")
