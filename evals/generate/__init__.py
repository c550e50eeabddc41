"""The dev-set generator: seeded, realistic multi-page merchant sites with labels.

`python -m evals.generate --out evals/datasets --seed 20261128` writes `dev/` and
`dev-noisy/`; the same seed gives byte-identical files. See evals/DATASETS.md.
"""

from __future__ import annotations

import json
import random
from collections import Counter
from pathlib import Path
from typing import Any

from evals.generate.build import BuiltCase, build_case
from evals.generate.noise import apply_noise, noise_report, plan_noise
from evals.generate.plan import Blank, CaseSpec, build_plan
from evals.generate.splits import assign_splits
from evals.generate.writer import jsonl, write_dataset

DEV_SEED = 20261128
INJECTION_SHARE = 0.15

__all__ = ["DEV_SEED", "generate"]


def _injection_targets(seed: int, plan: list[CaseSpec]) -> set[int]:
    """Indexes of the cases (with a site) that get a prompt injection."""
    eligible = [i for i, spec in enumerate(plan) if spec.blank is not Blank.UNREACHABLE]
    rng = random.Random(f"{seed}:injections")
    return set(rng.sample(eligible, round(len(eligible) * INJECTION_SHARE)))


def _build(seed: int, plan: list[CaseSpec]) -> list[BuiltCase]:
    targets = _injection_targets(seed, plan)
    used_hosts: set[str] = set()
    return [
        build_case(seed, f"dev-{n:04d}", spec, used_hosts, inject=n - 1 in targets)
        for n, spec in enumerate(plan, start=1)
    ]


def _stats(cases: list[dict[str, Any]]) -> dict[str, Any]:
    decisions = Counter(c["expected"]["decision"] for c in cases)
    categories = Counter(cat for c in cases for cat in c["expected"]["categories"])
    return {
        "cases": len(cases),
        "decisions": dict(sorted(decisions.items())),
        "categories": dict(sorted(categories.items())),
    }


def generate(out: Path, *, seed: int = DEV_SEED, count: int | None = None) -> dict[str, Any]:
    """Write OUT/dev and OUT/dev-noisy; `count` keeps only the first cases (for tests)."""
    plan = build_plan(random.Random(seed))[:count]
    built = _build(seed, plan)
    cases = [b.case for b in built]
    sites = {b.case["case_id"]: b.files for b in built if b.files}
    splits = json.dumps(assign_splits(cases, seed), indent=1) + "\n"
    notes = jsonl(b.annotation for b in built)
    write_dataset(out / "dev", cases, sites, {"splits.json": splits, "annotations.jsonl": notes})
    changes = plan_noise(cases, seed, set(sites))
    noisy = apply_noise(cases, changes)
    report = noise_report(changes, len(cases))
    write_dataset(out / "dev-noisy", noisy, sites, {"splits.json": splits, "NOISE.md": report})
    return _stats(cases) | {"noisy_changes": len(changes)}
