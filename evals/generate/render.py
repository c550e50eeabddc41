"""Every file of a generated site: page bodies, robots.txt and sitemap.xml."""

from __future__ import annotations

from evals.generate.pages import esc, grid, href, page, post_path, url_path
from evals.generate.site import Product, Site


def _home(site: Site) -> str:
    here, labels = "index.html", site.labels
    shop = href(site, here, f"{site.paths.shop}/index.html")
    parts = [
        f'<section class="hero"><h1>{esc(site.ident.name)}</h1>'
        f"<p>{esc(site.fill(labels['home_intro']))}</p>"
        f'<p><a class="button" href="{esc(shop)}">{esc(labels["all_products"])}</a></p></section>',
    ]
    parts += [f'<div class="announcement"><p>{esc(note)}</p></div>' for note in site.home_notes]
    parts.append(
        f'<section class="featured"><h2>{esc(labels["featured"])}</h2>'
        f"{grid(site, here, site.featured)}</section>"
    )
    about = href(site, here, site.paths.about)
    parts.append(
        f'<section class="about-teaser"><h2>{esc(labels["about_title"])}</h2>'
        f"<p>{esc(site.about[0])}</p>"
        f'<p><a href="{esc(about)}">{esc(site.ui["read_more"])}</a></p></section>'
    )
    if site.posts:
        items = "".join(
            f'<li><a href="{esc(href(site, here, post_path(p)))}">{esc(p.title)}</a></li>'
            for p in site.posts
        )
        parts.append(
            f'<section class="blog-teaser"><h2>{esc(site.ui["latest_posts"])}</h2>'
            f"<ul>{items}</ul></section>"
        )
    return page(site, here, f"{site.ident.name} | {site.tagline}", site.tagline, "\n".join(parts))


def _shop(site: Site) -> str:
    here = f"{site.paths.shop}/index.html"
    body = (
        f"<h1>{esc(site.labels['shop_alt'])}</h1>"
        f"<p>{esc(site.fill(site.labels['shipping_note']))}</p>\n{grid(site, here, site.products)}"
    )
    title = f"{site.labels['shop_alt']} | {site.ident.name}"
    return page(site, here, title, f"{site.labels['all_products']}: {site.noun}", body)


def _product(site: Site, product: Product) -> str:
    here, labels, nav = site.paths.product(product.slug), site.labels, site.ui["nav"]
    home, shop = href(site, here, "index.html"), href(site, here, f"{site.paths.shop}/index.html")
    related = [p for p in site.products if p.page and p is not product][:3]
    rel = "".join(
        f'<li><a href="{esc(href(site, here, site.paths.product(p.slug)))}">{esc(p.name)}</a></li>'
        for p in related
    )
    extra = "".join(f"<p>{esc(text)}</p>" for text in product.extra)
    body = (
        f'<nav class="breadcrumb"><a href="{esc(home)}">{esc(nav["home"])}</a> › '
        f'<a href="{esc(shop)}">{esc(labels["shop_alt"])}</a> › {esc(product.name)}</nav>'
        f'<div class="product-detail"><img src="/images/{product.slug}.jpg" '
        f'alt="{esc(product.name)}"><h1>{esc(product.name)}</h1>'
        f'<p class="price">{esc(product.price)}</p><p class="stock">{esc(labels["in_stock"])}</p>'
        f'<p class="description">{esc(product.desc)}</p>'
        f'{extra}<form action="/cart/add" method="post"><input type="hidden" name="sku" '
        f'value="{product.slug}"><button type="submit">{esc(labels["add_to_cart"])}</button></form>'
        f"<p>{esc(labels['secure_checkout'])}</p></div>"
        f'<section class="related"><h2>{esc(site.ui["related"])}</h2><ul>{rel}</ul></section>'
        f'<p><a href="{esc(shop)}">{esc(site.ui["back_to_shop"])}</a></p>'
    )
    return page(site, here, f"{product.name} | {site.ident.name}", product.desc, body)


def _about(site: Site) -> str:
    paras = "".join(f"<p>{esc(p)}</p>" for p in site.about)
    body = (
        f"<h1>{esc(site.labels['about_title'])}</h1>{paras}"
        f'<img src="/images/team.jpg" alt="{esc(site.ident.name)}">'
    )
    return page(
        site,
        site.paths.about,
        f"{site.labels['about_title']} | {site.ident.name}",
        site.about[0],
        body,
    )


def _faq(site: Site) -> str:
    if site.style == 0:
        items = "".join(f"<dt>{esc(q)}</dt><dd>{esc(a)}</dd>" for q, a in site.faq)
        listing = f"<dl>{items}</dl>"
    elif site.style == 1:
        listing = "".join(
            f"<details><summary>{esc(q)}</summary><p>{esc(a)}</p></details>" for q, a in site.faq
        )
    else:
        listing = "".join(
            f'<div class="faq-item"><h3>{esc(q)}</h3><p>{esc(a)}</p></div>' for q, a in site.faq
        )
    title = site.ui["faq_title"]
    return page(
        site,
        site.paths.faq,
        f"{title} | {site.ident.name}",
        title,
        f"<h1>{esc(title)}</h1>\n{listing}",
    )


