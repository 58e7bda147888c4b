"""Matching gdb transcripts, gradelib style: shared by the tests
(tests/gdbharness.py) and the lab grader (labs/grade.py).

A line is compared after its addresses are masked (`mask`): code and stack
addresses move with every kernel edit, small values (`unused=0x0`) do not.
An expected line starting with `re:` is a regular expression for the whole
masked line.
"""

import re

# five or more hex digits: an address, not a small value or a flag word
ADDRESS = re.compile(r"0x[0-9a-f]{5,}")


def mask(line):
    return ADDRESS.sub("0x........", line.rstrip())


def line_matches(expected, masked):
    """Does `masked` (an actual line, already masked) match `expected`?"""
    if expected.startswith("re:"):
        return re.fullmatch(expected[3:], masked) is not None
    return mask(expected) == masked


def find_in_order(expected, actual):
    """Look for the `expected` lines in `actual` (a string or lines), in
    order, others allowed between.  -> (report, missing, pos, got): `report`
    the `GOOD    line` entries matched, `missing` the first expected line not
    found (None: all were), `pos` the index after the last GOOD line, `got`
    the masked actual lines (for context around a failure)."""
    if isinstance(actual, str):
        actual = actual.splitlines()
    got = [mask(a) for a in actual]
    pos = 0
    report = []
    for exp in expected:
        for j in range(pos, len(got)):
            if line_matches(exp, got[j]):
                report.append(f"GOOD    {got[j]}")
                pos = j + 1
                break
        else:
            return report, exp, pos, got
    return report, None, pos, got
