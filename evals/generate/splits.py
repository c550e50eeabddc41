"""Train / calibration / test assignment of dev cases, stratified by expected label.

The test split is held apart: never used for training, few-shot examples or rule tuning.
"""

from __future__ import annotations

import random
from collections import defaultdict
from typing import Any

SHARES: tuple[tuple[str, float], ...] = (("train", 0.60), ("calibration", 0.15), ("test", 0.25))


def _stratum(case: dict[str, Any]) -> str:
    expected = case["expected"]
    return f"{expected['decision']}/{'+'.join(expected['categories'])}"


def _ordered(cases: list[dict[str, Any]], rng: random.Random) -> list[str]:
    """Case ids grouped by stratum (decision first), shuffled within each group."""
    groups: dict[str, list[str]] = defaultdict(list)
    for case in cases:
        groups[_stratum(case)].append(case["case_id"])
    order = []
    for key in sorted(groups):
        ids = sorted(groups[key])
        rng.shuffle(ids)
        order += ids
    return order


def assign_splits(cases: list[dict[str, Any]], seed: int) -> dict[str, str]:
    """case_id → split; walking the stratified order, each case goes to the split furthest
    behind its target share, so every stratum is spread over the splits in proportion."""
    rng = random.Random(f"{seed}:splits")
    counts = dict.fromkeys((name for name, _ in SHARES), 0)
    chosen: dict[str, str] = {}
    for n, case_id in enumerate(_ordered(cases, rng), start=1):
        name = max(SHARES, key=lambda s: s[1] * n - counts[s[0]])[0]
        counts[name] += 1
        chosen[case_id] = name
    return dict(sorted(chosen.items()))
