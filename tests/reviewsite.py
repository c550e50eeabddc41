"""A one-rule corpus and the gummies.example site shared by the graph-level review tests."""

from __future__ import annotations

from pathlib import Path

from merchant_review.policy import PolicyCorpus, PolicyRule
from merchant_review.taxonomy import Category

SITES = Path(__file__).parent / "fixtures" / "review_sites"
HOST = "gummies.example"
NIGHT = f"https://{HOST}/shop/night.html"


def thc_corpus() -> PolicyCorpus:
    """A corpus of one rule, so tests do not depend on the shipped rule texts."""
    rule = PolicyRule(
        id="illegal_drugs.thc",
        category=Category.ILLEGAL_DRUGS,
        tier=Category.ILLEGAL_DRUGS.tier,
        title="THC products",
        description="Products containing THC.",
    )
    return PolicyCorpus([rule], version="corpus-test", source=SITES)
