"""Countries, currencies, prices, phone numbers and legal-name suffixes per language."""

from __future__ import annotations

import random

COUNTRIES: dict[str, tuple[str, ...]] = {
    "en": ("US", "US", "US", "US", "GB", "GB", "CA", "AU", "IE"),
    "es": ("ES", "ES", "MX"),
    "de": ("DE", "DE", "AT"),
    "fr": ("FR", "FR", "BE"),
}
_EURO = ("EUR", 0.92)
CURRENCIES: dict[str, tuple[str, float]] = {
    "US": ("USD", 1.0),
    "GB": ("GBP", 0.79),
    "CA": ("CAD", 1.36),
    "AU": ("AUD", 1.52),
    "IE": _EURO,
    "ES": _EURO,
    "MX": ("MXN", 17.0),
    "DE": _EURO,
    "AT": _EURO,
    "FR": _EURO,
    "BE": _EURO,
}
LEGAL_SUFFIXES: dict[str, tuple[str, ...]] = {
    "US": ("LLC", "Inc.", "LLC"),
    "GB": ("Ltd",),
    "CA": ("Inc.", "Ltd."),
    "AU": ("Pty Ltd",),
    "IE": ("Ltd",),
    "ES": ("S.L.",),
    "MX": ("S.A. de C.V.",),
    "DE": ("GmbH", "UG"),
    "AT": ("GmbH",),
    "FR": ("SARL", "SAS"),
    "BE": ("SRL",),
}
FREE: dict[str, str] = {"en": "Free", "es": "Gratis", "de": "Kostenlos", "fr": "Gratuit"}
_PHONE: dict[str, str] = {
    "US": "+1 555 01{a:02d} {b:04d}",
    "CA": "+1 555 01{a:02d} {b:04d}",
    "GB": "+44 20 7946 0{a:03d}",
    "AU": "+61 2 5550 {b:04d}",
    "IE": "+353 1 555 {b:04d}",
    "ES": "+34 91 555 {b:04d}",
    "MX": "+52 55 5555 {b:04d}",
    "DE": "+49 30 555 {b:04d}",
    "AT": "+43 1 555 {b:04d}",
    "FR": "+33 1 55 55 {b:04d}",
    "BE": "+32 2 555 {b:04d}",
}


def price_value(rng: random.Random, low: float, high: float, country: str) -> float:
    """A shop-like price (…9.99, …5.00) between low and high USD, in the country's currency."""
    rate = CURRENCIES[country][1]
    raw = rng.uniform(low, high) * rate
    if raw <= 0:
        return 0.0
    if raw < 20:
        return max(int(raw), 1) - 0.01 + rng.choice((0.0, 0.0, 0.51))
    step = 50 if raw > 1000 else 5 if raw > 100 else 1
    whole = max(int(round(raw / step) * step), step)
    return float(whole) - rng.choice((0.01, 0.01, 0.0))


def format_price(value: float, country: str, lang: str) -> str:
    """The price as a shop in that country writes it."""
    if value <= 0:
        return FREE[lang]
    code = CURRENCIES[country][0]
    if code == "MXN":
        return f"${value:,.2f} MXN"
    if code == "EUR" and lang != "en":
        text = f"{value:,.2f}".replace(",", " ").replace(".", ",")
        return f"{text} €"
    symbol = {"USD": "$", "GBP": "£", "CAD": "CA$", "AUD": "A$", "EUR": "€"}[code]
    return f"{symbol}{value:,.2f}"


def phone(rng: random.Random, country: str) -> str:
    """A fictitious phone number in the country's format (555 ranges where they exist)."""
    return _PHONE[country].format(a=rng.randint(10, 99), b=rng.randint(1000, 9999))
