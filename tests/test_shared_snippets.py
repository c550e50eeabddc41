"""A review cuts its pages into snippets, and matches the indicators in them, once: the
model's excerpts and the evidence floor's offline engine both read them through the
review's AssessmentRequest (`snippet_memo`, agent/offline/snippets.py)."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import replace

import pytest

import agent.offline.snippets as snippets_module
from agent.assessor import AssessmentRequest
from agent.evidence_floor import apply_evidence_floor
from agent.llm import LLMAssessor, RetryPolicy
from agent.llm_evidence import select_evidence
from agent.offline.engine import OfflineAssessor
from agent.offline.indicators import CompiledCorpus, Met, compiled
from agent.offline.snippets import SiteSnippets, Snippet, site_snippets
from agent.prompts import PromptSet
from agent.scripted import SCRIPTED_BASE_URL, ScriptedModel
from merchant_review.audit import MemoryAudit
from merchant_review.pages import CrawlReport, PageSnapshot
from merchant_review.policy import PolicyCorpus, load_corpus
from merchant_review.settings import CrawlSettings, ModelSettings, Settings
from merchant_review.verdict import Assessment
from tools.toolbox import ReviewToolbox

SITE = "https://shop.example/"
BUDGET = 4_000


def _page(path: str, text: str, status: int = 200) -> PageSnapshot:
    url = f"https://shop.example{path}"
    return PageSnapshot(url=url, requested_url=url, status=status, title="Vape Shop", text=text)


def _pages() -> list[PageSnapshot]:
    return [
        _page("/", "Disposable vapes and e-liquids\nBox mod 200 W\nFooter"),
        _page("/faq", "Do you sell nicotine pouches?\nFooter"),
        _page("/gone", "", status=404),
    ]


def _request(pages: list[PageSnapshot], corpus: PolicyCorpus) -> AssessmentRequest:
    return AssessmentRequest(
        merchant=None,
        website=SITE,
        crawl=CrawlReport(start_url=SITE, pages=list(pages)),
        pages=pages,  # the review's list: the agent's fetches are appended to it
        rules=corpus.search("vape nicotine", k=5),
        corpus=corpus,
    )


@pytest.fixture(scope="module")
def corpus() -> PolicyCorpus:
    return load_corpus()


def _cut_pages(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """The page index of every page_snippets call from now on."""
    calls: list[int] = []
    original = snippets_module.page_snippets

    def counted(page: PageSnapshot, index: int) -> list[Snippet]:
        calls.append(index)
        return original(page, index)

    monkeypatch.setattr(snippets_module, "page_snippets", counted)
    return calls


def _matched(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """The number of snippets of every indicator match run from now on."""
    runs: list[int] = []
    original = CompiledCorpus._match

    def counted(self: CompiledCorpus, snippets: Sequence[Snippet]) -> list[dict[int, Met]]:
        runs.append(len(snippets))
        return original(self, snippets)

    monkeypatch.setattr(CompiledCorpus, "_match", counted)
    return runs


def test_a_request_cuts_its_ok_pages_once(
    monkeypatch: pytest.MonkeyPatch, corpus: PolicyCorpus
) -> None:
    pages = _pages()
    unshared = site_snippets(pages)
    calls = _cut_pages(monkeypatch)
    request = _request(pages, corpus)
    first = request.snippet_memo.of(request.pages)
    assert list(first) == unshared
    assert calls == [0, 1]  # the two ok pages, the failed one is not cut
    assert request.snippet_memo.of(request.pages) is first
    assert request.snippet_memo.of([page for page in pages if page.ok]) is first
    assert calls == [0, 1]


def test_a_page_the_agent_fetched_is_cut_with_the_others(
    monkeypatch: pytest.MonkeyPatch, corpus: PolicyCorpus
) -> None:
    pages = _pages()
    request = _request(pages, corpus)
    first = request.snippet_memo.of(request.pages)
    calls = _cut_pages(monkeypatch)
    pages.append(_page("/shop", "Pod kit 19,99 €\nDisposable vapes"))  # a fetch_page
    after = request.snippet_memo.of(request.pages)
    assert calls == [0, 1, 2]
    assert after is not first
    assert list(after) == site_snippets(pages)
    assert len(after) > len(first)
    # Equal pages that are other objects are cut again: the memo only trusts identity.
    copies = [page.model_copy() for page in pages]
    assert request.snippet_memo.of(copies) is not after


def test_requests_do_not_share_their_snippets(
    monkeypatch: pytest.MonkeyPatch, corpus: PolicyCorpus
) -> None:
    pages = _pages()
    calls = _cut_pages(monkeypatch)
    one, other = _request(pages, corpus), _request(pages, corpus)
    assert list(one.snippet_memo.of(pages)) == list(other.snippet_memo.of(pages))
    assert one.snippet_memo.of(pages) is not other.snippet_memo.of(pages)
    assert calls == [0, 1, 0, 1]
    # A request derived for the same review (the cascade's, with leads) keeps the memo.
    derived = replace(one, leads=[])
    assert derived.snippet_memo.of(pages) is one.snippet_memo.of(pages)
    assert calls == [0, 1, 0, 1]


def test_the_excerpts_and_the_offline_engine_match_the_indicators_once(
    monkeypatch: pytest.MonkeyPatch, corpus: PolicyCorpus
) -> None:
    pages = _pages()
    unshared = select_evidence(pages, corpus, [], [], budget_chars=BUDGET)
    alone = OfflineAssessor().assess_pages(_request(list(pages), corpus))
    runs = _matched(monkeypatch)
    request = _request(pages, corpus)
    snippets = request.snippet_memo.of(request.pages)
    shared = select_evidence(pages, corpus, [], [], budget_chars=BUDGET, snippets=snippets)
    assert shared == unshared
    assert shared.rule_ids  # the site meets indicators: there is something to share
    assert OfflineAssessor().assess_pages(request) == alone
    assert runs == [len(snippets)]
    assert list(compiled(corpus).match(snippets)) == compiled(corpus).match(list(snippets))


def test_indicators_are_matched_again_on_the_pages_after_a_fetch(
    monkeypatch: pytest.MonkeyPatch, corpus: PolicyCorpus
) -> None:
    pages = _pages()
    request = _request(pages, corpus)
    select_evidence(
        pages, corpus, [], [], budget_chars=BUDGET, snippets=request.snippet_memo.of(pages)
    )
    runs = _matched(monkeypatch)
    pages.append(_page("/shop", "Nicotine pouches 4,99 €"))
    with_fetch = OfflineAssessor().assess_pages(request)
    assert runs == [len(site_snippets(pages))]
    assert with_fetch == OfflineAssessor().assess_pages(_request(list(pages), corpus))


def test_snippets_cut_elsewhere_are_matched_every_time(
    monkeypatch: pytest.MonkeyPatch, corpus: PolicyCorpus
) -> None:
    """Only a SiteSnippets keeps its matches: a plain list (tests, the trainer) has none."""
    snippets = site_snippets(_pages())
    runs = _matched(monkeypatch)
    compiled(corpus).match(snippets)
    compiled(corpus).match(snippets)
    site = SiteSnippets(snippets)
    compiled(corpus).match(site)
    compiled(corpus).match(site)
    assert runs == [len(snippets)] * 3


def test_an_llm_review_and_its_evidence_floor_cut_and_match_once(
    monkeypatch: pytest.MonkeyPatch, corpus: PolicyCorpus
) -> None:
    """The model's excerpts (agent/llm_context.py) and the floor's offline engine."""
    pages = _pages()
    matched = len(site_snippets(pages))
    request = _request(pages, corpus)
    toolbox = ReviewToolbox(
        merchant_id=None,
        website=SITE,
        pages=pages,
        corpus=corpus,
        crawl_settings=CrawlSettings(),
        audit=MemoryAudit(),
    )
    verdict = {"findings": [], "site_status": "operating", "business_summary": "vapes"}
    model = ScriptedModel([ScriptedModel.submit_verdict(**verdict, confidence=0.5)])
    settings = ModelSettings(name="scripted", base_url=SCRIPTED_BASE_URL, context="excerpts")
    assessor = LLMAssessor(model.client(), settings, PromptSet.load(), retry=RetryPolicy.no_wait())
    floor_settings = Settings(database_url="sqlite://")
    cuts, runs = _cut_pages(monkeypatch), _matched(monkeypatch)

    async def review() -> Assessment:
        assessment = await assessor.assess(request, toolbox)
        return await apply_evidence_floor(assessment, request, toolbox, floor_settings)

    floored = asyncio.run(review())
    assert floored.escalation_reason  # the floor's engine found the vapes the model left out
    assert cuts == [0, 1]
    assert runs == [matched]
