"""The RSP packet layer: framing, checksums, acks, escaping and run-length coding.

Pure code: nothing here touches a socket.  `Decoder` turns a byte stream into
events; `encode_packet` turns a reply payload into a frame; `PacketProtocol`
adds the acknowledgement rules (ack mode, retransmit on ``-``, no-ack mode) on
top of both.

Wire format (GDB manual, "Overview" of the remote protocol)::

    $<data>#<two hex digits of (sum of data bytes) mod 256>

* Escaping: ``}`` followed by the original byte XOR 0x20.  Bytes that must be
  escaped inside a frame: ``#`` ``$`` ``}`` and ``*``.  gdb escapes only the
  binary parts of packets (``X``, ``vFile``), and unescapes only the binary parts
  of replies (``qXfer``); we therefore escape outgoing payloads only when the
  caller says they are binary.
* Run-length encoding: ``c*n`` means ``c`` followed by ``ord(n) - 29`` more
  copies of ``c``.  gdb expands runs on the raw frame *before* it unescapes the
  binary parts, so the encoder here only compresses runs of plain (unescaped)
  characters, and never emits a count byte that is ``#``, ``$``, ``+`` or ``-``
  (counts 6, 7, 14, 16) or above ``~`` (count 97).
* 0x03 outside a frame is an interrupt request (Ctrl-C).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from typing import Iterator, List, Optional, Union

# The PacketSize we advertise in qSupported (payload bytes, not framing).
PACKET_SIZE = 0x10000
# Most data bytes in one qXfer reply: escaping may double them, and the
# reply must stay within the PacketSize we advertise.
XFER_MAX = (PACKET_SIZE - 1) // 2

ESCAPE = 0x7D  # '}'
RLE_MARK = 0x2A  # '*'
START = 0x24  # '$'
END = 0x23  # '#'
INTERRUPT = 0x03
MUST_ESCAPE = frozenset(b"#$}*")

RLE_MIN_EXTRA = 3  # ' ' - 29
RLE_MAX_EXTRA = 97  # '~' - 29
RLE_FORBIDDEN_EXTRA = frozenset(ch - 29 for ch in b"#$+-")  # 6, 7, 14, 16

# Longest frame we accept, raw body and decoded payload alike (run-length
# counts are checked against it before anything is expanded), on every path
# through the decoder.  Must be at least the PacketSize we advertise.
MAX_FRAME = 0x80000


class FrameError(ValueError):
    """A frame that cannot be decoded: too long once expanded, or an escape
    ``}`` with nothing after it."""


# --------------------------------------------------------------------- events


@dataclass(frozen=True)
class Packet:
    """A well-formed frame; `data` is unescaped and run-length expanded."""

    data: bytes


@dataclass(frozen=True)
class BadPacket:
    """A frame whose checksum did not match (or that could not be decoded)."""

    raw: bytes
    reason: str


@dataclass(frozen=True)
class Interrupt:
    """The 0x03 byte sent by gdb for Ctrl-C."""


@dataclass(frozen=True)
class Ack:
    """``+``"""


@dataclass(frozen=True)
class Nak:
    """``-``: the peer wants the last packet again."""


@dataclass(frozen=True)
class Garbage:
    """Bytes outside any frame that mean nothing."""

    data: bytes


Event = Union[Packet, BadPacket, Interrupt, Ack, Nak, Garbage]


# ------------------------------------------------------------------ checksums


def checksum(body: bytes) -> int:
    return sum(body) & 0xFF


# ------------------------------------------------------------------- escaping

_ESCAPE_RE = re.compile(rb"[#$}*]")
_UNESCAPE_RE = re.compile(rb"}(.)", re.DOTALL)


def escape(data: bytes) -> bytes:
    return _ESCAPE_RE.sub(lambda m: bytes((ESCAPE, m.group()[0] ^ 0x20)), data)


def unescape(data: bytes) -> bytes:
    """Undo `escape`.  A trailing lone ``}`` is kept as is (never raises)."""
    if ESCAPE not in data:
        return data
    return _UNESCAPE_RE.sub(lambda m: bytes((m.group(1)[0] ^ 0x20,)), data)


def unescape_strict(data: bytes) -> bytes:
    """`unescape`, but a ``}`` with nothing to escape is a `FrameError`
    (``X1000,1:}`` must not write 0x7d)."""
    if ESCAPE not in data:
        return data
    if ESCAPE in _UNESCAPE_RE.sub(b"", data):
        raise FrameError("unmatched escape '}'")
    return unescape(data)


# ----------------------------------------------------------- run-length coding
#
# gdb expands runs on the raw frame body, before it unescapes binary data, and
# repeats the raw byte before the ``*``.  Encoding and decoding here work on
# the raw (escaped) body the same way, so any run of identical raw bytes may
# be compressed, including one that starts with the second byte of an escape
# pair.  ``}`` itself never repeats in an escaped body (it is always followed
# by one of \x03 \x04 ] \x0a), and ``*`` is never compressed.

_RUN_RE = re.compile(rb"([^*}])\1{3,}", re.DOTALL)


@lru_cache(maxsize=4096)
def _run_bytes(ch: bytes, length: int) -> bytes:
    """The encoding of `length` copies of the byte `ch`."""
    extra = length - 1
    out = bytearray(ch)
    while extra > 0:
        k = min(extra, RLE_MAX_EXTRA)
        while k in RLE_FORBIDDEN_EXTRA:
            k -= 1
        if k < RLE_MIN_EXTRA:
            out += ch * extra
            break
        out.append(RLE_MARK)
        out.append(k + 29)
        extra -= k
        if extra > 0:
            # Start a new run with a literal copy of the byte.
            out += ch
            extra -= 1
    return bytes(out)


def _encode_run(m) -> bytes:
    start, end = m.span()
    return _run_bytes(m.group(1), end - start)


def rle_encode(body: bytes) -> bytes:
    """Run-length encode a raw (already escaped) frame body."""
    return _RUN_RE.sub(_encode_run, body)


def rle_decode(body: bytes, limit: Optional[int] = None) -> bytes:
    """Expand ``c*n`` runs in a raw frame body, as gdb does (before unescaping).

    A ``*`` with nothing before it, or without a count byte, is kept literally;
    an escape pair is copied whole (its second byte is never a run marker).
    Raises `FrameError` only if the expansion would pass `limit` bytes
    (checked before each run is expanded).
    """
    if RLE_MARK not in body:
        return body
    out = bytearray()
    i, n = 0, len(body)
    while i < n:
        j = body.find(b"*", i)
        if j < 0:
            out += body[i:]
            break
        # Is this '*' the second byte of an escape pair?  Count the '}' before it.
        out += body[i:j]
        k = j
        while k > 0 and body[k - 1] == ESCAPE:
            k -= 1
        if (j - k) % 2 == 1:
            out.append(RLE_MARK)
            i = j + 1
            continue
        if j > 0 and j + 1 < n:
            count = body[j + 1] - 29
            if count > 0:
                if limit is not None and len(out) + count > limit:
                    raise FrameError("frame too long once run-length expanded")
                out += out[-1:] * count
            i = j + 2
        else:
            out.append(RLE_MARK)
            i = j + 1
    if limit is not None and len(out) > limit:
        raise FrameError("frame too long once run-length expanded")
    return bytes(out)


def decode_body(body: bytes) -> bytes:
    """Raw frame body -> payload (run-length expanded, then unescaped).
    Raises `FrameError` for a payload over MAX_FRAME or an unmatched escape."""
    if len(body) > MAX_FRAME:
        raise FrameError("frame too long")
    return unescape_strict(rle_decode(body, MAX_FRAME))


# Replies up to this size get full run-length coding.  Longer ones (bulk
# memory reads) only get their runs of '0' compressed: finding arbitrary runs
# costs about 0.1 us per byte with Python's re (1.5 ms per 16 KiB reply),
# more than gdb 13 spends reading the bytes saved, while runs of '0' (zeroed
# memory, the common case) are found with bytes.find at memchr speed and save
# gdb, which reads replies a character at a time, most of its work.
RLE_MAX_BODY = 2048
_ZERO_RUN_SEED = b"0" * 8
_ZEROS = re.compile(rb"0+")


def rle_zero_runs(body: bytes) -> bytes:
    """Compress only runs of 8 or more '0' (never part of an escape pair)."""
    i = body.find(_ZERO_RUN_SEED)
    if i < 0:
        return body
    out = bytearray()
    start = 0
    while i >= 0:
        end = _ZEROS.match(body, i).end()
        out += body[start:i]
        out += _run_bytes(b"0", end - i)
        start = end
        i = body.find(_ZERO_RUN_SEED, end)
    out += body[start:]
    return bytes(out)


def encode_packet(payload: bytes, *, binary: bool = False, rle: bool = True) -> bytes:
    """Frame a reply payload: optional escaping, run-length encoding, checksum."""
    if rle and len(payload) <= RLE_MAX_BODY:
        return _encode_small(payload, binary)
    body = escape(payload) if binary else payload
    if rle:
        body = rle_zero_runs(body)
    return b"$" + body + b"#" + b"%02x" % checksum(body)


@lru_cache(maxsize=512)
def _encode_small(payload: bytes, binary: bool) -> bytes:
    # Memoised: gdb asks for the same short replies over and over while the
    # target is stopped (g, p, OK, qfThreadInfo...).
    body = escape(payload) if binary else payload
    if len(body) <= RLE_MAX_BODY:
        body = rle_encode(body)
    return b"$" + body + b"#" + b"%02x" % checksum(body)


def frame_payload(frame: bytes) -> Optional[bytes]:
    """Decode one complete frame ``$...#cs`` (for logs and tests).

    Returns None if it is not a valid frame.
    """
    events = list(Decoder().feed(frame))
    if len(events) == 1 and isinstance(events[0], Packet):
        return events[0].data
    return None


# -------------------------------------------------------------------- decoder

_IDLE, _BODY, _CS1, _CS2 = range(4)
_HEX = b"0123456789abcdefABCDEF"
_FRAME_STOP = re.compile(rb"[#$]")
_WHOLE_FRAME = re.compile(rb"\$([^#$]*)#([0-9a-fA-F]{2})")


class Decoder:
    """Incremental decoder: feed it bytes, get events.  Never raises."""

    def __init__(self) -> None:
        self._state = _IDLE
        self._body = bytearray()
        self._cs = bytearray()
        self._garbage = bytearray()

    def _flush_garbage(self) -> List[Event]:
        if self._garbage:
            g = Garbage(bytes(self._garbage))
            self._garbage.clear()
            return [g]
        return []

    def feed(self, data: bytes) -> List[Event]:
        events: List[Event] = []
        i, n = 0, len(data)
        while i < n:
            st = self._state
            if st == _IDLE and not self._garbage:
                # Fast path: a whole frame (the usual case) in one regex match.
                m = _WHOLE_FRAME.match(data, i)
                if m is not None:
                    body = m.group(1)
                    if len(body) > MAX_FRAME:
                        events.append(BadPacket(body[:64], "frame too long"))
                    elif int(m.group(2), 16) == checksum(body):
                        events.append(_decoded(body, m.group()))
                    else:
                        events.append(BadPacket(m.group(), "checksum mismatch"))
                    i = m.end()
                    continue
            if st == _BODY:
                # Fast path: copy up to the next '#' or '$' in one slice.
                m = _FRAME_STOP.search(data, i)
                j = m.start() if m else n
                room = MAX_FRAME - len(self._body)
                if j - i > room:
                    self._body += data[i : i + room]
                    events.append(BadPacket(bytes(self._body[:64]), "frame too long"))
                    self._body.clear()
                    self._state = _IDLE
                    i += room
                    continue
                self._body += data[i:j]
                i = j
                if i >= n:
                    break
                b = data[i]
                i += 1
                if b == END:
                    self._state = _CS1
                    self._cs.clear()
                else:
                    # A new frame started before this one ended: drop the old one.
                    events.append(Garbage(b"$" + bytes(self._body)))
                    self._body.clear()
                continue
            b = data[i]
            i += 1
            if st == _IDLE:
                if b == START:
                    events += self._flush_garbage()
                    self._state = _BODY
                    self._body.clear()
                elif b == ord("+"):
                    events += self._flush_garbage()
                    events.append(Ack())
                elif b == ord("-"):
                    events += self._flush_garbage()
                    events.append(Nak())
                elif b == INTERRUPT:
                    events += self._flush_garbage()
                    events.append(Interrupt())
                else:
                    self._garbage.append(b)
            else:  # checksum digits
                self._cs.append(b)
                if st == _CS1:
                    self._state = _CS2
                    continue
                self._state = _IDLE
                body = bytes(self._body)
                raw = b"$" + body + b"#" + bytes(self._cs)
                if any(c not in _HEX for c in self._cs):
                    events.append(BadPacket(raw, "checksum is not hex"))
                elif int(self._cs, 16) != checksum(body):
                    events.append(BadPacket(raw, "checksum mismatch"))
                else:
                    events.append(_decoded(body, raw))
        events += self._flush_garbage()
        return events


def _decoded(body: bytes, raw: bytes) -> Event:
    try:
        return Packet(decode_body(body))
    except FrameError as e:
        return BadPacket(raw[:64], str(e))


# --------------------------------------------------------------- ack protocol


class PacketProtocol:
    """Acknowledgements on top of the decoder and the encoder.

    `receive(data)` returns ``(events, to_send)``: the events the upper layer
    cares about (`Packet`, `Interrupt`; `BadPacket` and `Garbage` for logging)
    and the bytes to write back (acks, retransmissions).  `send(payload)`
    returns the bytes of the framed reply and remembers it for retransmission.
    """

    def __init__(self, rle: bool = True) -> None:
        self.decoder = Decoder()
        self.ack_mode = True
        self.rle = rle
        self.last_sent: Optional[bytes] = None
        self.retransmits = 0

    def receive(self, data: bytes):
        events: List[Event] = []
        out = bytearray()
        for ev in self.decoder.feed(data):
            if isinstance(ev, Packet):
                if self.ack_mode:
                    out += b"+"
                events.append(ev)
            elif isinstance(ev, BadPacket):
                if self.ack_mode:
                    out += b"-"
                events.append(ev)
            elif isinstance(ev, Nak):
                if self.ack_mode and self.last_sent is not None:
                    self.retransmits += 1
                    out += self.last_sent
            elif isinstance(ev, Ack):
                pass
            else:
                events.append(ev)
        return events, bytes(out)

    def send(self, payload: bytes, *, binary: bool = False) -> bytes:
        frame = encode_packet(payload, binary=binary, rle=self.rle)
        self.last_sent = frame if self.ack_mode else None
        return frame

    def start_no_ack(self) -> None:
        self.ack_mode = False
        self.last_sent = None
