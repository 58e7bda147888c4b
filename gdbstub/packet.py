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

from dataclasses import dataclass
from typing import Iterator, List, Optional, Union

ESCAPE = 0x7D  # '}'
RLE_MARK = 0x2A  # '*'
START = 0x24  # '$'
END = 0x23  # '#'
INTERRUPT = 0x03
MUST_ESCAPE = frozenset(b"#$}*")

RLE_MIN_EXTRA = 3  # ' ' - 29
RLE_MAX_EXTRA = 97  # '~' - 29
RLE_FORBIDDEN_EXTRA = frozenset(ch - 29 for ch in b"#$+-")  # 6, 7, 14, 16

# Longest frame body we accept before calling the input garbage.  Must be at
# least the PacketSize we advertise in qSupported.
MAX_FRAME = 0x10000


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


def escape(data: bytes) -> bytes:
    out = bytearray()
    for b in data:
        if b in MUST_ESCAPE:
            out.append(ESCAPE)
            out.append(b ^ 0x20)
        else:
            out.append(b)
    return bytes(out)


def unescape(data: bytes) -> bytes:
    """Undo `escape`.  A trailing lone ``}`` is kept as is (never raises)."""
    out = bytearray()
    i, n = 0, len(data)
    while i < n:
        b = data[i]
        if b == ESCAPE and i + 1 < n:
            out.append(data[i + 1] ^ 0x20)
            i += 2
        else:
            out.append(b)
            i += 1
    return bytes(out)


# ----------------------------------------------------------- run-length coding


def _tokens(body: bytes) -> Iterator[bytes]:
    """Split an escaped body into tokens: a ``}x`` pair or one plain byte."""
    i, n = 0, len(body)
    while i < n:
        if body[i] == ESCAPE and i + 1 < n:
            yield body[i : i + 2]
            i += 2
        else:
            yield body[i : i + 1]
            i += 1


def rle_encode(body: bytes) -> bytes:
    """Run-length encode an (already escaped) frame body.

    Only runs of identical plain bytes are compressed; escape pairs and the
    bytes ``*``/``}`` themselves are copied verbatim so that decoding in either
    order (expand-then-unescape as gdb does, or token-wise) gives the same
    result.
    """
    toks = list(_tokens(body))
    out = bytearray()
    i, n = 0, len(toks)
    while i < n:
        tok = toks[i]
        j = i + 1
        if len(tok) == 1 and tok[0] not in (RLE_MARK, ESCAPE):
            while j < n and toks[j] == tok:
                j += 1
        run = j - i
        out += tok
        extra = run - 1
        while extra > 0:
            k = min(extra, RLE_MAX_EXTRA)
            while k in RLE_FORBIDDEN_EXTRA:
                k -= 1
            if k < RLE_MIN_EXTRA:
                out += tok * extra
                break
            out.append(RLE_MARK)
            out.append(k + 29)
            extra -= k
            if extra > 0:
                # Start a new run with a literal copy of the byte.
                out += tok
                extra -= 1
        i = j
    return bytes(out)


def rle_decode(body: bytes) -> bytes:
    """Expand ``c*n`` runs in a raw frame body (escape pairs are kept intact).

    A ``*`` with nothing before it or without a count byte is kept literally;
    this never raises.
    """
    out = bytearray()
    i, n = 0, len(body)
    last: Optional[int] = None
    while i < n:
        b = body[i]
        if b == ESCAPE and i + 1 < n:
            out += body[i : i + 2]
            last = body[i + 1]  # gdb repeats the raw byte it last stored
            i += 2
        elif b == RLE_MARK and last is not None and i + 1 < n:
            count = body[i + 1] - 29
            if count > 0:
                out += bytes([last]) * count
            i += 2
        else:
            out.append(b)
            last = b
            i += 1
    return bytes(out)


def decode_body(body: bytes) -> bytes:
    """Raw frame body -> payload (run-length expanded, then unescaped)."""
    return unescape(rle_decode(body))


def encode_packet(payload: bytes, *, binary: bool = False, rle: bool = True) -> bytes:
    """Frame a reply payload: optional escaping, run-length encoding, checksum."""
    body = escape(payload) if binary else payload
    if rle:
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
        for b in data:
            st = self._state
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
            elif st == _BODY:
                if b == END:
                    self._state = _CS1
                    self._cs.clear()
                elif b == START:
                    # A new frame started before this one ended: drop the old one.
                    events.append(Garbage(b"$" + bytes(self._body)))
                    self._body.clear()
                elif len(self._body) >= MAX_FRAME:
                    events.append(BadPacket(bytes(self._body[:64]), "frame too long"))
                    self._body.clear()
                    self._state = _IDLE
                    self._garbage.append(b)
                else:
                    self._body.append(b)
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
                    events.append(Packet(decode_body(body)))
        events += self._flush_garbage()
        return events


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
