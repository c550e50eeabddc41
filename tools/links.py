"""Which links a crawl follows first: pages a reviewer needs before blog posts and files.

Priority comes from words in the URL path and the anchor text, in English, Spanish,
German and French (products, terms, shipping, about... first; blog, careers... last).
"""

from __future__ import annotations

import unicodedata
from urllib.parse import urlsplit

_HIGH_VALUE = frozenset(
    # en
    {"product", "products", "shop", "store", "catalog", "catalogue", "collections", "menu"}
    | {"pricing", "price", "prices", "plans", "order", "buy", "terms", "conditions", "tos"}
    | {"faq", "faqs", "help", "support", "shipping", "delivery", "returns", "refund", "refunds"}
    | {"about", "about-us", "contact", "legal", "policy", "policies", "privacy", "imprint"}
    # where a merchant sells in bulk or on offer: trade terms often stand only there
    | {"wholesale", "bulk", "b2b", "sale", "sales", "offers", "deals", "merchandise"}
    # es
    | {"productos", "producto", "tienda", "catalogo", "precios", "comprar", "pedidos"}
    | {"terminos", "condiciones", "preguntas", "preguntas-frecuentes", "ayuda", "envios"}
    | {"envio", "devoluciones", "nosotros", "sobre-nosotros", "contacto", "aviso-legal"}
    | {"mayorista", "mayoristas", "mayoreo", "ofertas"}
    # de
    | {"produkte", "produkt", "sortiment", "preise", "bestellen", "kaufen", "versand"}
    | {"lieferung", "impressum", "agb", "hilfe", "kontakt", "ueber-uns", "uber-uns"}
    | {"datenschutz", "widerruf", "rueckgabe", "grosshandel", "angebote"}
    # fr
    | {"produits", "produit", "boutique", "tarifs", "prix", "commander", "acheter"}
    | {"livraison", "mentions-legales", "cgv", "cgu", "aide", "a-propos", "qui-sommes-nous"}
    | {"retours", "remboursement", "grossiste", "promotions"}
)
_LOW_VALUE = frozenset(
    {"blog", "blogs", "news", "press", "careers", "career", "jobs", "events", "tag", "tags"}
    | {"author", "archive", "noticias", "prensa", "empleo", "aktuelles", "presse"}
    | {"karriere", "actualites", "carrieres", "emplois", "login", "signin", "account"}
)
_NON_PAGE_SUFFIXES = (".pdf", ".jpg", ".jpeg", ".png", ".gif", ".webp", ".svg", ".zip", ".mp4")


def _words(text: str) -> str:
    """Lower-case ASCII words wrapped in hyphens ("Nos Produits!" → "-nos-produits-")."""
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode().lower()
    return "-" + "-".join("".join(c if c.isalnum() else " " for c in ascii_text).split()) + "-"


def _mentions(words: str, keywords: frozenset[str]) -> bool:
    return any(f"-{keyword}-" in words for keyword in keywords)


def link_priority(url: str, anchor_text: str = "") -> int:
    """0 for pages a reviewer needs (products, terms...), 1 neutral, 2 blog-like, 3 files."""
    path = urlsplit(url).path
    if path.lower().endswith(_NON_PAGE_SUFFIXES):
        return 3
    path_words, anchor_words = _words(path), _words(anchor_text)
    if _mentions(path_words, _LOW_VALUE):
        return 2
    if _mentions(path_words, _HIGH_VALUE) or _mentions(anchor_words, _HIGH_VALUE):
        return 0
    return 2 if _mentions(anchor_words, _LOW_VALUE) else 1
