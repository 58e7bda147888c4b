"""Capture golden transcripts from real gdb.  Review the diff before committing:
a golden file is a claim that this output is right.

    python tests/regen_golden.py            # all
    python tests/regen_golden.py kthreadd   # one
"""
import os
import re
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)
sys.path.insert(0, os.path.join(ROOT, "tests"))

from gdbharness import mask  # noqa: E402
from gdbstub import session  # noqa: E402

# golden name -> gdb command file
GOLDEN = {
    "kthreadd": "gdb_scripts/kthreadd.gdb",
}


def port_agnostic(line):
    """A golden line that matches `line` with any TCP port on 127.0.0.1."""
    if not re.search(r"127\.0\.0\.1:\d+", line):
        return line
    return "re:" + re.sub(r"127\\\.0\\\.0\\\.1:\d+", lambda m: r"127\.0\.0\.1:\d+",
                          re.escape(line))


def main(names):
    for name in names or GOLDEN:
        text, _ = session.run(os.path.join(ROOT, GOLDEN[name]))
        lines = [mask(line) for line in text.splitlines()]
        # The stub's port differs each run: those lines match any port.
        lines = [port_agnostic(l) for l in lines]
        path = os.path.join(ROOT, "tests", "golden", name + ".txt")
        with open(path, "w") as f:
            f.write("\n".join(lines) + "\n")
        print(f"wrote {path} ({len(lines)} lines)")


if __name__ == "__main__":
    main(sys.argv[1:])
