"""Synthetic merchants with 6-page websites, written to a folder, for benchmarks and tests.

Each merchant gets `sites/HOST/` with a home page linking to five more pages (about,
shop, contact, terms, privacy), and a record whose description matches the site. Every
fifth merchant sells vape products (a restricted category: request_info), the rest
ordinary goods (approve), so a run has more than one decision.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from merchant_review.records import MerchantRecord

GOODS = [
    ("Pottery", "hand-thrown mugs, bowls and vases", "5719"),
    ("Books", "second-hand novels and travel guides", "5942"),
    ("Coffee", "freshly roasted coffee beans and brewing kits", "5499"),
    ("Garden", "seeds, planters and garden tools", "5261"),
]
VAPE = ("Vapour", "vape pens, e-liquids and e-cigarette starter kits", "5993")
PAGES = ("about", "shop", "contact", "terms", "privacy")


@dataclass(frozen=True)
class Merchant:
    record: MerchantRecord
    host: str
    root: Path


def _page(title: str, body: str) -> str:
    links = " ".join(f'<a href="/{name}.html">{name.title()}</a>' for name in PAGES)
    return (
        f"<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'><title>{title}</title>"
        f"<meta name='description' content='{title}'></head><body><header><nav>"
        f"<a href='/'>Home</a> {links}</nav></header><main><h1>{title}</h1>{body}</main>"
        "<footer><p>&copy; 2026. All rights reserved.</p></footer></body></html>"
    )


def _bodies(name: str, goods: str, edition: int) -> dict[str, str]:
    shop = "".join(
        f"<article><h3>{goods.split(',')[0]} no. {k}</h3><p>$1{k}.00</p></article>"
        for k in range(6)
    )
    return {
        "index": f"<p>Welcome to {name}. We sell {goods}.</p><p>Edition {edition}.</p>",
        "about": f"<p>{name} is a family business selling {goods} since 2009.</p>",
        "shop": f"<p>Our range of {goods}:</p>{shop}",
        "contact": f"<p>Write to hello@{name.lower().replace(' ', '-')}.example.</p>",
        "terms": "<p>Orders ship within two days. Returns are accepted for 30 days.</p>",
        "privacy": "<p>We keep your address only to deliver your order.</p>",
    }


def write_site(root: Path, name: str, goods: str, edition: int = 1) -> None:
    """Write (or rewrite) a merchant's six pages; a new `edition` changes the home page."""
    root.mkdir(parents=True, exist_ok=True)
    for page, body in _bodies(name, goods, edition).items():
        (root / f"{page}.html" if page != "index" else root / "index.html").write_text(
            _page(f"{name} | {page.title()}", body), encoding="utf-8"
        )


def make_merchants(folder: Path, count: int, prefix: str = "m") -> list[Merchant]:
    """`count` merchants with their sites under `folder/sites/`."""
    merchants = []
    for number in range(count):
        kind, goods, mcc = VAPE if number % 5 == 4 else GOODS[number % len(GOODS)]
        name = f"{kind} Shop {number}"
        host = f"{prefix}{number:06d}.{kind.lower()}.example"
        root = folder / "sites" / host
        write_site(root, name, goods)
        record = MerchantRecord(
            merchant_id=f"{prefix}{number:06d}",
            website=f"https://{host}/",
            legal_name=f"{name} Ltd",
            dba=name,
            country="US" if number % 2 == 0 else "GB",
            mcc=mcc,
            business_description=goods,
        )
        merchants.append(Merchant(record, host, root))
    return merchants
