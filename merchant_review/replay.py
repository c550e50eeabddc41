"""`merchant-review replay REVIEW_ID`: re-run a stored review on its stored evidence.

The replay runs the same review graph with three seams swapped (agent/context.py):

- pages come from the audit log (`StoredPages`): the crawl as it was reported, with every
  page the original review fetched, agent fetches included, so nothing is fetched again;
- merchant records as the original saw them (`RecordsAsOf`): the record if it is unchanged
  (same record_hash), else the stored snapshot (personal fields redacted), and only the
  prior reviews decided before the original started;
- the network is shut: the HTTP client answers 404 to anything not in the evidence, and
  the site's hosts are routed to a closed loopback port, so not even DNS is asked.

It runs with the settings the original recorded. An offline engine is rebuilt from them and
must reproduce the verdict exactly. A model-backed review (engine "llm:MODEL") is replayed
with the model responses it recorded (MODEL_CALL events), served in order by
agent.scripted.ScriptedModel. The replay is recorded as a new review (trigger "replay",
`replay_of` = the original) and compared with the original, field by field.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import httpx

from merchant_review.audit import EventKind, sha256_of
from merchant_review.pages import CrawlReport
from merchant_review.policy import PolicyCorpus, load_corpus
from merchant_review.records import MerchantRecord
from merchant_review.review import Reviewer, build_assessor, settings_record
from merchant_review.settings import CrawlSettings, EngineChoice, Settings
from merchant_review.storage import Store, StoredReview
from merchant_review.verdict import Verdict

if TYPE_CHECKING:
    from agent.assessor import Assessor
    from agent.scripted import ScriptedModel

# Verdict fields a faithful replay reproduces (not its id, time or review id).
COMPARED = (
    "decision", "categories", "confidence", "site_status", "findings", "rejected_findings",
    "reasons", "business_summary", "engine", "model", "prompt_version", "corpus_version",
    "usage", "error",
)  # fmt: skip
NO_NETWORK_ORIGIN = "http://127.0.0.1:9"  # the discard port: nothing listens, nothing is sent


class ReplayError(Exception):
    """The review cannot be replayed (the message says why)."""


@dataclass
class ReplayResult:
    original_id: str
    replay_id: str
    original: Verdict
    replayed: Verdict
    differences: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    @property
    def reproduced(self) -> bool:
        return not self.differences


class StoredPages:
    """A page source serving the original review's crawl from the audit log."""

    def __init__(self, report: CrawlReport | None) -> None:
        self._report = report

    async def crawl(
        self, website: str, settings: CrawlSettings, client: httpx.AsyncClient
    ) -> CrawlReport:
        if self._report is None:
            raise ReplayError("the original review stored no crawl (it failed before one)")
        return self._report.model_copy(deep=True)


class RecordsAsOf:
    """The records tools' view as the original review had it."""

    def __init__(self, store: Store, merchant: MerchantRecord, stored: StoredReview) -> None:
        self._store = store
        self._merchant = merchant
        self._before = stored.review.started_at

    def get_merchant(self, merchant_id: str) -> MerchantRecord | None:
        return self._merchant if merchant_id == self._merchant.merchant_id else None

    def prior_reviews(self, merchant_id: str, limit: int = 5) -> list[dict[str, Any]]:
        return self._store.prior_reviews(merchant_id, limit, before=self._before)


def offline_client() -> httpx.AsyncClient:
    """An HTTP client that never touches the network."""

    def refuse(request: httpx.Request) -> httpx.Response:
        return httpx.Response(404, text=f"replay: {request.url} is not in the stored evidence")

    return httpx.AsyncClient(transport=httpx.MockTransport(refuse))


# -- what the replay runs with -------------------------------------------------------------


def _hosts(stored: StoredReview) -> set[str]:
    urls = [stored.review.website, *(p.url for p in stored.pages)]
    hosts = {(urlsplit(url).hostname or "").lower() for url in urls}
    return {h for host in hosts if host for h in (host, f"www.{host.removeprefix('www.')}")}


def replay_settings(stored: StoredReview, current: Settings) -> tuple[Settings, list[str]]:
    """The settings the original recorded (current ones if it recorded none), network shut."""
    warnings = []
    if stored.review.settings is None:
        warnings.append("the original recorded no settings: replayed with the current ones")
        base = settings_record(current)
    else:
        base = dict(stored.review.settings)
    settings = Settings.model_validate({**base, "database_url": current.database_url})
    overrides = {host: NO_NETWORK_ORIGIN for host in _hosts(stored)}
    crawl = settings.crawl.model_copy(update={"origin_overrides": overrides})
    return settings.model_copy(update={"crawl": crawl}), warnings


def replay_merchant(store: Store, stored: StoredReview) -> tuple[MerchantRecord | None, list[str]]:
    """The merchant record the original reviewed: exact if unchanged, else its snapshot."""
    review = stored.review
    if review.merchant_id is None or review.record is None:
        return None, []
    current = store.get_merchant(review.merchant_id)
    if current is not None and sha256_of(current.fields(include_personal=True)) == (
        review.record_hash
    ):
        return current, []
    warning = "the merchant record changed since: replayed with the stored snapshot"
    return MerchantRecord.model_validate(review.record), [warning]


