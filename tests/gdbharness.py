"""Transcript matching in the style of MIT 6.828's gradelib, for the tests.

The matcher itself (mask, match_lines: GOOD/BAD/MISSING reports) is
gdbstub/harness/transcript.py, shared with the pytest plugin and the lab grader;
here: in-order matching, goldens and running gdb.
"""

from gdbstub.harness.transcript import TranscriptMismatch, find_in_order, mask, match_lines  # noqa: F401


def match_in_order(expected, actual, context=3):
    """Assert every expected line appears in `actual`, in order (others may lie between)."""
    report, missing, pos, got = find_in_order(expected, actual)
    if missing is not None:
        report.append(f"MISSING {missing}")
        tail = got[max(0, pos - context):pos + context]
        raise TranscriptMismatch(
            "expected line not found after the lines before it:\n"
            + "\n".join(report[-(context + 1):])
            + "\n  near:\n" + "\n".join(f"        {t}" for t in tail))


def load_golden(path):
    with open(path) as f:
        return [line.rstrip("\n") for line in f]


def from_first_command(lines):
    """A transcript's lines from its script's first command on: the connection
    before it reads differently on a TCP port and on the plugin's pipe."""
    if isinstance(lines, str):
        lines = lines.splitlines()
    return lines[next(i for i, l in enumerate(lines)
                      if l.startswith("(gdb) ") and not l.startswith("(gdb) target remote")):]


def run_gdb(kernel, *commands, stub_args=()):
    """Real gdb runs `commands` against a fresh stub on the real kernel; the transcript."""
    from gdbstub.harness import session
    text, _ = session.run(commands=list(commands), kernel=kernel, stub_args=list(stub_args))
    return text


def section(text, start, end):
    """The part of `text` from `start` up to the next `end` after it."""
    i = text.index(start)
    j = text.index(end, i + len(start))
    return text[i:j]


def read_until(stream, needle, timeout=60):
    """Read `stream` (a text pipe of another process) line by line until a line
    contains `needle`; the lines read.  Tests act on such an event (gdb printed
    `Continuing.`, the guest printed a console line) instead of sleeping."""
    import threading

    seen, found = [], threading.Event()
    if isinstance(getattr(stream, "mode", ""), str) and "b" in getattr(stream, "mode", ""):
        needle = needle.encode()

    def reader():
        for line in stream:
            seen.append(line)
            if needle in line:
                found.set()
                return
        found.set()  # EOF: the needle never came

    t = threading.Thread(target=reader, daemon=True)
    t.start()
    if not found.wait(timeout) or not seen or needle not in seen[-1]:
        text = "".join(l if isinstance(l, str) else l.decode(errors="replace") for l in seen)
        raise AssertionError(f"{needle!r} never appeared; saw:\n{text[-2000:]}")
    return seen


def kernel_source(path):
    """The lines of kernel_src/`path`."""
    import os
    from gdbstub.harness.session import ROOT

    with open(os.path.join(ROOT, "kernel_src", path)) as f:
        return f.read().splitlines()


def source_line(path, text, after=None):
    """The number of the first line of kernel_src/`path` containing `text`
    (after the first line containing `after`, if given), and the line itself:
    tests find source lines by searching, never by pinned numbers."""
    lines = kernel_source(path)
    start = 0
    if after is not None:
        start = next(i for i, l in enumerate(lines) if after in l) + 1
    for i in range(start, len(lines)):
        if text in lines[i]:
            return i + 1, lines[i]
    raise AssertionError(f"{text!r} not found in kernel_src/{path}")


def opening_brace_line(path, definition):
    """Line number of the `{` that opens the function defined by the line that
    starts with `definition` in kernel_src/`path`: where gdb reports a breakpoint
    on that function's name."""
    lines = kernel_source(path)
    start = next(i for i, line in enumerate(lines) if line.startswith(definition))
    return next(i for i in range(start, len(lines)) if lines[i] == "{") + 1

