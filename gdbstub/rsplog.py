"""Packet logs in gdbserver's ``--remote-debug`` style, and their parser.

    getpkt ("qSupported:multiprocess+;swbreak+");  [sent ack]
    putpkt ("$PacketSize=4000;...#8e");
    interrupt ();

Payload bytes outside printable ASCII, and backslash and double quote, are
written as ``\\xNN``.  `parse_log` reads such a file back (tests replay them).
"""

from __future__ import annotations

import re
from typing import IO, Iterator, Optional, Tuple



_QUOTE_RE = re.compile(rb'[^\x20-\x7e]|[\\"]')


def quote(data: bytes) -> str:
    return _QUOTE_RE.sub(lambda m: b"\\x%02x" % m.group()[0], data).decode("ascii")


def unquote(text: str) -> bytes:
    out = bytearray()
    i = 0
    while i < len(text):
        if text.startswith("\\x", i):
            out.append(int(text[i + 2 : i + 4], 16))
            i += 4
        else:
            out.append(ord(text[i]))
            i += 1
    return bytes(out)


class RspLog:
    def __init__(self, stream: Optional[IO[str]]):
        self.stream = stream

    def _w(self, line: str) -> None:
        if self.stream is not None:
            try:
                self.stream.write(line + "\n")
                self.stream.flush()
            except (OSError, ValueError):   # a full disk or a closed pipe: log no more
                self.stream = None

    def getpkt(self, payload: bytes, note: str = "") -> None:
        if self.stream is None:
            return
        self._w(f'getpkt ("{quote(payload)}");' + (f"  [{note}]" if note else ""))

    def putpkt(self, frame: bytes, note: str = "") -> None:
        if self.stream is None:
            return
        self._w(f'putpkt ("{quote(frame)}");' + (f"  [{note}]" if note else ""))

    def interrupt(self) -> None:
        self._w("interrupt ();")

    def note(self, text: str) -> None:
        self._w(f"# {text}")


_LINE = re.compile(r'^(getpkt|putpkt) \("(.*)"\);')


def parse_log(lines) -> Iterator[Tuple[str, bytes]]:
    """Yield ("getpkt", payload) / ("putpkt", frame) / ("interrupt", b"")."""
    for line in lines:
        line = line.rstrip("\n")
        if line.startswith("interrupt ();"):
            yield "interrupt", b""
            continue
        m = _LINE.match(line)
        if m:
            yield m.group(1), unquote(m.group(2))