def model_responses(stored: StoredReview) -> list[dict[str, Any]]:
    """The raw chat completions the review received, in order (failed attempts left out)."""
    responses = []
    for event in stored.events:
        extra = (event.input or {}).get("extra") or {}
        if event.kind == EventKind.MODEL_CALL.value and extra.get("response"):
            responses.append(extra["response"])
    return responses


def scripted_model(responses: list[dict[str, Any]]) -> ScriptedModel:
    """A scripted endpoint answering with the recorded responses, in order."""
    from agent.scripted import Reply, ScriptedModel

    def reply(completion: dict[str, Any]) -> Reply:
        message = completion["choices"][0]["message"]
        calls = tuple(
            (call["function"]["name"], call["function"]["arguments"])
            for call in message.get("tool_calls") or []
        )
        usage = completion.get("usage") or {}
        tokens = (usage.get("prompt_tokens", 0), usage.get("completion_tokens", 0))
        return Reply(content=message.get("content"), tool_calls=calls, usage=tokens)

    return ScriptedModel([reply(completion) for completion in responses])


def replay_assessor(
    stored: StoredReview, settings: Settings
) -> tuple[Assessor, ScriptedModel | None]:
    """The assessor that produced the review, rebuilt: offline, or the LLM on its record."""
    engine = stored.review.engine
    responses = model_responses(stored)
    if not engine.startswith("llm:"):
        if responses:
            raise ReplayError(f"engine {engine!r} made model calls: it cannot be replayed yet")
        return build_assessor(settings.model_copy(update={"engine": EngineChoice.OFFLINE})), None
    from agent.llm import LLMAssessor
    from agent.prompts import PromptSet

    script = scripted_model(responses)
    model = settings.model.model_copy(update={"name": stored.review.model or settings.model.name})
    assessor = LLMAssessor(
        script.client(),
        model,
        PromptSet.load(),
        include_personal=settings.share_personal_data_with_model,
    )
    return assessor, script


# -- running and comparing -----------------------------------------------------------------


def compare(original: Verdict, replayed: Verdict) -> list[str]:
    """The verdict fields that differ, as 'field: original -> replayed'."""
    before = original.model_dump(mode="json", include=set(COMPARED))
    after = replayed.model_dump(mode="json", include=set(COMPARED))
    return [
        f"{name}: {_short(before[name])} -> {_short(after[name])}"
        for name in COMPARED
        if before[name] != after[name]
    ]


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 160 else text[:157] + "..."


def _version_warnings(stored: StoredReview, corpus: PolicyCorpus, assessor: Assessor) -> list[str]:
    review, warnings = stored.review, []
    if corpus.version != review.corpus_version:
        warnings.append(
            f"policy corpus is {corpus.version}, the original used {review.corpus_version}"
        )
    if assessor.engine != review.engine:
        warnings.append(f"engine is {assessor.engine}, the original was {review.engine}")
    prompt_version = getattr(assessor, "prompt_version", None)
    if prompt_version != review.prompt_version:
        warnings.append(f"prompts are {prompt_version}, the original used {review.prompt_version}")
    return warnings


async def replay_review(
    store: Store,
    review_id: str,
    settings: Settings,
    *,
    assessor: Assessor | None = None,
    corpus: PolicyCorpus | None = None,
) -> ReplayResult:
    """Replay a stored review (id or unique prefix); the replay is stored as a new review.

    `settings` supplies the database location (and settings for an original that recorded
    none); `assessor` and `corpus` replace the rebuilt ones (tests, other engines).
    """
    stored = store.get_review(review_id)
    if stored is None:
        raise ReplayError(f"no review {review_id!r} (or the prefix is ambiguous)")
    original = stored.parsed_verdict()
    if original is None:
        raise ReplayError(f"review {stored.review.id} has no verdict: nothing to reproduce")
    run_settings, warnings = replay_settings(stored, settings)
    merchant, merchant_warnings = replay_merchant(store, stored)
    script = None
    if assessor is None:
        assessor, script = replay_assessor(stored, run_settings)
    corpus = corpus or load_corpus(run_settings.policy_dir)
    warnings += merchant_warnings + _version_warnings(stored, corpus, assessor)
    verdict = await _run(store, stored, run_settings, assessor, corpus, merchant)
    replayed = store.get_review(verdict.review_id or "")
    replayed_verdict = replayed.parsed_verdict() if replayed else None
    if replayed_verdict is None:
        raise ReplayError("the replay stored no verdict")
    if script is not None and script.remaining:
        warnings.append(f"{script.remaining} recorded model response(s) were not asked for")
    return ReplayResult(
        original_id=stored.review.id,
        replay_id=replayed_verdict.review_id or "",
        original=original,
        replayed=replayed_verdict,
        differences=compare(original, replayed_verdict),
        warnings=warnings,
    )


async def _run(
    store: Store,
    stored: StoredReview,
    settings: Settings,
    assessor: Assessor,
    corpus: PolicyCorpus,
    merchant: MerchantRecord | None,
) -> Verdict:
    async with offline_client() as client:
        reviewer = Reviewer(
            settings,
            store,
            assessor=assessor,
            corpus=corpus,
            trigger="replay",
            page_source=StoredPages(stored.crawl_report()),
            http_client=client,
        )
        async with reviewer:
            records = RecordsAsOf(store, merchant, stored) if merchant else None
            return await reviewer.replay(
                merchant, stored.review.website, records=records, replay_of=stored.review.id
            )
