"""What the dev set contains: one `CaseSpec` per case, before any page is written.

The composition is fixed (see DATASETS.md); the seeded generator only picks which business
types, variants and euphemisms fill each slot, then shuffles the cases so that case ids say
nothing about labels.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from enum import StrEnum
from itertools import cycle, islice

from evals.generate.catalog import BusinessKind, business, dedicated_for, family, keys_of
from evals.generate.evidence import Variant, variants
from merchant_review.taxonomy import Category, Tier

C = Category
PROHIBITED = [c for c in Category if c.tier is Tier.PROHIBITED]
RESTRICTED = [c for c in Category if c.tier is Tier.RESTRICTED]
# Site types a laundering merchant typically hides behind a harmless declaration.
LAUNDERING_SITES = (
    "electronics",
    "handbags",
    "shoe_store",
    "jewelry",
    "cosmetics",
    "software_store",
    "womens_fashion",
    "toy_store",
)


class Kind(StrEnum):
    CLEAN = "clean"
    LOOKALIKE = "lookalike"
    RISKY = "risky"
    MISMATCH = "mismatch"
    ESCALATE = "escalate"


class Blank(StrEnum):
    """Sites that show no business (escalate)."""

    UNREACHABLE = "unreachable"
    PARKED = "parked"
    CONSTRUCTION = "construction"
    EMPTY = "empty"


@dataclass(frozen=True)
class Plant:
    """Evidence of one category planted into the site (a variant of evidence.py)."""

    category: Category
    variant: int
    euphemism: bool = False


@dataclass(frozen=True)
class CaseSpec:
    kind: Kind
    lang: str
    site: str  # business type the website shows
    declared: str  # business type the merchant record declares
    plants: tuple[Plant, ...] = ()
    blank: Blank | None = None

    @property
    def mismatch(self) -> bool:
        return self.blank is None and self.site != self.declared

    def categories(self) -> list[Category]:
        """The full set of categories the site supports, in id order."""
        if self.blank is not None:
            return []
        found = set(business(self.lang, self.site).categories)
        found |= {plant.category for plant in self.plants}
        if self.mismatch:
            found.add(C.BUSINESS_MISMATCH)
        return sorted(found, key=lambda c: c.value)


def _spec(kind: Kind, lang: str, site: str, *plants: Plant, declared: str = "") -> CaseSpec:
    return CaseSpec(kind, lang, site, declared or site, tuple(plants))


def _embedded_options(lang: str, category: Category) -> list[tuple[Variant, str]]:
    """(variant, host) pairs whose host is an ordinary business of the language."""
    options = []
    for var in variants(lang, category):
        for host in var.hosts:
            try:
                kind = business(lang, host).kind
            except KeyError:
                continue
            if kind is not BusinessKind.DEDICATED:
                options.append((var, host))
    return options


def _embedded(
    rng: random.Random, lang: str, category: Category, euph: list[bool]
) -> list[CaseSpec]:
    """Ordinary host sites with planted evidence; euph[i] asks for euphemisms only."""
    options = _embedded_options(lang, category)
    rng.shuffle(options)
    specs = []
    for i, want in enumerate(euph):
        pool = [o for o in options if o[0].has_euphemism] if want else options
        var, host = (pool or options)[i % len(pool or options)]
        plant = Plant(category, var.index, want and bool(pool))
        specs.append(_spec(Kind.RISKY, lang, host, plant))
    return specs


def _dedicated(lang: str, category: Category, count: int) -> list[CaseSpec]:
    keys = dedicated_for(lang, category)
    return [_spec(Kind.RISKY, lang, key) for key in islice(cycle(keys), count)] if keys else []


def _euph_flags(count: int) -> list[bool]:
    """About 40% euphemism cases, spread out."""
    return [i % 5 in (1, 3) for i in range(count)]


def _category_cases(
    rng: random.Random, lang: str, category: Category, total: int
) -> list[CaseSpec]:
    keys = dedicated_for(lang, category)
    count = min(len(keys), 2) if category.tier is Tier.PROHIBITED else total // 2
    dedicated = _dedicated(lang, category, count)
    return dedicated + _embedded(rng, lang, category, _euph_flags(total - len(dedicated)))


def _approve(rng: random.Random) -> list[CaseSpec]:
    specs = []
    for lang, clean, looks in (("en", 52, 30), ("es", 5, 1), ("de", 5, 1), ("fr", 5, 1)):
        for kind, count, bkind in (
            (Kind.CLEAN, clean, BusinessKind.CLEAN),
            (Kind.LOOKALIKE, looks, BusinessKind.LOOKALIKE),
        ):
            keys = keys_of(lang, bkind)
            chosen = keys[:count] + rng.sample(keys, max(count - len(keys), 0))
            specs += [_spec(kind, lang, key) for key in chosen]
    return specs


def _single_categories(rng: random.Random) -> list[CaseSpec]:
    specs = []
    for category in PROHIBITED:
        specs += _category_cases(rng, "en", category, 7)
    for category in RESTRICTED:
        specs += _category_cases(rng, "en", category, 8)
    return specs


_LANG_REJECT = {
    "es": (C.COUNTERFEIT_IP, C.ILLEGAL_DRUGS, C.PHARMA_UNLICENSED, C.WEAPONS),
    "de": (C.ILLEGAL_DRUGS, C.PHARMA_UNLICENSED, C.WEAPONS, C.GET_RICH_QUICK),
    "fr": (C.PHARMA_UNLICENSED, C.WEAPONS, C.GET_RICH_QUICK, C.COUNTERFEIT_IP),
}
_LANG_RESTRICTED = {
    "es": ("vape_shop", "cbd_shop", "online_casino"),
    "de": ("cbd_shop", "online_casino", "currency_exchange"),
    "fr": ("online_casino", "currency_exchange", "vape_shop"),
}


def _languages(rng: random.Random) -> list[CaseSpec]:
    specs = []
    for lang, cats in _LANG_REJECT.items():
        for i, category in enumerate(cats):
            specs += _embedded(rng, lang, category, [i in (1, 3)])
        specs += [_spec(Kind.RISKY, lang, key) for key in _LANG_RESTRICTED[lang]]
        specs += _mismatches(rng, lang, 1)
    return specs


def _mismatch_pair(rng: random.Random, lang: str) -> tuple[str, str]:
    clean = keys_of(lang, BusinessKind.CLEAN)
    declared = rng.choice(clean)
    sites = [k for k in clean if family(k) != family(declared)]
    preferred = [k for k in sites if k in LAUNDERING_SITES]
    return declared, rng.choice(preferred if preferred and rng.random() < 0.6 else sites)


def _mismatches(rng: random.Random, lang: str, count: int) -> list[CaseSpec]:
    specs = []
    for _ in range(count):
        declared, site = _mismatch_pair(rng, lang)
        specs.append(_spec(Kind.MISMATCH, lang, site, declared=declared))
    return specs


def _variant_on(category: Category, host: str) -> int:
    return next(v.index for v in variants("en", category) if host in v.hosts)


def _hidden_behind(rng: random.Random, sites: tuple[str, ...]) -> list[CaseSpec]:
    """A dedicated risky site behind a clean declaration: category + business_mismatch."""
    clean = keys_of("en", BusinessKind.CLEAN)
    return [_spec(Kind.RISKY, "en", site, declared=rng.choice(clean)) for site in sites]


def _combos(rng: random.Random) -> list[CaseSpec]:
    thc_vape = Plant(C.ILLEGAL_DRUGS, _variant_on(C.ILLEGAL_DRUGS, "vape_shop"))
    thc_cbd = Plant(C.ILLEGAL_DRUGS, _variant_on(C.ILLEGAL_DRUGS, "cbd_shop"))
    cbd_vape = Plant(C.CBD, _variant_on(C.CBD, "vape_shop"))
    crypto_desk = Plant(C.FINANCIAL_SERVICES, _variant_on(C.FINANCIAL_SERVICES, "online_casino"))
    specs = [_spec(Kind.RISKY, "en", "vape_shop", thc_vape) for _ in range(2)]
    specs.append(
        _spec(Kind.RISKY, "en", "vape_shop", Plant(thc_vape.category, thc_vape.variant, True))
    )
    specs += [_spec(Kind.RISKY, "en", "cbd_shop", thc_cbd) for _ in range(2)]
    specs += _hidden_behind(rng, ("replica_watches", "rx_online", "gun_shop", "cam_site"))
    specs.append(
        _spec(
            Kind.RISKY, "en", "lingerie", Plant(C.ADULT_CONTENT, 0), Plant(C.PHARMA_UNLICENSED, 0)
        )
    )
    specs.append(_spec(Kind.RISKY, "en", "extremist_merch", Plant(C.WEAPONS, 0)))
    specs += _hidden_behind(
        rng, ("online_casino", "vape_shop", "cbd_shop", "crypto_exchange", "sportsbook")
    )
    specs += [_spec(Kind.RISKY, "en", "vape_shop", cbd_vape) for _ in range(3)]
    specs += [
        _spec(Kind.RISKY, "en", site, crypto_desk) for site in ("online_casino", "sportsbook")
    ]
    return specs


_BLANKS = {
    "en": ((Blank.UNREACHABLE, 6), (Blank.PARKED, 4), (Blank.CONSTRUCTION, 4), (Blank.EMPTY, 5)),
    "es": ((Blank.CONSTRUCTION, 1),),
    "de": ((Blank.PARKED, 1),),
    "fr": ((Blank.CONSTRUCTION, 1),),
}


def _escalate(rng: random.Random) -> list[CaseSpec]:
    specs = []
    for lang, blanks in _BLANKS.items():
        for blank, count in blanks:
            for _ in range(count):
                key = rng.choice(keys_of(lang, BusinessKind.CLEAN))
                specs.append(CaseSpec(Kind.ESCALATE, lang, key, key, (), blank))
    return specs


def build_plan(rng: random.Random) -> list[CaseSpec]:
    """Every dev case, shuffled."""
    specs = _approve(rng) + _single_categories(rng) + _languages(rng)
    specs += _mismatches(rng, "en", 14) + _combos(rng) + _escalate(rng)
    rng.shuffle(specs)
    return specs
