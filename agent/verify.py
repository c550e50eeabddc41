"""Citation verification: a quote counts only if it stands verbatim on the fetched page.

Comparison is on whitespace-folded NFKC text (merchant_review.pages.fold). A finding keeps
only its verified citations; one with none left cannot support a category.
"""

from __future__ import annotations

from urllib.parse import urlsplit, urlunsplit

from merchant_review.pages import PageSnapshot, fold, quote_in_text
from merchant_review.policy import PolicyCorpus
from merchant_review.records import MerchantRecord
from merchant_review.verdict import (
    Citation,
    Finding,
    PageCitation,
    RecordCitation,
    RejectedFinding,
)


def normalise_url(url: str) -> str:
    parts = urlsplit(url.strip())
    path = parts.path or "/"
    return urlunsplit((parts.scheme.lower(), parts.netloc.lower(), path, parts.query, ""))


def page_index(pages: list[PageSnapshot]) -> dict[str, str]:
    """Citable text of every successfully fetched page, by normalised URL."""
    index: dict[str, str] = {}
    for page in pages:
        if page.ok:
            text = page.citable_text()
            index[normalise_url(page.url)] = text
            index.setdefault(normalise_url(page.requested_url), text)
    return index


def citation_problem(
    citation: Citation, pages: dict[str, str], merchant: MerchantRecord | None
) -> str | None:
    """None when the citation is verified, else why it is not."""
    if isinstance(citation, PageCitation):
        text = pages.get(normalise_url(citation.url))
        if text is None:
            return f"no fetched page at {citation.url}"
        if not quote_in_text(citation.quote, text):
            return f"quote not found on {citation.url}: {citation.quote[:80]!r}"
        return None
    return _record_problem(citation, merchant)


def _record_problem(citation: RecordCitation, merchant: MerchantRecord | None) -> str | None:
    if merchant is None:
        return "no merchant record to cite"
    value = merchant.fields(include_personal=True).get(citation.field)
    if value is None:
        return f"record has no field {citation.field!r}"
    if not fold(citation.value) or fold(citation.value) not in fold(str(value)):
        return f"record field {citation.field!r} does not hold {citation.value[:80]!r}"
    return None


def verify_findings(
    findings: list[Finding],
    pages: list[PageSnapshot],
    merchant: MerchantRecord | None,
    corpus: PolicyCorpus,
) -> tuple[list[Finding], list[RejectedFinding]]:
    """Split proposed findings into verified ones (verified citations only) and rejections."""
    index = page_index(pages)
    verified: list[Finding] = []
    rejected: list[RejectedFinding] = []
    for finding in findings:
        rule = corpus.get(finding.rule_id)
        if rule is None or rule.category is not finding.category:
            reason = "unknown policy rule" if rule is None else "rule belongs to another category"
            rejected.append(RejectedFinding(finding=finding, reason=f"{reason}: {finding.rule_id}"))
            continue
        good: list[Citation] = []
        for citation in finding.citations:
            problem = citation_problem(citation, index, merchant)
            if problem is None:
                good.append(citation)
            else:
                bad = finding.model_copy(update={"citations": [citation]})
                rejected.append(RejectedFinding(finding=bad, reason=problem))
        if good:
            verified.append(finding.model_copy(update={"citations": good}))
        elif not finding.citations:
            rejected.append(RejectedFinding(finding=finding, reason="no citation"))
    return verified, rejected
