"""The transcript matcher must fail loudly and show where: it guards every golden test."""
import pytest

from gdbharness import TranscriptMismatch, mask, match_in_order, match_lines


def test_mask_hides_addresses_but_keeps_small_values():
    assert mask("#1  0xc1003ad7 in f (unused=0x0)  ") == "#1  0x........ in f (unused=0x0)"


def test_identical_lines_match():
    match_lines(["a 0xc1000000", "re:b \\d+"], ["a 0xc1234567", "b 42"])


def test_bad_line_reports_good_bad_context():
    with pytest.raises(TranscriptMismatch) as e:
        match_lines(["one", "two", "three"], ["one", "TWO", "three"])
    text = str(e.value)
    assert "GOOD    one" in text and "BAD     TWO" in text and "wanted two" in text


def test_missing_and_extra_lines_fail():
    with pytest.raises(TranscriptMismatch, match="MISSING three"):
        match_lines(["one", "two", "three"], ["one", "two"])
    with pytest.raises(TranscriptMismatch, match="EXTRA   three"):
        match_lines(["one", "two"], ["one", "two", "three"])


def test_in_order_allows_lines_between_but_not_reordering():
    match_in_order(["a", "c"], ["a", "b", "c"])
    with pytest.raises(TranscriptMismatch, match="MISSING a"):
        match_in_order(["c", "a"], ["a", "b", "c"])
