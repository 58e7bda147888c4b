"""Values the two command lines take for the machine's CPUs, checked once:
`python -m machine` (machine/__main__.py) and kthread-stub (gdbstub/cli.py)
use these argparse types, so both accept and refuse the same values with the
same words; and the clock the environment asks for (KTHREAD_CLOCK)."""
import argparse
import os


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


def env_icount() -> bool:
    """KTHREAD_CLOCK: "icount" (the default: the engine counts instructions
    inline when it can) or "block" (the block clock); ValueError otherwise."""
    clock = os.environ.get("KTHREAD_CLOCK", "icount")
    if clock not in ("icount", "block"):
        raise ValueError("KTHREAD_CLOCK must be icount or block, not %r" % clock)
    return clock == "icount"
