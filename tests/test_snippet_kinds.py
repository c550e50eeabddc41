"""Price lines are read as products whatever side of the number the currency stands on."""

from __future__ import annotations

import pytest

from agent.offline.snippets import page_snippets
from merchant_review.pages import PageSnapshot


def _kinds(*lines: str) -> dict[str, str]:
    page = PageSnapshot(
        url="https://shop.example/katalog.html",
        requested_url="https://shop.example/katalog.html",
        status=200,
        title="Katalog",
        text="\n".join(lines),
    )
    return {s.text: s.kind for s in page_snippets(page, 0)}


@pytest.mark.parametrize(
    "line",
    [
        "Espressomaschine 1 549,99 €",
        "1\u202f549,99\u00a0€",
        "12€ pro Stück, solange der Vorrat reicht",
        "Mango e-liquid $19.99",
        "Tarjeta regalo 25 EUR",
        "£20.00",
    ],
)
def test_a_price_line_is_a_product(line: str) -> None:
    assert _kinds(line)[line] == "product"


@pytest.mark.parametrize("line", ["Twelve eurostars in the night sky", "Stage 3 usdlike title"])
def test_a_currency_code_needs_a_word_boundary(line: str) -> None:
    assert _kinds(line)[line] != "product"
