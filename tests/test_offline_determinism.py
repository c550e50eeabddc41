"""The offline engine's verdict and rationales do not depend on the process's string
hashing: the same pages give the same text under any PYTHONHASHSEED, so audit logs and
replays are reproducible (agent/offline/textmatch.py, PhraseIndex.candidates)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from merchant_review.policy import load_corpus

ROOT = Path(__file__).resolve().parents[1]
# Reads a page text on stdin, prints the shipped offline engine's assessment of it and the
# decision the graph derives from it, as JSON.
REVIEW = """
import json, sys
from agent.assessor import AssessmentRequest
from agent.decide import decide_outcome
from agent.engines import offline_assessor
from agent.offline import OfflineAssessor
from agent.verify import verify_findings
from merchant_review.pages import CrawlReport, PageSnapshot
from merchant_review.policy import load_corpus
from merchant_review.settings import Settings

url = "https://shop.example/"
page = PageSnapshot(url=url, requested_url=url, status=200, title="Shop", text=sys.stdin.read())
corpus = load_corpus()
request = AssessmentRequest(
    merchant=None, website=url, crawl=CrawlReport(start_url=url, pages=[page]),
    pages=[page], rules=[], corpus=corpus,
)
settings = Settings(database_url="sqlite://")
engine = offline_assessor(settings)
assert isinstance(engine, OfflineAssessor)
assessment = engine.assess_pages(request)
verified, rejected = verify_findings(assessment.findings, [page], None, corpus)
outcome = decide_outcome(assessment, verified, rejected, settings, pages=[page])
print(json.dumps({
    "assessment": assessment.model_dump(mode="json", exclude={"usage"}),
    "decision": outcome.decision.value,
    "categories": [category.value for category in outcome.categories],
    "confidence": outcome.confidence,
}))
"""


def _site_text() -> str:
    """A line per rule listing its phrase indicators: many indicators met per snippet,
    so the order they are listed in has many ways to differ."""
    corpus = load_corpus()
    lines = []
    for rule in corpus.rules:
        phrases = [text for text in rule.positive_indicators if not text.startswith("re:")]
        lines.append(", ".join(phrases)[:280])  # one snippet each (MAX_CHARS 300)
    return "\n".join(lines)


def _review(text: str, seed: int) -> dict[str, Any]:
    env = {**os.environ, "PYTHONHASHSEED": str(seed)}
    done = subprocess.run(
        [sys.executable, "-c", REVIEW],
        input=text,
        capture_output=True,
        text=True,
        cwd=ROOT,
        env=env,
        check=True,
        timeout=120,
    )
    result: dict[str, Any] = json.loads(done.stdout)
    return result


def test_the_same_site_gets_the_same_rationales_under_any_string_hashing() -> None:
    text = _site_text()
    first, second = _review(text, 0), _review(text, 1)
    findings = first["assessment"]["findings"]
    listing_several = [f for f in findings if f["rationale"].count('", "') >= 2]
    assert len(listing_several) >= 5  # the rationales list indicators: their order is tested
    assert first["decision"] == "reject"
    assert second == first