def _terms(site: Site) -> str:
    if site.style == 2:
        listing = "".join(
            f"<section><h2>{n}.</h2><p>{esc(t)}</p></section>" for n, t in enumerate(site.terms, 1)
        )
    else:
        listing = "<ol>" + "".join(f"<li>{esc(t)}</li>" for t in site.terms) + "</ol>"
    title = site.ui["terms_title"]
    return page(
        site,
        site.paths.terms,
        f"{title} | {site.ident.name}",
        title,
        f"<h1>{esc(title)}</h1>\n{listing}",
    )


def _contact(site: Site) -> str:
    ui, ident = site.ui, site.ident
    body = (
        f"<h1>{esc(ui['contact_title'])}</h1><p>{esc(site.labels['contact_intro'])}</p>"
        f"<address>{esc(ident.street)}, {esc(ident.city)}<br>"
        f'{esc(ui["email"])}: <a href="mailto:{ident.email}">{esc(ident.email)}</a><br>'
        f'{esc(ui["phone"])}: <a href="tel:{ident.phone.replace(" ", "")}">{esc(ident.phone)}</a>'
        f"</address><p>{esc(site.labels['hours'])}</p>"
        f'<form action="/contact" method="post"><label>{esc(ui["form_name"])} '
        f'<input name="name"></label><label>{esc(ui["email"])} <input type="email" name="email">'
        f'</label><label>{esc(ui["form_message"])} <textarea name="message"></textarea></label>'
        f'<button type="submit">{esc(ui["send"])}</button></form>'
    )
    return page(
        site,
        site.paths.contact,
        f"{ui['contact_title']} | {ident.name}",
        site.labels["contact_intro"],
        body,
    )


def _privacy(site: Site, path: str) -> str:
    title = site.ui["privacy_title"]
    paras = "".join(f"<p>{esc(site.fill(p))}</p>" for p in site.ui["privacy"])
    return page(site, path, f"{title} | {site.ident.name}", title, f"<h1>{esc(title)}</h1>{paras}")


def _blog(site: Site) -> dict[str, str]:
    here, blog = "blog/index.html", site.ui["nav"]["blog"]
    items = "".join(
        f'<li><a href="{esc(href(site, here, post_path(p)))}">{esc(p.title)}</a></li>'
        for p in site.posts
    )
    files = {
        here: page(
            site, here, f"{blog} | {site.ident.name}", blog, f"<h1>{esc(blog)}</h1><ul>{items}</ul>"
        )
    }
    for post in site.posts:
        path = post_path(post)
        paras = "".join(f"<p>{esc(p)}</p>" for p in post.paras)
        body = (
            f'<article><h1>{esc(post.title)}</h1><p class="date">{site.updated}</p>{paras}'
            f'</article><p><a href="{esc(href(site, path, here))}">← {esc(blog)}</a></p>'
        )
        files[path] = page(site, path, f"{post.title} | {site.ident.name}", post.title, body)
    return files


def _extras(site: Site) -> dict[str, str]:
    files = {}
    for extra in site.extras:
        paras = "".join(f"<p>{esc(p)}</p>" for p in extra.paras)
        body = f"<h1>{esc(extra.title)}</h1>{paras}\n{grid(site, extra.path, extra.products)}"
        files[extra.path] = page(
            site, extra.path, f"{extra.title} | {site.ident.name}", extra.title, body
        )
    return files


def _robots(site: Site) -> str:
    lines = ["User-agent: *", "Disallow: /cart/", "Disallow: /checkout/"]
    if site.sitemap:
        lines.append(f"Sitemap: https://{site.ident.host}/sitemap.xml")
    return "\n".join(lines) + "\n"


def _sitemap(site: Site, paths: list[str]) -> str:
    urls = "".join(
        f"  <url><loc>https://{site.ident.host}{url_path(p)}</loc>"
        f"<lastmod>{site.updated}</lastmod></url>\n"
        for p in paths
    )
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        '<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">\n'
        f"{urls}</urlset>\n"
    )


def render(site: Site) -> dict[str, str]:
    """Every file of the site, by path relative to the site root."""
    files = {
        "index.html": _home(site),
        f"{site.paths.shop}/index.html": _shop(site),
        site.paths.about: _about(site),
        site.paths.faq: _faq(site),
        site.paths.terms: _terms(site),
        site.paths.contact: _contact(site),
    }
    files |= {site.paths.product(p.slug): _product(site, p) for p in site.products if p.page}
    if site.paths.privacy:
        files[site.paths.privacy] = _privacy(site, site.paths.privacy)
    if site.posts:
        files |= _blog(site)
    files |= _extras(site)
    if site.sitemap:
        files["sitemap.xml"] = _sitemap(site, [p for p in files if p.endswith(".html")])
    if site.robots or (site.sitemap and site.extras):
        files["robots.txt"] = _robots(site)
    return files
