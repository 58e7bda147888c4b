"""The RSP packet layer: framing, checksums, escaping, run-length coding, acks."""

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gdbstub.rsp import packet as P


def test_checksum_of_known_frames():
    assert P.encode_packet(b"OK") == b"$OK#9a"
    assert P.encode_packet(b"") == b"$#00"
    assert P.encode_packet(b"qSupported", rle=False) == b"$qSupported#37"


def test_escape_table():
    assert P.escape(b"a#b$c}d*e") == b"a}\x03b}\x04c}]d}\x0ae"
    assert P.unescape(b"a}\x03b}\x04c}]d}\x0ae") == b"a#b$c}d*e"
    assert P.unescape(b"abc}") == b"abc}"  # trailing lone escape is kept, no exception


def test_rle_encodes_runs_as_gdb_documents():
    # "0* " is '0' plus 3 more: the example from the GDB manual.
    assert P.rle_encode(b"0000") == b"0* "
    assert P.rle_decode(b"0* ") == b"0000"
    assert P.rle_encode(b"000") == b"000"  # too short to be worth it


@pytest.mark.parametrize("run", range(1, 300))
def test_rle_never_emits_forbidden_count_bytes(run):
    enc = P.rle_encode(b"x" + b"0" * run + b"y")
    for i, b in enumerate(enc):
        if b == ord("*"):
            count = enc[i + 1]
            assert count not in b"#$+-", (run, enc)
            assert 32 <= count <= 126
    assert P.rle_decode(enc) == b"x" + b"0" * run + b"y"


def test_rle_does_not_compress_escape_pairs():
    body = P.escape(b"####")  # }\x03 four times
    assert P.rle_encode(body) == body


def test_decoder_events():
    d = P.Decoder()
    evs = d.feed(b"+-\x03$OK#9ajunk$m0,4#fd")
    assert evs == [P.Ack(), P.Nak(), P.Interrupt(), P.Packet(b"OK"), P.Garbage(b"junk"),
                   P.Packet(b"m0,4")]


def test_decoder_incremental_byte_by_byte():
    frame = P.encode_packet(b"X1000,4:" + b"\x00#$}", binary=True)
    d = P.Decoder()
    evs = []
    for b in frame:
        evs += d.feed(bytes([b]))
    assert evs == [P.Packet(b"X1000,4:\x00#$}")]


def test_decoder_bad_checksum_and_non_hex():
    assert isinstance(P.Decoder().feed(b"$OK#00")[0], P.BadPacket)
    assert isinstance(P.Decoder().feed(b"$OK#zz")[0], P.BadPacket)


def test_decoder_restarts_on_dollar_inside_frame():
    evs = P.Decoder().feed(b"$abc$OK#9a")
    assert evs[-1] == P.Packet(b"OK")


def test_frame_too_long_is_bad_not_fatal():
    d = P.Decoder()
    evs = d.feed(b"$" + b"a" * (P.MAX_FRAME + 10))
    assert any(isinstance(e, P.BadPacket) for e in evs)
    assert d.feed(b"$OK#9a")[-1] == P.Packet(b"OK")


def test_protocol_acks_naks_and_retransmits():
    p = P.PacketProtocol()
    evs, out = p.receive(b"$g#67")
    assert evs == [P.Packet(b"g")] and out == b"+"
    evs, out = p.receive(b"$g#00")
    assert isinstance(evs[0], P.BadPacket) and out == b"-"
    frame = p.send(b"00112233")
    evs, out = p.receive(b"-")
    assert out == frame and p.retransmits == 1
    evs, out = p.receive(b"+")
    assert out == b""


def test_protocol_no_ack_mode():
    p = P.PacketProtocol()
    p.start_no_ack()
    evs, out = p.receive(b"$g#67$g#00")
    assert out == b""  # neither + nor -
    p.send(b"OK")
    assert p.receive(b"-")[1] == b""  # nothing to retransmit in no-ack mode


@given(st.binary(max_size=600), st.booleans())
@settings(max_examples=300)
def test_encode_decode_identity(data, binary):
    if not binary:
        # Text replies never contain the framing characters.
        data = bytes(b for b in data if b not in b"#$}*")
    frame = P.encode_packet(data, binary=binary)
    assert P.frame_payload(frame) == data


@given(st.binary(max_size=300).map(lambda b: b * 3))
def test_binary_runs_round_trip(data):
    frame = P.encode_packet(data, binary=True)
    body = frame[1:-3]
    assert b"#" not in body and b"$" not in body
    assert P.frame_payload(frame) == data


@given(st.lists(st.binary(max_size=64), max_size=20))
@settings(max_examples=300)
def test_decoder_never_raises_on_random_input(chunks):
    d = P.Decoder()
    for c in chunks:
        for ev in d.feed(c):
            assert isinstance(ev, (P.Packet, P.BadPacket, P.Interrupt, P.Ack, P.Nak, P.Garbage))
    # still usable afterwards: a fresh frame decodes (after closing any open one)
    evs = d.feed(b"#00$OK#9a")
    assert P.Packet(b"OK") in evs


@given(st.lists(st.binary(min_size=1, max_size=40), min_size=1, max_size=8))
def test_decoder_splits_back_to_back_frames(payloads):
    stream = b"".join(P.encode_packet(p, binary=True) for p in payloads)
    evs = P.Decoder().feed(stream)
    assert [e.data for e in evs] == payloads


@given(st.lists(st.sampled_from([b"0" * 9, b"0" * 100, b"0" * 300, b"1f", b"0", b"#", b"}", b"*", b"ab"]),
                max_size=60), st.booleans())
@settings(max_examples=200)
def test_large_replies_compress_zero_runs_and_round_trip(parts, binary):
    data = b"x" * (P.RLE_MAX_BODY + 1) + b"".join(parts)
    if not binary:
        data = bytes(b for b in data if b not in b"#$}*")
    frame = P.encode_packet(data, binary=binary)
    assert P.frame_payload(frame) == data
    body = frame[1:-3]
    i = 0
    while i < len(body):
        if body[i] == ord("}"):
            i += 2
        elif body[i] == ord("*"):
            assert body[i + 1] not in b"#$+-" and body[i + 1] <= 126
            i += 2
        else:
            i += 1


def test_large_zero_memory_reply_is_small():
    data = b"00" * 8192
    frame = P.encode_packet(data)
    assert len(frame) < 600
    assert P.frame_payload(frame) == data
