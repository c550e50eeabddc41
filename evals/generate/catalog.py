"""Business types: declared businesses and the innocent catalogues their sites show.

A business is "clean" (nothing in the taxonomy), a "lookalike" (risky-sounding words, a
legitimate business) or "dedicated" (its whole catalogue supports taxonomy categories, e.g. a
vape shop). Codes come from `data/mcc.yaml`, a copy of real MCC descriptions.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from functools import cache
from typing import Any

from evals.generate.data import load, pairs, strings
from merchant_review.taxonomy import Category


class BusinessKind(StrEnum):
    CLEAN = "clean"
    LOOKALIKE = "lookalike"
    DEDICATED = "dedicated"


@dataclass(frozen=True)
class Item:
    """A product or service: name, short description, price range in USD."""

    name: str
    desc: str
    low: float
    high: float
    euphemism: bool = False


@dataclass(frozen=True)
class Business:
    """One business type in one language."""

    key: str
    lang: str
    mcc: str
    label: str
    descriptions: tuple[str, ...]
    names: tuple[str, ...]
    taglines: tuple[str, ...]
    about: tuple[str, ...]
    noun: str
    products: tuple[Item, ...]
    faq: tuple[tuple[str, str], ...] = ()
    notices: tuple[str, ...] = ()
    categories: tuple[Category, ...] = ()
    lookalike: str | None = None

    @property
    def kind(self) -> BusinessKind:
        if self.categories:
            return BusinessKind.DEDICATED
        return BusinessKind.LOOKALIKE if self.lookalike else BusinessKind.CLEAN


# Related business types: a site of one family is not a "mismatch" for a record of the same.
FAMILIES: dict[str, str] = {
    "bookstore": "books",
    "stationery": "books",
    "adult_learning": "education",
    "bakery": "food",
    "coffee_roaster": "food",
    "tea_shop": "food",
    "candy_shop": "food",
    "convenience_store": "food",
    "wellness_supplements": "food",
    "herbal_tea_noclaims": "food",
    "breakfast_bakery": "food",
    "outdoor_gear": "outdoor",
    "bicycle_shop": "outdoor",
    "electronics": "tech",
    "software_store": "tech",
    "web_agency": "tech",
    "womens_fashion": "fashion",
    "shoe_store": "fashion",
    "handbags": "fashion",
    "lingerie": "fashion",
    "childrenswear": "fashion",
    "tshirt_print": "fashion",
    "sports_fan_shop": "fashion",
    "hemp_clothing": "fashion",
    "crypto_tees": "fashion",
    "furniture": "home",
    "kitchenware": "home",
    "candles_decor": "home",
    "knife_shop": "home",
    "hardware_store": "diy",
    "auto_parts": "diy",
    "nail_gun_tools": "diy",
    "garden_centre": "garden",
    "hydroponics": "garden",
    "garden_weedkiller": "garden",
    "online_courses": "education",
    "photo_studio": "photo",
    "headshot_photo": "photo",
}


def family(key: str) -> str:
    """The family of a business type (its own key when it has none)."""
    return FAMILIES.get(key, key)


def _item(raw: list[Any]) -> Item:
    euphemism = bool(raw[4]) if len(raw) > 4 else False
    return Item(str(raw[0]), str(raw[1]), float(raw[2]), float(raw[3]), euphemism)


def _business(key: str, lang: str, raw: dict[str, Any]) -> Business:
    return Business(
        key=key,
        lang=lang,
        mcc=str(raw["mcc"]),
        label=str(raw["label"]),
        descriptions=strings(raw["descriptions"]),
        names=strings(raw["names"]),
        taglines=strings(raw["taglines"]),
        about=strings(raw["about"]),
        noun=str(raw["noun"]),
        products=tuple(_item(p) for p in raw["products"]),
        faq=pairs(raw.get("faq")),
        notices=strings(raw.get("notices")),
        categories=tuple(Category(c) for c in raw.get("categories") or ()),
        lookalike=raw.get("lookalike"),
    )


def _files(lang: str) -> tuple[str, ...]:
    if lang == "en":
        return ("businesses_en", "businesses_risky_en", "lookalikes_en")
    return (f"businesses_{lang}",)


@cache
def catalogue(lang: str) -> dict[str, Business]:
    """Every business type of a language, by key, in file order."""
    found: dict[str, Business] = {}
    for name in _files(lang):
        for key, raw in load(name).items():
            found[key] = _business(key, lang, raw)
    return found


def business(lang: str, key: str) -> Business:
    """One business type (KeyError when the language has no such type)."""
    return catalogue(lang)[key]


def keys_of(lang: str, kind: BusinessKind) -> list[str]:
    """Business keys of one kind, in file order."""
    return [key for key, b in catalogue(lang).items() if b.kind is kind]


def dedicated_for(lang: str, category: Category) -> list[str]:
    """Dedicated business types whose only category is `category`."""
    return [k for k, b in catalogue(lang).items() if b.categories == (category,)]


@cache
def mcc_descriptions() -> dict[str, str]:
    """MCC code → description, for the codes the catalogue uses."""
    return {str(code): str(text) for code, text in load("mcc")["mcc"].items()}
