"""Capture golden transcripts from real gdb.  Review the diff before committing:
a golden file is a claim that this output is right.

The goldens are test_*.gdb.out files beside their scripts (tests/golden,
examples/regress), run by the pytest plugin (gdbstub/harness/pytest_plugin.py); this
is `pytest --gdb-update` on them:

    python tests/regen_golden.py                                 # all
    python tests/regen_golden.py tests/golden/test_kthreadd.gdb  # one
"""
import os
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
GOLDEN_DIRS = [os.path.join(ROOT, "tests", "golden"), os.path.join(ROOT, "examples", "regress")]

if __name__ == "__main__":
    sys.exit(pytest.main(["-q", "--gdb-update", *(sys.argv[1:] or GOLDEN_DIRS)]))
