"""A merchant website as content (before HTML): catalogue, pages, paths and evidence found.

`build_site` assembles the ordinary site of a business type; `placement.plant` then adds the
case's risky evidence; `pages.render` turns the result into files.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from typing import Any

from evals.generate.catalog import Business, BusinessKind, Item, business
from evals.generate.data import load
from evals.generate.identity import Identity, slugify
from evals.generate.locale import format_price, price_value
from merchant_review.taxonomy import Category

# Footer links to pages a site never wrote: realistic dead links (the only allowed ones).
DEAD_LINKS: dict[str, str] = {
    "/careers.html": "Careers",
    "/press/": "Press",
    "/gift-cards.html": "Gift cards",
    "/stores.html": "Store locator",
}
_LABEL_KEYS = (
    "shop_alt",
    "add_to_cart",
    "view_details",
    "featured",
    "all_products",
    "newsletter_title",
    "newsletter_text",
    "cookie",
    "contact_intro",
    "hours",
    "about_title",
    "in_stock",
    "secure_checkout",
    "shipping_note",
    "product_extra",
    "home_intro",
)


@dataclass
class Product:
    name: str
    desc: str
    price: str
    slug: str
    page: bool = False  # has its own detail page under the shop folder
    extra: list[str] = field(default_factory=list)


@dataclass
class Post:
    slug: str
    title: str
    paras: list[str]


@dataclass
class ExtraPage:
    """A page listed only in sitemap.xml (no link points to it)."""

    path: str
    title: str
    paras: list[str]
    products: list[Product]


@dataclass
class Found:
    """Where a case's evidence stands (for notes and annotations, never for the system)."""

    category: Category
    placement: str
    path: str
    quote: str
    euphemism: bool = False


@dataclass
class Paths:
    shop: str
    about: str
    faq: str
    terms: str
    contact: str
    privacy: str | None

    def product(self, slug: str) -> str:
        return f"{self.shop}/{slug}.html"


@dataclass
class Site:
    ident: Identity
    ui: dict[str, Any]
    labels: dict[str, str]
    tagline: str
    noun: str
    style: int
    relative_links: bool
    card_desc: bool  # product cards show the description (else only on the product page)
    updated: str  # lastmod date of sitemap entries
    paths: Paths
    products: list[Product] = field(default_factory=list)
    featured: list[Product] = field(default_factory=list)
    home_notes: list[str] = field(default_factory=list)
    about: list[str] = field(default_factory=list)
    faq: list[tuple[str, str]] = field(default_factory=list)
    terms: list[str] = field(default_factory=list)
    posts: list[Post] = field(default_factory=list)
    extras: list[ExtraPage] = field(default_factory=list)
    robots: bool = False
    sitemap: bool = False
    dead_links: list[str] = field(default_factory=list)
    found: list[Found] = field(default_factory=list)

    @property
    def lang(self) -> str:
        return self.ident.lang

    def fill(self, template: str) -> str:
        """Fill the shop's placeholders into a template string of the UI data."""
        country = self.ui["countries"][self.ident.country]
        return template.format(
            name=self.ident.name,
            year=self.ident.year,
            city=self.ident.city,
            noun=self.noun,
            email=self.ident.email,
            country=country,
            tagline=self.tagline,
            threshold=self.labels.get("threshold", ""),
            licence=self.labels.get("licence", ""),
        )

    def unique_slug(self, name: str) -> str:
        taken = {p.slug for p in self.products}
        slug = slugify(name)
        return next(s for s in [slug] + [f"{slug}-{n}" for n in range(2, 99)] if s not in taken)

    def make_product(self, rng: random.Random, item: Item) -> Product:
        value = price_value(rng, item.low, item.high, self.ident.country)
        price = format_price(value, self.ident.country, self.lang)
        return Product(item.name, item.desc, price, self.unique_slug(item.name))


