"""A model review cuts its pages into snippets once: the LLM context and the evidence
floor's offline engine share them (agent/offline/snippets.py)."""

from __future__ import annotations

import asyncio
import contextvars

import pytest

import agent.offline.snippets as snippets_module
from agent.evidence_floor import apply_evidence_floor
from agent.offline.snippets import (
    share_site_snippets,
    site_snippets,
    stop_sharing_site_snippets,
)
from merchant_review.pages import PageSnapshot
from merchant_review.settings import Settings
from merchant_review.verdict import Assessment


def _page(path: str, text: str, status: int = 200) -> PageSnapshot:
    url = f"https://shop.example{path}"
    return PageSnapshot(url=url, requested_url=url, status=status, title="Shop", text=text)


def _counting(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    calls: list[int] = []
    original = snippets_module.page_snippets

    def counted(page: PageSnapshot, index: int) -> list[snippets_module.Snippet]:
        calls.append(index)
        return original(page, index)

    monkeypatch.setattr(snippets_module, "page_snippets", counted)
    return calls


def test_the_same_pages_are_cut_once_and_new_ones_again(monkeypatch: pytest.MonkeyPatch) -> None:
    calls = _counting(monkeypatch)
    pages = [_page("/", "Box mod 200 W\nFooter"), _page("/faq", "Is it legal?\nFooter")]
    pages.append(_page("/gone", "", status=404))
    unshared = site_snippets(pages)

    def review() -> None:
        share_site_snippets()
        first = site_snippets(pages)
        again = site_snippets([page for page in pages if page.ok])  # the same ok pages
        assert first == again == unshared
        assert len(calls) == 2 * 2  # the unshared call and the first shared one
        pages.append(_page("/shop", "Pod kit"))  # a page the model fetched
        assert site_snippets(pages) == site_snippets(list(pages))
        assert len(calls) == 4 + 3
        copy = [page.model_copy() for page in pages]  # equal pages, other objects
        assert site_snippets(copy) == site_snippets(pages)
        assert len(calls) == 7 + 3 + 3
        stop_sharing_site_snippets()
        site_snippets(pages)
        assert len(calls) == 13 + 3

    contextvars.copy_context().run(review)
    site_snippets(pages)  # another context never shared
    assert len(calls) == 16 + 3


def test_a_caller_changing_its_list_does_not_change_the_shared_snippets() -> None:
    pages = [_page("/", "Box mod 200 W"), _page("/faq", "Is it legal?")]

    async def review() -> None:
        share_site_snippets()
        first = site_snippets(pages)
        expected = list(first)
        first.clear()
        assert site_snippets(pages) == expected
        stop_sharing_site_snippets()

    asyncio.run(review())


def test_the_evidence_floor_stops_the_sharing() -> None:
    """The floor is the last user of a model review's snippets: it drops them."""

    async def review() -> None:
        share_site_snippets()
        site_snippets([_page("/", "Box mod 200 W")])
        offline = Assessment(engine="offline", confidence=0.9)  # no model: returned as is
        settings = Settings(database_url="sqlite://")
        assert await apply_evidence_floor(offline, None, None, settings) is offline  # type: ignore[arg-type]
        assert snippets_module._SHARED.get() is None

    asyncio.run(review())
