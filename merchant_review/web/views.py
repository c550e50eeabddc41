"""What the review and page-snapshot pages show, assembled from a stored review."""

from __future__ import annotations

from dataclasses import dataclass

from merchant_review.pages import PageSnapshot
from merchant_review.policy import PolicyCorpus, PolicyRule
from merchant_review.storage.overrides import FinalDecision
from merchant_review.storage.reads import StoredReview
from merchant_review.verdict import Finding, PageCitation, Verdict
from merchant_review.web.evidence import (
    Excerpt,
    Segment,
    excerpt,
    find_page,
    highlighted,
    normal_text,
)
from merchant_review.web.integrity import ChainStatus


@dataclass(frozen=True)
class CitationView:
    """A citation as shown: a quote in its page's context, or a record field."""

    kind: str  # page | record
    text: str  # the quote, or the field's value
    url: str | None = None
    field: str | None = None
    page_seq: int | None = None  # the stored page snapshot to link to
    context: Excerpt | None = None


@dataclass(frozen=True)
class FindingView:
    finding: Finding
    rule: PolicyRule | None
    citations: list[CitationView]


@dataclass(frozen=True)
class Cost:
    llm_calls: int
    prompt_tokens: int
    completion_tokens: int
    events: int
    seconds: float


@dataclass(frozen=True)
class ReviewView:
    stored: StoredReview
    verdict: Verdict | None
    final: FinalDecision | None
    findings: list[FindingView]
    refused: list[tuple[FindingView, str]]
    pages: list[tuple[int, PageSnapshot]]  # (seq, snapshot)
    cost: Cost
    chain: ChainStatus
    corpus_note: str | None = None


def _citation(citation: object, pages: list[tuple[int, PageSnapshot]]) -> CitationView:
    if not isinstance(citation, PageCitation):
        field_name, value = getattr(citation, "field", "?"), getattr(citation, "value", "")
        return CitationView(kind="record", text=str(value), field=str(field_name))
    index = find_page([page for _, page in pages], citation.url)
    if index is None:
        return CitationView(kind="page", text=citation.quote, url=citation.url)
    seq, page = pages[index]
    return CitationView(
        kind="page",
        text=citation.quote,
        url=citation.url,
        page_seq=seq,
        context=excerpt(citation.quote, page),
    )


def _finding(
    finding: Finding, corpus: PolicyCorpus, pages: list[tuple[int, PageSnapshot]]
) -> FindingView:
    citations = [_citation(citation, pages) for citation in finding.citations]
    return FindingView(finding, corpus.get(finding.rule_id), citations)


def _cost(stored: StoredReview, verdict: Verdict | None) -> Cost:
    usage = verdict.usage if verdict else None
    prompt = sum(event.prompt_tokens or 0 for event in stored.events)
    completion = sum(event.completion_tokens or 0 for event in stored.events)
    return Cost(
        llm_calls=usage.llm_calls if usage else 0,
        prompt_tokens=max(prompt, usage.prompt_tokens if usage else 0),
        completion_tokens=max(completion, usage.completion_tokens if usage else 0),
        events=len(stored.events),
        seconds=sum(event.latency_ms or 0.0 for event in stored.events) / 1000,
    )


def review_view(stored: StoredReview, corpus: PolicyCorpus, chain: ChainStatus) -> ReviewView:
    """Everything the review page shows."""
    verdict = stored.parsed_verdict()
    pages = list(zip((row.seq for row in stored.pages), stored.page_snapshots(), strict=True))
    findings = [_finding(f, corpus, pages) for f in verdict.findings] if verdict else []
    refused = (
        [(_finding(r.finding, corpus, pages), r.reason) for r in verdict.rejected_findings]
        if verdict
        else []
    )
    note = None
    if stored.review.corpus_version != corpus.version:
        note = (
            f"rule texts are from the current corpus ({corpus.version}); this review used "
            f"{stored.review.corpus_version}"
        )
    return ReviewView(
        stored=stored,
        verdict=verdict,
        final=stored.final_decision(),
        findings=findings,
        refused=refused,
        pages=pages,
        cost=_cost(stored, verdict),
        chain=chain,
        corpus_note=note,
    )


@dataclass(frozen=True)
class SnapshotView:
    """A stored page: its citable text with cited quotes marked, and what else was kept."""

    review_id: str
    seq: int
    page: PageSnapshot
    segments: list[Segment]
    quotes: list[str]


def snapshot_view(stored: StoredReview, seq: int) -> SnapshotView | None:
    """The stored page with this seq, with the review's quotes from it marked."""
    pages = list(zip((row.seq for row in stored.pages), stored.page_snapshots(), strict=True))
    chosen = [(i, page) for i, (s, page) in enumerate(pages) if s == seq]
    if not chosen:
        return None
    index, page = chosen[0]
    verdict = stored.parsed_verdict()
    snapshots = [p for _, p in pages]
    quotes = [
        citation.quote
        for citation in (verdict.citations() if verdict else [])
        if isinstance(citation, PageCitation) and find_page(snapshots, citation.url) == index
    ]
    text = normal_text(page.citable_text())
    return SnapshotView(stored.review.id, seq, page, highlighted(text, quotes), quotes)
