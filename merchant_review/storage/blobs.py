"""Page content blobs: what a fetched page showed, compressed, keyed by its sha256.

A blob holds the extracted content of a page (title, visible and hidden text, meta, image
alts, links) as canonical JSON, zlib-compressed. The key is the sha256 of the uncompressed
JSON, so the same content fetched by many reviews is stored once, and any change to a blob
is detectable by hashing it again. `codec` names the compression so a later version can
switch (e.g. to zstd) without rewriting old blobs.
"""

from __future__ import annotations

import hashlib
import json
import zlib
from dataclasses import dataclass
from typing import Any

from merchant_review.audit import canonical_bytes
from merchant_review.pages import PageSnapshot

CONTENT_FIELDS = frozenset({"title", "text", "hidden_text", "meta", "image_alts", "links"})
CODEC = "zlib"


@dataclass(frozen=True)
class EncodedContent:
    sha256: str
    codec: str
    size: int
    data: bytes


def page_content(page: PageSnapshot) -> dict[str, Any]:
    """The part of a snapshot a blob holds (the rest is the fetched_pages row)."""
    return page.model_dump(mode="json", include=set(CONTENT_FIELDS))


def encode(content: dict[str, Any]) -> EncodedContent:
    raw = canonical_bytes(content)  # UTF-8 of canonical_json(content)
    return EncodedContent(hashlib.sha256(raw).hexdigest(), CODEC, len(raw), zlib.compress(raw))


def _raw(codec: str, data: bytes) -> bytes:
    if codec != CODEC:
        raise ValueError(f"unknown page blob codec {codec!r}")
    return zlib.decompress(data)


def decode(codec: str, data: bytes) -> dict[str, Any]:
    content: dict[str, Any] = json.loads(_raw(codec, data))
    return content


def intact(sha256: str, codec: str, data: bytes) -> bool:
    """Whether a blob still hashes to its key (False also for undecodable data)."""
    try:
        return hashlib.sha256(_raw(codec, data)).hexdigest() == sha256
    except (ValueError, zlib.error):
        return False
