"""Who a merchant is: trading name, unique .example host, address and contacts."""

from __future__ import annotations

import random
import re
import unicodedata
from dataclasses import dataclass

from evals.generate.catalog import business
from evals.generate.data import load
from evals.generate.locale import COUNTRIES, phone
from evals.generate.plan import CaseSpec

_HOST_SUFFIXES = ("shop", "store", "online", "co", "hq", "direct")


@dataclass(frozen=True)
class Identity:
    name: str
    host: str
    lang: str
    country: str
    city: str
    street: str
    email: str
    phone: str
    year: int


def slugify(text: str) -> str:
    """ASCII, lower-case, hyphen-separated: 'Café Öl & Co.' → 'cafe-ol-co'."""
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return re.sub(r"[^a-z0-9]+", "-", ascii_text.lower()).strip("-") or "shop"


def _street(number: int, street: str, lang: str) -> str:
    """The house number where the language puts it: '12 Mill Lane', 'Marktplatz 12'."""
    if lang == "de":
        return f"{street} {number}"
    if lang == "es":
        return f"{street}, {number}"
    return f"{number} {street}"


def _host(rng: random.Random, name: str, used: set[str]) -> str:
    base = slugify(name.removeprefix("The ").removeprefix("the "))
    candidates = [base] + [f"{base}-{s}" for s in rng.sample(_HOST_SUFFIXES, 3)]
    candidates += [f"{base}-{n}" for n in range(2, 1000)]
    host = next(f"{c}.example" for c in candidates if f"{c}.example" not in used)
    used.add(host)
    return host


def make_identity(rng: random.Random, spec: CaseSpec, used_hosts: set[str]) -> Identity:
    """The merchant's identity; the name is the declared business's (what the record says)."""
    name = rng.choice(business(spec.lang, spec.declared).names)
    host = _host(rng, name, used_hosts)
    country = rng.choice(COUNTRIES[spec.lang])
    ui = load("ui")[spec.lang]
    return Identity(
        name=name,
        host=host,
        lang=spec.lang,
        country=country,
        city=rng.choice(ui["cities"][country]),
        street=_street(rng.randint(2, 180), rng.choice(ui["streets"]), spec.lang),
        email=f"{rng.choice(('hello', 'info', 'contact', 'shop', 'support'))}@{host}",
        phone=phone(rng, country),
        year=rng.randint(1998, 2024),
    )