def _paths(rng: random.Random) -> Paths:
    terms = rng.choice(
        ("terms.html", "terms.html", "terms-and-conditions.html", "legal/terms.html")
    )
    privacy_dir = "legal/" if terms.startswith("legal/") else ""
    return Paths(
        shop=rng.choice(("shop", "shop", "products", "store", "catalog")),
        about=rng.choice(("about.html", "about.html", "about-us.html", "our-story.html")),
        faq=rng.choice(("faq.html", "faq.html", "help.html")),
        terms=terms,
        contact=rng.choice(("contact.html", "contact-us.html")),
        privacy=f"{privacy_dir}privacy.html" if rng.random() < 0.6 else None,
    )


def _labels(rng: random.Random, ui: dict[str, Any], ident: Identity) -> dict[str, str]:
    labels = {key: str(rng.choice(ui[key])) for key in _LABEL_KEYS}
    labels["threshold"] = format_price(
        50.0 if ident.country != "MX" else 850.0, ident.country, ident.lang
    )
    labels["licence"] = str(rng.randint(1_000_000, 9_999_999))
    return labels


def _skeleton(rng: random.Random, biz: Business, ident: Identity) -> Site:
    ui = load("ui")[ident.lang]
    return Site(
        ident=ident,
        ui=ui,
        labels=_labels(rng, ui, ident),
        tagline=rng.choice(biz.taglines),
        noun=biz.noun,
        style=rng.randrange(3),
        relative_links=rng.random() < 0.3,
        card_desc=rng.random() < 0.55,
        updated=f"2026-{rng.randint(1, 10):02d}-{rng.randint(1, 28):02d}",
        paths=_paths(rng),
        robots=rng.random() < 0.5,
        sitemap=rng.random() < 0.55,
    )


def _catalogue(rng: random.Random, site: Site, biz: Business) -> None:
    items = list(biz.products)
    rng.shuffle(items)
    keep = max(len(items) - rng.randint(0, 2), min(len(items), 5))
    for item in items[:keep]:
        site.products.append(site.make_product(rng, item))
    for product in rng.sample(site.products, max(2, len(site.products) // 2)):
        product.page = True
        product.extra.append(site.fill(site.labels["product_extra"]))
    site.featured = site.products[: rng.randint(3, 4)]


def _texts(rng: random.Random, site: Site, biz: Business) -> None:
    ui = site.ui
    site.about = [site.fill(a) for a in biz.about]
    site.about += [site.fill(a) for a in rng.sample(ui["about_generic"], 2)]
    generic = [(site.fill(q), site.fill(a)) for q, a in rng.sample(ui["faq_generic"], 5)]
    site.faq = [(site.fill(q), site.fill(a)) for q, a in biz.faq] + generic
    count = min(len(ui["terms_generic"]), rng.randint(6, 9))
    site.terms = [site.fill(t) for t in ui["terms_generic"][:count]]
    site.home_notes = [site.fill(n) for n in biz.notices]
    if rng.random() < 0.35:
        for raw in rng.sample(ui["blog_generic"], 2):
            title = site.fill(raw["title"])
            site.posts.append(Post(slugify(title), title, [site.fill(p) for p in raw["paras"]]))


def _log_dedicated(site: Site, biz: Business) -> None:
    """A dedicated business's evidence is its whole catalogue (shop page and home)."""
    for category in biz.categories:
        quote = f"{site.products[0].name}: {site.products[0].desc}"
        site.found.append(Found(category, "catalogue", f"{site.paths.shop}/index.html", quote))


def _dead_links(rng: random.Random, site: Site) -> None:
    if rng.random() < 0.08:
        site.dead_links.append(rng.choice(sorted(DEAD_LINKS)))


def build_site(rng: random.Random, site_key: str, ident: Identity) -> Site:
    """The ordinary site of a business type, under the merchant's name and host."""
    biz = business(ident.lang, site_key)
    site = _skeleton(rng, biz, ident)
    _catalogue(rng, site, biz)
    _texts(rng, site, biz)
    if biz.kind is BusinessKind.DEDICATED:
        _log_dedicated(site, biz)
    _dead_links(rng, site)
    return site
