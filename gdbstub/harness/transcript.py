"""Matching gdb transcripts, gradelib style: shared by the tests
(tests/gdbharness.py), the pytest plugin for gdb scripts (gdbstub/harness/pytest_plugin.py)
and the lab grader (labs/grade.py).

A line is compared after its addresses are masked (`mask`): code and stack
addresses move with every kernel edit, small values (`unused=0x0`) do not.
More patterns can be masked (`masks`: compiled regexes, each match shown as
`<masked>`).  An expected line starting with `re:` is a regular expression
for the whole masked line.  On a mismatch `TranscriptMismatch` carries a
report that shows GOOD lines (matched), BAD lines (the actual line that
differed, with what was wanted), MISSING lines (expected, never seen) and
EXTRA lines, with context, and names the gdb command whose output differs.
"""

import re

# five or more hex digits: an address, not a small value or a flag word
ADDRESS = re.compile(r"0x[0-9a-f]{5,}")


MASKED = "<masked>"


def mask(line, masks=()):
    line = ADDRESS.sub("0x........", line.rstrip())
    for pattern in masks:
        line = pattern.sub(MASKED, line)
    return line


def line_matches(expected, masked, masks=()):
    """Does `masked` (an actual line, already masked) match `expected`?"""
    if expected.startswith("re:"):
        return re.fullmatch(expected[3:], masked) is not None
    return mask(expected, masks) == masked


class TranscriptMismatch(AssertionError):
    pass


def _command_before(lines):
    """The last gdb command among `lines` (transcript lines `(gdb) command`)."""
    for line in reversed(lines):
        if line.startswith("(gdb) "):
            return line[len("(gdb) "):]
    return None


def match_lines(expected, actual, context=3, masks=()):
    """Assert `actual` (a string or lines) equals `expected` line for line."""
    if isinstance(actual, str):
        actual = actual.splitlines()
    got = [mask(a, masks) for a in actual]
    bad_at = next((i for i, exp in enumerate(expected)
                   if i >= len(got) or not line_matches(exp, got[i], masks)), None)
    if bad_at is None:
        if len(got) == len(expected):
            return
        bad_at = len(expected)
    report = [f"GOOD    {got[j]}" for j in range(max(0, bad_at - context), bad_at)]
    if bad_at < len(expected) and bad_at < len(got):
        report.append(f"BAD     {got[bad_at]}")
        report.append(f"  wanted {expected[bad_at]}")
        for j in range(bad_at + 1, min(len(got), bad_at + 1 + context)):
            report.append(f"        {got[j]}")
    elif bad_at < len(expected):
        for exp in expected[bad_at:bad_at + context + 1]:
            report.append(f"MISSING {exp}")
    else:
        for extra in got[bad_at:bad_at + context + 1]:
            report.append(f"EXTRA   {extra}")
    command = _command_before(got[:bad_at])
    where = f" (output of `{command}`)" if command is not None else ""
    e = TranscriptMismatch(
        f"transcript differs at line {bad_at + 1}{where}:\n" + "\n".join(report))
    e.matched = got[:bad_at]    # the lines before the first difference
    raise e


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
