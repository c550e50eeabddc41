"""Read a response body within a byte cap, decompressing it ourselves, boundedly.

httpx inflates gzip/deflate bodies chunk by chunk with no output limit: one 64 KiB chunk
of a gzip bomb becomes ~64 MB in memory before any cap can look at it. Here the raw bytes
are read (`aiter_raw`) and inflated with zlib's `max_length`, so no more than the cap
(plus one byte, to tell "exactly full" from "truncated") is ever produced. Only the
encodings the crawler asks for (`ACCEPT_ENCODING`) are read; any other is an error.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass

import httpx

ACCEPT_ENCODING = "gzip, deflate"
_IDENTITY = {"", "identity"}
_WBITS = {"gzip": 16 + zlib.MAX_WBITS, "x-gzip": 16 + zlib.MAX_WBITS, "deflate": zlib.MAX_WBITS}


class BodyError(Exception):
    """The body cannot be read: an encoding not asked for, or corrupt compressed data."""


@dataclass
class _Inflater:
    """zlib inflation with a cap on the output of every call."""

    encoding: str
    raw_fallback: bool  # "deflate" is sometimes sent without its zlib header
    started: bool = False

    def __post_init__(self) -> None:
        self._zlib = zlib.decompressobj(_WBITS[self.encoding])

    def inflate(self, chunk: bytes, room: int) -> bytes:
        """Up to room + 1 bytes of output for this chunk (more than room means: over cap)."""
        try:
            out = self._zlib.decompress(chunk, room + 1)
        except zlib.error as exc:
            if not self.raw_fallback or self.started:
                raise BodyError(f"corrupt {self.encoding} body: {exc}") from exc
            self._zlib = zlib.decompressobj(-zlib.MAX_WBITS)
            self.raw_fallback = False
            return self.inflate(chunk, room)
        self.started = True
        return out


def _inflater(content_encoding: str | None) -> _Inflater | None:
    """None for an unencoded body; BodyError for an encoding the crawler did not offer."""
    encodings = [e.strip().lower() for e in (content_encoding or "").split(",")]
    encodings = [e for e in encodings if e not in _IDENTITY]
    if not encodings:
        return None
    if len(encodings) > 1 or encodings[0] not in _WBITS:
        raise BodyError(f"unsupported content-encoding {content_encoding!r}")
    return _Inflater(encodings[0], raw_fallback=encodings[0] == "deflate")


async def read_limited(response: httpx.Response, max_bytes: int) -> tuple[bytes, bool]:
    """The decoded body up to max_bytes: (bytes, truncated). Raises BodyError."""
    inflater = _inflater(response.headers.get("content-encoding"))
    chunks: list[bytes] = []
    size = 0
    async for raw in response.aiter_raw():
        room = max_bytes - size
        chunk = raw if inflater is None else inflater.inflate(raw, room)
        if len(chunk) > room:
            chunks.append(chunk[:room])
            return b"".join(chunks), True
        chunks.append(chunk)
        size += len(chunk)
    return b"".join(chunks), False


# Bytes that never occur in text (WHATWG MIME Sniffing, "binary data byte").
_BINARY_BYTES = frozenset([*range(0x00, 0x09), 0x0B, *range(0x0E, 0x1B), *range(0x1C, 0x20)])
_TEXT_BOMS = (b"\xef\xbb\xbf", b"\xff\xfe", b"\xfe\xff")
SNIFF_BYTES = 1445  # how much of the body the MIME Sniffing standard looks at


def looks_binary(data: bytes) -> bool:
    """True when over 1% of the body's start are bytes no text has (a text BOM excepted).

    A server may label anything text/html; parsed as HTML, random bytes turn into a page
    of replacement characters that looks like an odd but "operating" site. A stray NUL in
    a real page stays under the threshold.
    """
    if data.startswith(_TEXT_BOMS):
        return False
    head = data[:SNIFF_BYTES]
    return sum(1 for byte in head if byte in _BINARY_BYTES) * 100 > len(head)
