"""Which merchants a challenger shadows: a seeded hash of the merchant id, not a coin flip.

`bucket(seed, merchant)` maps a merchant to a number in [0, 1) that depends on nothing
else: the same merchant lands in the same place in every run, on every machine, so a
merchant stays in or out of the experiment, and growing the share from 0.1 to 0.2 keeps
every merchant that was in. A different seed (each configuration has its own) gives an
independent assignment, so two challengers do not shadow the same merchants by design.
"""

from __future__ import annotations

import hashlib

_SCALE = float(2**64)


def bucket(seed: str, merchant_id: str) -> float:
    """The merchant's place in [0, 1) under this seed (sha256, first 8 bytes)."""
    digest = hashlib.sha256(f"{seed}\x00{merchant_id}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / _SCALE


def assigned(seed: str, merchant_id: str, share: float) -> bool:
    """Whether the challenger also reviews this merchant."""
    return bucket(seed, merchant_id) < share
