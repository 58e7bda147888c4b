"""StubProcess.output() merges the stub's two pipes a whole line at a time.

Found by bench/stress_suite.py (run 2 of 5, load 13-19): the pump thread
read a console line's head, then a stub message, then the line's tail, and
test_robust_guest_faults searched the merged text for the kernel's oops line
in vain ("Oops: inva" + "gdb session ended ..." + "lid opcode: vector 6").
"""
from hypothesis import given, strategies as st

from gdbstub.harness.session import LineMerge


def test_a_line_split_across_reads_stays_whole():
    m = LineMerge()
    m.feed("console", b"oops_test: raising ud\nOops: inva")
    m.feed("stderr", b"gdb session ended (detached); machine left at eip=0xc1000b30\n")
    m.feed("console", b"lid opcode: vector 6 eip c100277d error_code 0\n")
    assert m.text().split(b"\n") == [
        b"oops_test: raising ud",
        b"gdb session ended (detached); machine left at eip=0xc1000b30",
        b"Oops: invalid opcode: vector 6 eip c100277d error_code 0", b""]


def test_an_unfinished_line_is_seen_but_not_committed():
    m = LineMerge()
    m.feed("console", b"login")
    assert m.text() == b"login"            # a look shows it
    m.feed("stderr", b"note\n")
    assert m.text() == b"note\nlogin"      # still after every finished line
    m.feed("console", b": ok\n")
    assert m.text() == b"note\nlogin: ok\n"


def test_a_closed_stream_gives_its_last_unfinished_line_as_a_line():
    m = LineMerge()
    m.feed("stderr", b"no newline at exit")
    m.close("stderr")
    m.feed("console", b"later\n")
    assert m.text() == b"no newline at exit\nlater\n"


def lines(tag):
    return st.lists(st.binary(max_size=12).map(lambda b: tag + b.replace(b"\n", b"") + b"\n"),
                    max_size=8)


@given(a=lines(b"a"), b=lines(b"b"), data=st.data())
def test_any_chunking_keeps_every_line_whole_and_in_order(a, b, data):
    """Whatever sizes the reads come in, and however the two streams'
    reads alternate, each merged line is one stream's line, and each
    stream's lines keep their order."""
    streams = {"a": b"".join(a), "b": b"".join(b)}
    m = LineMerge()
    pos = {"a": 0, "b": 0}
    while any(pos[k] < len(streams[k]) for k in streams):
        key = data.draw(st.sampled_from([k for k in streams if pos[k] < len(streams[k])]))
        n = data.draw(st.integers(1, len(streams[key]) - pos[key]))
        m.feed(key, streams[key][pos[key]:pos[key] + n])
        pos[key] += n
    text = m.text()
    assert text.endswith(b"\n") or not text
    merged = [x + b"\n" for x in text.split(b"\n")[:-1]]   # not splitlines: \r, \x0c...
    assert [x for x in merged if x.startswith(b"a")] == a
    assert [x for x in merged if x.startswith(b"b")] == b
    assert len(merged) == len(a) + len(b)
