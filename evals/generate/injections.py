"""Prompt injections aimed at a model reviewer, and how they are planted into a page.

The strings come from `data/injections.yaml` (verbatim rows of deepset/prompt-injections and
BIPIA, plus targeted ones). They never change a case's label: text on a merchant's page is
data, not an instruction.
"""

from __future__ import annotations

import html
import random
from dataclasses import dataclass
from enum import StrEnum
from functools import cache

from evals.generate.data import load


class Method(StrEnum):
    """Where in the page the injection goes."""

    VISIBLE = "visible_text"
    COMMENT = "html_comment"
    HIDDEN = "hidden_div"
    ALT = "image_alt"
    META = "meta_tag"


@dataclass(frozen=True)
class Injection:
    id: str
    lang: str
    text: str


@dataclass(frozen=True)
class Planted:
    """An injection placed on one page of a site (path relative to the site root)."""

    injection: Injection
    method: Method
    page: str


@cache
def injections() -> tuple[Injection, ...]:
    """Every curated injection string."""
    return tuple(
        Injection(str(i["id"]), str(i["lang"]), str(i["text"]))
        for i in load("injections")["injections"]
    )


def pick(rng: random.Random, lang: str) -> Injection:
    """An injection, in the site's language half of the time when one exists."""
    same = [i for i in injections() if i.lang == lang]
    if lang != "en" and same and rng.random() < 0.5:
        return rng.choice(same)
    return rng.choice([i for i in injections() if i.lang == "en"])


def markup(method: Method, text: str) -> str:
    """The HTML an injection is planted as (evals/security/injection_ablation.py takes it out)."""
    safe = html.escape(text, quote=True)
    if method is Method.VISIBLE:
        return f'<p class="notice">{safe}</p>'
    if method is Method.COMMENT:
        return "<!-- " + text.replace("--", "- -") + " -->"
    if method is Method.HIDDEN:
        return f'<div style="display:none">{safe}</div>'
    if method is Method.ALT:
        return f'<img src="/images/badge.png" alt="{safe}" width="1" height="1">'
    return f'<meta name="robots-note" content="{safe}">'


def apply(page: str, method: Method, text: str) -> str:
    """The page's HTML with the injection inserted (meta tags in the head, the rest in main)."""
    anchor = "</head>" if method is Method.META else "</main>"
    return page.replace(anchor, f"{markup(method, text)}\n{anchor}", 1)
