"""The eval runner: every case reviewed exactly as a user's review runs.

Each case's `sites/CASE_ID/` is served on 127.0.0.1 as the origin of its merchant's
website (by Host header, through the crawler's origin overrides), its merchant record is
loaded into the records database, and the real Reviewer runs the real graph. Results are
appended to a JSONL journal as they finish, so an interrupted run resumes where it stopped.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from agent.assessor import Assessor
from evals.dataset import Dataset, EvalCase
from evals.results import CaseResult, EvalRun
from merchant_review.pages import PageSnapshot, quote_in_text
from merchant_review.providers import estimated_cost
from merchant_review.review import Reviewer
from merchant_review.settings import Settings
from merchant_review.sitehost import SiteHost
from merchant_review.storage import Store
from merchant_review.verdict import Verdict

ProgressHook = Callable[[CaseResult], None]


def waves(cases: list[EvalCase]) -> list[list[EvalCase]]:
    """Groups in which every host is served by one case (datasets may reuse a host)."""
    seen: Counter[str] = Counter()
    groups: list[list[EvalCase]] = []
    for case in cases:
        index = seen[case.host]
        seen[case.host] += 1
        if index == len(groups):
            groups.append([])
        groups[index].append(case)
    return groups


def _check(citation: dict[str, Any], pages: dict[str, str], record: dict[str, Any]) -> bool:
    if citation.get("kind") == "record":
        value = record.get(str(citation.get("field")))
        return value is not None and quote_in_text(str(citation.get("value", "")), str(value))
    text = pages.get(str(citation.get("url")))
    return text is not None and quote_in_text(str(citation.get("quote", "")), text)


def score_citations(
    verdict: Verdict, pages: list[PageSnapshot], record: dict[str, Any]
) -> list[dict[str, Any]]:
    """Every quote the assessor cited — accepted or refused — re-checked on the stored pages."""
    by_url: dict[str, str] = {}
    for page in pages:
        if page.ok:
            by_url.setdefault(page.url, page.citable_text())
            by_url.setdefault(page.requested_url, page.citable_text())
    cited = [c.model_dump(mode="json") for c in verdict.citations()]
    cited += [
        c.model_dump(mode="json") for r in verdict.rejected_findings for c in r.finding.citations
    ]
    return [{**c, "valid": _check(c, by_url, record)} for c in cited]


class EvalRunner:
    """Runs a dataset's cases through one Reviewer, concurrently, with a resumable journal."""

    def __init__(
        self,
        dataset: Dataset,
        settings: Settings,
        store: Store,
        *,
        assessor: Assessor | None = None,
        concurrency: int = 4,
        run_id: str | None = None,
        journal: Path | None = None,
        on_result: ProgressHook | None = None,
    ) -> None:
        self.dataset = dataset
        self.settings = settings
        self.store = store
        self.assessor = assessor
        self.concurrency = concurrency
        self.run_id = run_id or f"eval-{uuid.uuid4().hex[:12]}"
        self.journal = journal
        self.on_result = on_result

    def _done(self) -> dict[str, CaseResult]:
        if self.journal is None or not self.journal.exists():
            return {}
        lines = self.journal.read_text(encoding="utf-8").splitlines()
        results = [CaseResult.model_validate_json(line) for line in lines if line.strip()]
        return {r.case_id: r for r in results}

    def _save(self, result: CaseResult) -> None:
        if self.journal is not None:
            with self.journal.open("a", encoding="utf-8") as handle:
                handle.write(result.model_dump_json() + "\n")
        if self.on_result is not None:
            self.on_result(result)

    async def run(self, cases: list[EvalCase]) -> EvalRun:
        started = datetime.now(UTC)
        done = self._done()
        todo = [case for case in cases if case.case_id not in done]
        self.store.import_merchants(case.merchant for case in todo)
        results = dict(done)
        engine = "?"
        groups = waves(todo)
        with SiteHost() as host:
            # Every host appears in the first wave, so the overrides taken now cover all.
            for case in groups[0] if groups else []:
                host.add_site(case.host, self.dataset.site_dir(case))
            async with Reviewer(
                self._settings_for(host),
                self.store,
                assessor=self.assessor,
                trigger="eval",
                eval_run_id=self.run_id,
            ) as reviewer:
                engine = reviewer.assessor.engine
                for group in groups:
                    for case in group:
                        host.add_site(case.host, self.dataset.site_dir(case))
                    for result in await self._run_group(reviewer, group):
                        results[result.case_id] = result
        ordered = [results[case.case_id] for case in cases if case.case_id in results]
        return EvalRun(
            run_id=self.run_id,
            dataset=str(self.dataset.root),
            engine=engine,
            started_at=started,
            finished_at=datetime.now(UTC),
            cases=ordered,
        )

    def _settings_for(self, host: SiteHost) -> Settings:
        crawl = self.settings.crawl.model_copy(
            update={
                "origin_overrides": host.origin_overrides(),
                "allow_private": [*self.settings.crawl.allow_private, "127.0.0.1"],
            }
        )
        return self.settings.model_copy(update={"crawl": crawl})

    async def _run_group(self, reviewer: Reviewer, group: list[EvalCase]) -> list[CaseResult]:
        limit = asyncio.Semaphore(self.concurrency)

        async def one(case: EvalCase) -> CaseResult:
            async with limit:
                result = await self._run_case(reviewer, case)
            self._save(result)
            return result

        return list(await asyncio.gather(*(one(case) for case in group)))

    async def _run_case(self, reviewer: Reviewer, case: EvalCase) -> CaseResult:
        started = time.perf_counter()
        base = {
            "case_id": case.case_id,
            "expected_decision": case.expected.decision,
            "expected_categories": case.expected.categories,
            "tags": self.dataset.tags(case),
            "language": self.dataset.language(case),
        }
        try:
            verdict = await reviewer.review_merchant(case.merchant.merchant_id)
        except Exception as exc:  # a failing case counts as wrong; the run goes on
            return CaseResult(
                **base, seconds=time.perf_counter() - started, error=f"{type(exc).__name__}: {exc}"
            )
        seconds = time.perf_counter() - started
        stored = self.store.get_review(verdict.review_id or "")
        pages = stored.page_snapshots() if stored else []
        citations = score_citations(verdict, pages, case.merchant.fields(include_personal=True))
        return CaseResult(
            **base,
            decision=verdict.decision,
            categories=verdict.categories,
            confidence=verdict.confidence,
            citations=citations,
            invalid_citations=[c for c in citations if not c["valid"]],
            seconds=seconds,
            error=verdict.error,
            review_id=verdict.review_id,
            llm_calls=verdict.usage.llm_calls,
            tokens=verdict.usage.tokens,
            prompt_tokens=verdict.usage.prompt_tokens,
            completion_tokens=verdict.usage.completion_tokens,
            cost_usd=estimated_cost(
                self.settings.prices,
                verdict.model,
                verdict.usage.prompt_tokens,
                verdict.usage.completion_tokens,
            )
            if verdict.usage.llm_calls
            else 0.0,
            sent_to_model=verdict.usage.llm_calls > 0,
        )
