"""Render a `Site` into static files: HTML pages, robots.txt and sitemap.xml.

Three layout styles vary the markup (lists, articles, definition lists) so that nothing keys
on one template. Links are absolute paths, or relative ones on about a third of the sites.
"""

from __future__ import annotations

import html
import posixpath

from evals.generate.site import DEAD_LINKS, Post, Product, Site

_CSS = (
    "<style>body{font-family:Georgia,serif;margin:0}.grid{display:grid;"
    "grid-template-columns:repeat(3,1fr);gap:1rem}</style>",
    "<style>body{font-family:Helvetica,Arial,sans-serif}.products{list-style:none;padding:0}</style>",
    "<style>body{font-family:system-ui,sans-serif;color:#222}.collection{display:flex;"
    "flex-wrap:wrap}</style>",
)
COPYRIGHT_YEAR = 2026


def esc(text: str) -> str:
    """HTML-escape text for element content and attribute values."""
    return html.escape(text, quote=True)


def url_path(file_path: str) -> str:
    """The URL path a file is served at: 'index.html' → '/', 'shop/index.html' → '/shop/'."""
    if file_path == "index.html":
        return "/"
    if file_path.endswith("/index.html"):
        return "/" + file_path.removesuffix("index.html")
    return "/" + file_path


def href(site: Site, here: str, target: str) -> str:
    """A link from file `here` to file `target`, absolute or relative per the site's habit."""
    path = url_path(target)
    if not site.relative_links:
        return path
    base = posixpath.dirname(here) or "."
    if path.endswith("/"):
        rel = posixpath.relpath(path.strip("/") or ".", base)
        return "./" if rel == "." else rel + "/"
    return posixpath.relpath(path.lstrip("/"), base)


def _a(site: Site, here: str, target: str, label: str, cls: str = "") -> str:
    attr = f' class="{cls}"' if cls else ""
    return f'<a{attr} href="{esc(href(site, here, target))}">{esc(label)}</a>'


def _nav_items(site: Site) -> list[tuple[str, str]]:
    nav = site.ui["nav"]
    items = [
        (nav["home"], "index.html"),
        (site.labels["shop_alt"], f"{site.paths.shop}/index.html"),
        (nav["about"], site.paths.about),
        (nav["faq"], site.paths.faq),
    ]
    if site.posts:
        items.append((nav["blog"], "blog/index.html"))
    return [*items, (nav["terms"], site.paths.terms), (nav["contact"], site.paths.contact)]


def _header(site: Site, here: str) -> str:
    links = [_a(site, here, target, label) for label, target in _nav_items(site)]
    name = site.ident.name
    if site.style == 0:
        items = "".join(f"<li>{link}</li>" for link in links)
        return (
            f'<header class="site-header">{_a(site, here, "index.html", name, "logo")}'
            f'<nav aria-label="Main"><ul>{items}</ul></nav></header>'
        )
    if site.style == 1:
        return (
            f'<header><div class="brand">{_a(site, here, "index.html", name)} '
            f'<span class="tagline">{esc(site.tagline)}</span></div>'
            f'<nav class="main-nav">{" | ".join(links)}</nav></header>'
        )
    return (
        f'<div class="top-bar">{esc(site.fill(site.labels["shipping_note"]))}</div>'
        f'<header id="masthead"><p class="site-title">{_a(site, here, "index.html", name)}</p>'
        f'<nav id="site-navigation">{" ".join(links)}</nav></header>'
    )


def _footer_links(site: Site, here: str) -> str:
    nav = site.ui["nav"]
    links = [_a(site, here, site.paths.terms, nav["terms"])]
    if site.paths.privacy:
        links.append(_a(site, here, site.paths.privacy, nav["privacy"]))
    links.append(_a(site, here, site.paths.contact, nav["contact"]))
    links += [f'<a href="{esc(path)}">{esc(DEAD_LINKS[path])}</a>' for path in site.dead_links]
    return " · ".join(links)


def _footer(site: Site, here: str) -> str:
    ui, labels, ident = site.ui, site.labels, site.ident
    handle = ident.host.removesuffix(".example")
    return "\n".join(
        [
            "<footer>",
            f'<section class="newsletter"><h2>{esc(labels["newsletter_title"])}</h2>'
            f'<p>{esc(labels["newsletter_text"])}</p><form action="/newsletter" method="post">'
            f'<input type="email" name="email" placeholder="{esc(ui["email_placeholder"])}">'
            f'<button type="submit">{esc(ui["subscribe"])}</button></form></section>',
            f'<nav class="footer-links">{_footer_links(site, here)}</nav>',
            f"<address>{esc(ident.name)}, {esc(ident.street)}, {esc(ident.city)} · "
            f"{esc(ident.email)} · {esc(ident.phone)}</address>",
            f'<p class="social">{esc(ui["follow_us"])}: '
            f'<a href="https://www.instagram.com/{handle}">Instagram</a> '
            f'<a href="https://www.facebook.com/{handle}">Facebook</a></p>',
            f"<p>&copy; {ident.year}–{COPYRIGHT_YEAR} {esc(ident.name)}. {esc(ui['rights'])}</p>",
            "</footer>",
            f'<div class="cookie-banner" role="dialog"><p>{esc(labels["cookie"])}</p>'
            '<button type="button">OK</button></div>',
        ]
    )


def page(site: Site, here: str, title: str, description: str, body: str) -> str:
    """A complete HTML document: head, header, main, footer."""
    return "\n".join(
        [
            "<!DOCTYPE html>",
            f'<html lang="{site.lang}">',
            "<head>",
            '<meta charset="utf-8">',
            '<meta name="viewport" content="width=device-width, initial-scale=1">',
            f"<title>{esc(title)}</title>",
            f'<meta name="description" content="{esc(description)}">',
            _CSS[site.style],
            "</head>",
            "<body>",
            _header(site, here),
            "<main>",
            body,
            "</main>",
            _footer(site, here),
            "</body>",
            "</html>",
            "",
        ]
    )


def _card(site: Site, here: str, product: Product) -> str:
    target = site.paths.product(product.slug)
    name = _a(site, here, target, product.name) if product.page else esc(product.name)
    img = f'<img src="/images/{product.slug}.jpg" alt="{esc(product.name)}" loading="lazy">'
    desc = f"<p>{esc(product.desc)}</p>" if site.card_desc else ""
    price = esc(product.price)
    if site.style == 0:
        return (
            f'<div class="product-card">{img}<h3>{name}</h3><p class="price">{price}</p>{desc}'
            f'<button type="button">{esc(site.labels["add_to_cart"])}</button></div>'
        )
    if site.style == 1:
        more = _a(site, here, target, site.labels["view_details"]) if product.page else ""
        return (
            f'<li class="product"><article>{img}<h3>{name}</h3>'
            f'<span class="price">{price}</span>{desc}{more}</article></li>'
        )
    return (
        f'<article class="item"><h3 class="item-title">{name}</h3>{img}'
        f'<div class="item-price">{price}</div>{desc}</article>'
    )


def grid(site: Site, here: str, products: list[Product]) -> str:
    """A product listing in the site's style."""
    cards = "\n".join(_card(site, here, p) for p in products)
    tag = ("div", "ul", "section")[site.style]
    cls = ("grid", "products", "collection")[site.style]
    return f'<{tag} class="{cls}">\n{cards}\n</{tag}>'


def post_path(post: Post) -> str:
    return f"blog/{post.slug}.html"
