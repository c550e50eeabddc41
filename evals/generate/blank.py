"""Sites that show no business: a parked domain, a "coming soon" page, a near-empty site."""

from __future__ import annotations

import random

from evals.generate.data import load
from evals.generate.identity import Identity
from evals.generate.pages import esc
from evals.generate.plan import Blank


def _fill(text: str, ident: Identity) -> str:
    return text.format(domain=ident.host, name=ident.name, email=ident.email)


def _form(lang: str) -> str:
    ui = load("ui")[lang]
    return (
        f'<form action="/notify" method="post"><input type="email" name="email" '
        f'placeholder="{esc(ui["email_placeholder"])}"><button type="submit">'
        f"{esc(ui['subscribe'])}</button></form>"
    )


def render_blank(rng: random.Random, blank: Blank, ident: Identity) -> dict[str, str]:
    """The files of a blank site (nothing for an unreachable one)."""
    if blank is Blank.UNREACHABLE:
        return {}
    options = load("escalate")[ident.lang][blank.value]
    chosen = rng.choice(options)
    title = _fill(chosen["title"], ident)
    paras = "".join(f"<p>{esc(_fill(p, ident))}</p>" for p in chosen["paras"])
    extra = _form(ident.lang) if blank is Blank.CONSTRUCTION and rng.random() < 0.6 else ""
    page = "\n".join(
        [
            "<!DOCTYPE html>",
            f'<html lang="{ident.lang}">',
            "<head>",
            '<meta charset="utf-8">',
            f"<title>{esc(title)}</title>",
            "</head>",
            "<body>",
            "<main>",
            f"<h1>{esc(title)}</h1>{paras}{extra}",
            "</main>",
            "</body>",
            "</html>",
            "",
        ]
    )
    files = {"index.html": page}
    if rng.random() < 0.3:
        files["robots.txt"] = "User-agent: *\nDisallow:\n"
    return files
