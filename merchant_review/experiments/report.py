"""`experiment report CONFIG`: the challenger against the champion on shared merchants.

Figures, from the pairs (pairs.py):

- the agreement matrix of decisions (champion rows, challenger columns), the disagreement
  rate with an always-valid 95% confidence sequence;
- every disagreement with both verdicts and their citations;
- per configuration: model calls, tokens, cost (the configuration's prices, else the
  settings' prices per model, MERCHANT_REVIEW_PRICES; None when neither knows the model)
  and latency
  per review;
- on labelled pairs (an analyst overrode or confirmed the champion's verdict): each
  configuration's accuracy against the analyst's decision with a Wilson interval. Analysts
  are sent the disagreements first (the web queue), so these accuracies describe the
  labelled pairs, not all traffic; the paired sequential test is what decides;
- the sequential test (stats.py): promote, stop or continue.
"""

from __future__ import annotations

import statistics
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from merchant_review.experiments import configs
from merchant_review.experiments.pairs import Pair, Side, load_pairs
from merchant_review.experiments.spec import ConfigSpec
from merchant_review.experiments.stats import (
    Interval,
    SequentialTest,
    confidence_sequence,
    sequential_test,
    wilson,
)
from merchant_review.providers import ModelPrice, estimated_cost
from merchant_review.storage import Store
from merchant_review.taxonomy import Decision

DECISIONS = [d.value for d in Decision]


@dataclass(frozen=True)
class Usage:
    """Per review means of one configuration over the pairs."""

    reviews: int
    llm_calls: float
    prompt_tokens: float
    completion_tokens: float
    cost_usd: float | None  # None: tokens were used on a model with no known price
    latency_ms_mean: float
    latency_ms_p50: float
    errors: int

    @classmethod
    def of(cls, sides: list[Side], spec: ConfigSpec, prices: dict[str, ModelPrice]) -> Usage:
        n = len(sides) or 1
        latencies = [s.latency_ms for s in sides] or [0.0]
        return cls(
            reviews=len(sides),
            llm_calls=sum(s.llm_calls for s in sides) / n,
            prompt_tokens=sum(s.prompt_tokens for s in sides) / n,
            completion_tokens=sum(s.completion_tokens for s in sides) / n,
            cost_usd=_mean_cost(sides, spec, prices),
            latency_ms_mean=statistics.fmean(latencies),
            latency_ms_p50=statistics.median(latencies),
            errors=sum(1 for s in sides if s.error),
        )

    def record(self) -> dict[str, Any]:
        return dict(self.__dict__)


@dataclass
class ExperimentReport:
    config: str
    champion: str
    alpha: float
    pairs: int
    merchants: int
    matrix: dict[str, dict[str, int]]
    disagreement: Interval | None
    disagreements: list[Pair]
    usage: dict[str, Usage]
    labelled: int
    accuracy: dict[str, Interval | None]
    test: SequentialTest
    specs: dict[str, str] = field(default_factory=dict)
    # side -> versions the reviews actually ran with -> how many reviews
    versions: dict[str, dict[str, int]] = field(default_factory=dict)

    @property
    def decision(self) -> str:
        return self.test.decision

    def record(self) -> dict[str, Any]:
        return {
            "config": self.config,
            "champion": self.champion,
            "specs": self.specs,
            "versions": self.versions,
            "pairs": self.pairs,
            "merchants": self.merchants,
            "agreement_matrix": self.matrix,
            "disagreement_rate": _interval(self.disagreement),
            "disagreements": [_disagreement(p) for p in self.disagreements],
            "usage_per_review": {k: v.record() for k, v in self.usage.items()},
            "labelled_pairs": self.labelled,
            "accuracy": {k: _interval(v) for k, v in self.accuracy.items()},
            "sequential_test": self.test.record(),
            "decision": self.decision,
        }


def _mean_cost(sides: list[Side], spec: ConfigSpec, prices: dict[str, ModelPrice]) -> float | None:
    """Dollars per review: the configuration's prices, else the settings' for the model."""
    total = 0.0
    for side in sides:
        if spec.priced:
            total += spec.cost(side.prompt_tokens, side.completion_tokens)
            continue
        if side.prompt_tokens + side.completion_tokens == 0:
            continue
        cost = estimated_cost(prices, side.model, side.prompt_tokens, side.completion_tokens)
        if cost is None:
            return None
        total += cost
    return total / (len(sides) or 1)


def _interval(value: Interval | None) -> dict[str, float] | None:
    return value.record() if value else None


def _disagreement(pair: Pair) -> dict[str, Any]:
    label = pair.label
    return {
        "merchant_id": pair.merchant_id,
        "champion": pair.champion.record(),
        "challenger": pair.challenger.record(),
        "analyst": None
        if label is None
        else {"decision": label.decision, "categories": label.categories, "by": label.analyst},
    }


def matrix(pairs: list[Pair]) -> dict[str, dict[str, int]]:
    """counts[champion decision][challenger decision]."""
    counts = {row: dict.fromkeys(DECISIONS, 0) for row in DECISIONS}
    for pair in pairs:
        counts[pair.champion.decision][pair.challenger.decision] += 1
    return counts


def build(
    pairs: list[Pair],
    config: str,
    champion: str,
    specs: dict[str, ConfigSpec],
    alpha: float,
    prices: dict[str, ModelPrice] | None = None,
) -> ExperimentReport:
    """The report over `pairs` (pure: the tests construct pairs with known answers)."""
    disagreements = [p for p in pairs if not p.agree]
    labelled = [p for p in pairs if p.label is not None]
    right = {
        "champion": [p.champion.decision == p.label.decision for p in labelled if p.label],
        "challenger": [p.challenger.decision == p.label.decision for p in labelled if p.label],
    }
    paired = list(zip(right["champion"], right["challenger"], strict=True))
    wins = sum(1 for a, b in paired if b and not a)
    losses = sum(1 for a, b in paired if a and not b)
    return ExperimentReport(
        config=config,
        champion=champion,
        alpha=alpha,
        pairs=len(pairs),
        merchants=len({p.merchant_id for p in pairs}),
        matrix=matrix(pairs),
        disagreement=confidence_sequence(len(disagreements), len(pairs), alpha),
        disagreements=disagreements,
        usage={
            "champion": Usage.of([p.champion for p in pairs], specs["champion"], prices or {}),
            "challenger": Usage.of(
                [p.challenger for p in pairs], specs["challenger"], prices or {}
            ),
        },
        labelled=len(labelled),
        accuracy={k: wilson(sum(v), len(v), 1 - alpha) for k, v in right.items()},
        test=sequential_test(wins, losses, alpha),
        specs={k: v.describe() for k, v in specs.items()},
        versions={
            "champion": dict(Counter(p.champion.versions for p in pairs)),
            "challenger": dict(Counter(p.challenger.versions for p in pairs)),
        },
    )


def experiment_report(
    store: Store, name: str, alpha: float = 0.05, prices: dict[str, ModelPrice] | None = None
) -> ExperimentReport:
    """The report of challenger `name` against the current champion."""
    challenger, champion = configs.challenger(store, name)
    specs = {"champion": champion.spec, "challenger": challenger.spec}
    return build(load_pairs(store, name), name, champion.name, specs, alpha, prices)
