"""Plant a case's risky evidence into its site: home, a product page, the FAQ, the terms,
the about page, a blog post, or a page that only sitemap.xml lists.
"""

from __future__ import annotations

import random
from collections.abc import Callable

from evals.generate.catalog import Item
from evals.generate.evidence import Claim, Variant, variant
from evals.generate.plan import Plant
from evals.generate.site import ExtraPage, Found, Post, Product, Site

# Placement → weight. Product pages are the most common (two clicks deep).
WEIGHTS: dict[str, int] = {
    "home": 16,
    "product": 32,
    "faq": 15,
    "terms": 10,
    "about": 8,
    "blog": 6,
    "sitemap": 13,
}
_NEEDS_ITEM = frozenset({"home", "product", "sitemap"})
_EXTRA_PAGES = (
    "wholesale.html",
    "members/catalogue.html",
    "{shop}/reserve-collection.html",
    "trade/price-list.html",
    "{shop}/private-label.html",
)


def _log(site: Site, var: Variant, where: str, path: str, text: str, euph: bool) -> None:
    site.found.append(Found(var.category, where, path, text, euph))


def _product(site: Site, rng: random.Random, item: Item) -> Product:
    """The shop's product for the item, added at a random position if not listed yet."""
    existing = next((p for p in site.products if p.name == item.name), None)
    if existing is not None:
        return existing
    product = site.make_product(rng, item)
    site.products.insert(rng.randrange(len(site.products) + 1), product)
    return product


def _home(site: Site, rng: random.Random, var: Variant, item: Item, claim: Claim | None) -> None:
    product = _product(site, rng, item)
    if product not in site.featured:
        site.featured.insert(rng.randrange(len(site.featured) + 1), product)
    _log(site, var, "home", "index.html", f"{item.name}: {item.desc}", item.euphemism)
    if claim is not None:
        site.home_notes.append(claim.text)
        _log(site, var, "home", "index.html", claim.text, claim.euphemism)


def _product_page(
    site: Site, rng: random.Random, var: Variant, item: Item, claim: Claim | None
) -> None:
    product = _product(site, rng, item)
    product.page = True
    if claim is not None:
        product.extra.insert(0, claim.text)
    _log(site, var, "product", site.paths.product(product.slug), item.desc, item.euphemism)


def _faq(site: Site, rng: random.Random, var: Variant, claim: Claim) -> None:
    site.faq.insert(rng.randrange(len(site.faq) + 1), (rng.choice(var.faq_q), claim.text))
    _log(site, var, "faq", site.paths.faq, claim.text, claim.euphemism)


def _terms(site: Site, rng: random.Random, var: Variant, claim: Claim) -> None:
    site.terms.insert(rng.randrange(1, len(site.terms) + 1), claim.text)
    _log(site, var, "terms", site.paths.terms, claim.text, claim.euphemism)


def _about(site: Site, rng: random.Random, var: Variant, claim: Claim) -> None:
    site.about.insert(rng.randrange(1, len(site.about) + 1), claim.text)
    _log(site, var, "about", site.paths.about, claim.text, claim.euphemism)


def _blog(site: Site, rng: random.Random, var: Variant, claim: Claim) -> None:
    title = rng.choice(var.faq_q).rstrip("?¿ ").lstrip("¿")
    taken = {p.slug for p in site.posts}
    slug = next(s for s in (f"news-{rng.randint(10, 99)}" for _ in range(99)) if s not in taken)
    post = Post(slug, title, [claim.text, site.fill(site.labels["product_extra"])])
    site.posts.insert(0, post)
    _log(site, var, "blog", f"blog/{post.slug}.html", claim.text, claim.euphemism)


def _sitemap(
    site: Site, rng: random.Random, var: Variant, items: list[Item], claim: Claim | None
) -> None:
    path = rng.choice(_EXTRA_PAGES).format(shop=site.paths.shop)
    products = [site.make_product(rng, item) for item in items]
    paras = [claim.text] if claim is not None else []
    site.extras.append(ExtraPage(path, items[0].name, paras, products))
    site.sitemap = True
    for text, euph in [(f"{i.name}: {i.desc}", i.euphemism) for i in items] + (
        [(claim.text, claim.euphemism)] if claim is not None else []
    ):
        _log(site, var, "sitemap", path, text, euph)


def _where(rng: random.Random, has_items: bool, has_claims: bool) -> list[str]:
    """One to three distinct placements the pieces allow (usually one)."""
    options = [w for w in WEIGHTS if (w not in _NEEDS_ITEM or has_items)]
    options = [w for w in options if w in _NEEDS_ITEM or has_claims]
    count = min(len(options), rng.choices((1, 2, 3), weights=(60, 30, 10))[0])
    chosen: list[str] = []
    while len(chosen) < count:
        pick = rng.choices(options, weights=[WEIGHTS[w] for w in options])[0]
        if pick not in chosen:
            chosen.append(pick)
    return chosen


def _place(
    where: str, site: Site, rng: random.Random, var: Variant, items: list[Item], claims: list[Claim]
) -> None:
    item = rng.choice(items) if items else None
    claim = rng.choice(claims) if claims else None
    if where == "home" and item is not None:
        _home(site, rng, var, item, claim)
    elif where == "product" and item is not None:
        _product_page(site, rng, var, item, claim if rng.random() < 0.4 else None)
    elif where == "sitemap" and items:
        _sitemap(site, rng, var, rng.sample(items, min(len(items), 2)), claim)
    elif claim is not None:
        _BY_CLAIM[where](site, rng, var, claim)


_BY_CLAIM: dict[str, Callable[[Site, random.Random, Variant, Claim], None]] = {
    "faq": _faq,
    "terms": _terms,
    "about": _about,
    "blog": _blog,
}


def plant(site: Site, rng: random.Random, spec_plant: Plant) -> None:
    """Put one category's evidence into the site at one to three places."""
    var = variant(site.lang, spec_plant.category, spec_plant.variant)
    products, sentences = var.pieces(euphemism=spec_plant.euphemism)
    items, claims = list(products), list(sentences)
    for where in _where(rng, bool(items), bool(claims)):
        _place(where, site, rng, var, items, claims)
