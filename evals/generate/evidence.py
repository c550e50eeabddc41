"""Risky evidence that can be planted into a host site, per taxonomy category and language.

A variant is a coherent set of products and claims that fits some host business types
(THC gummies fit a sweet shop, solvent traps an outdoor store). Pieces flagged "euphemism"
avoid the category's obvious words.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from typing import Any

from evals.generate.catalog import Item
from evals.generate.data import load, strings
from merchant_review.taxonomy import Category


@dataclass(frozen=True)
class Claim:
    """A sentence that on its own supports the variant's category."""

    text: str
    euphemism: bool


@dataclass(frozen=True)
class Variant:
    category: Category
    lang: str
    index: int
    hosts: tuple[str, ...]
    faq_q: tuple[str, ...]
    products: tuple[Item, ...]
    claims: tuple[Claim, ...]

    def pieces(self, *, euphemism: bool) -> tuple[tuple[Item, ...], tuple[Claim, ...]]:
        """The products and claims to use: only euphemistic ones for a euphemism case."""
        if not euphemism:
            return self.products, self.claims
        return (
            tuple(p for p in self.products if p.euphemism),
            tuple(c for c in self.claims if c.euphemism),
        )

    @property
    def has_euphemism(self) -> bool:
        products, claims = self.pieces(euphemism=True)
        return bool(products) and bool(claims)


def _variant(category: Category, lang: str, index: int, raw: dict[str, Any]) -> Variant:
    return Variant(
        category=category,
        lang=lang,
        index=index,
        hosts=strings(raw["hosts"]),
        faq_q=strings(raw["faq_q"]),
        products=tuple(
            Item(str(p[0]), str(p[1]), float(p[2]), float(p[3]), bool(p[4]))
            for p in raw["products"]
        ),
        claims=tuple(Claim(str(c[0]), bool(c[1])) for c in raw["claims"]),
    )


@cache
def variants(lang: str, category: Category) -> tuple[Variant, ...]:
    """All variants of a category in a language (empty when the language has none)."""
    raw = load(f"evidence_{lang}").get(category.value) or []
    return tuple(_variant(category, lang, i, v) for i, v in enumerate(raw))


def variant(lang: str, category: Category, index: int) -> Variant:
    """One variant by its position in the data file."""
    return variants(lang, category)[index]
