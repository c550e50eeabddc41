"""The opening conversation of an LLM review, with untrusted text fenced off as data.

Everything the merchant controls (page text, titles, URLs, the declared record, quotes in
offline leads) is placed inside delimited blocks: `<untrusted_page url="...">`,
`<merchant_record>`, `<offline_leads>`. A page could try to close its block early and
write "instructions" after it, so any occurrence of a block tag inside the data is
neutralised (its `<` becomes `&lt;`) before it is placed in the prompt; the system prompt
tells the model that block contents are data, never instructions.

Hidden page text (PageSnapshot.hidden_text: display:none, comments) is NOT included: it
cannot be cited (verification only accepts visible text) and it is the most common
carrier of prompt injections. The model sees only PageSnapshot.citable_text().
"""

from __future__ import annotations

import html
import json
import re
from typing import Any
from urllib.parse import urlsplit

from agent.assessor import AssessmentRequest
from agent.llm_evidence import Excerpt, Rater, select_evidence
from agent.prompts import PromptSet
from merchant_review.pages import CrawlReport, PageSnapshot
from merchant_review.policy import PolicyRule, RetrievedRule
from merchant_review.verdict import Finding

BLOCK_TAGS = ("untrusted_page", "merchant_record", "offline_leads")

# "<" (optionally "</", with spaces) followed by one of our tag names, any case.
_TAG = re.compile(r"<(\s*/?\s*)(?=(?:" + "|".join(BLOCK_TAGS) + r")\b)", re.IGNORECASE)


def neutralise(text: str) -> str:
    """Untrusted text with every opening or closing block tag defused."""
    return _TAG.sub(r"&lt;\1", text)


def to_json(value: Any, indent: int | None = 1) -> str:
    """JSON of data placed in the prompt (unicode kept as is; indented unless told not)."""
    return json.dumps(value, ensure_ascii=False, indent=indent, default=str)


def page_block(page: PageSnapshot, max_chars: int) -> str:
    """One fetched page's visible text as a delimited, neutralised data block."""
    text = page.citable_text()
    truncated = len(text) > max_chars
    body = neutralise(text[:max_chars])
    url = html.escape(neutralise(page.url), quote=True)
    attributes = f'url="{url}" status="{page.status}"'
    if truncated:
        attributes += f' truncated_at_chars="{max_chars}"'
    return f"<untrusted_page {attributes}>\n{body}\n</untrusted_page>"


def excerpt_block(excerpt: Excerpt) -> str:
    """The snippets chosen from one page, as a delimited, neutralised data block."""
    page = excerpt.page
    body = neutralise("\n".join(excerpt.lines))
    url = html.escape(neutralise(page.url), quote=True)
    # The section heading says these are excerpts and a usable page is nearly always a 200:
    # attributes repeated on every block of every request are kept to what is news.
    attributes = f'url="{url}"' if page.status == 200 else f'url="{url}" status="{page.status}"'
    return f"<untrusted_page {attributes}>\n{body}\n</untrusted_page>"


def rule_line(rule: PolicyRule) -> str:
    """One candidate rule in full as a prompt line: its id (which starts with its
    category), title, description and lookalikes (none is neutralised: rule texts are the
    project's own)."""
    line = f"- {rule.id}: {rule.title}"
    lookalikes = "; ".join(f'"{example}"' for example in rule.examples.not_violating)
    return f"{line}. {rule.description}" + (f" Not violations: {lookalikes}" if lookalikes else "")


def rule_lines(
    rules: list[RetrievedRule],
    detailed: frozenset[str] | None,
    related: frozenset[str] = frozenset(),
) -> str:
    """The candidate rules: every one in full, a line each (detailed None); or in full
    only the rules the shown evidence meets, and the others' ids on one line (an id names
    the category and the activity; search_policies gives a rule's text), with the ids of
    the `related` rules shown sentences read like, when they are no candidates."""
    if detailed is None:
        return "\n".join(rule_line(hit.rule) for hit in rules)
    lines = [rule_line(hit.rule) for hit in rules if hit.rule.id in detailed]
    others = [hit.rule.id for hit in rules if hit.rule.id not in detailed]
    others += sorted(related - {hit.rule.id for hit in rules})
    if others:
        lines.append(f"- also: {', '.join(others)}")
    return "\n".join(lines)


def lead_json(leads: list[Finding]) -> str:
    """Offline leads as one line of JSON (neutralised: quotes are page text). JSON, not
    lines: the leads are findings the model may re-submit as they are, and the CI gate's
    plumbing model (evals/plumbing.py) does exactly that."""
    if not leads:
        return ""
    return neutralise(to_json([lead.model_dump(mode="json") for lead in leads], indent=None))


_TITLE_SEPARATORS = (" | ", " - ", " – ", " — ", " · ", " :: ")


def _site_suffix(titles: list[str]) -> str:
    """The "| Site name" ending most page titles share (said once, not on every line)."""
    endings: dict[str, int] = {}
    for title in titles:
        for separator in _TITLE_SEPARATORS:
            cut = title.rfind(separator)
            if cut > 0:
                endings[title[cut:]] = endings.get(title[cut:], 0) + 1
    suffix, count = max(endings.items(), key=lambda item: item[1], default=("", 0))
    return suffix if count >= 2 else ""


def crawl_summary(crawl: CrawlReport, pages: list[PageSnapshot], *, outline: bool = False) -> str:
    """What the crawl did, for the model to judge the site status (neutralised); with
    `outline`, each usable page's path and title (what fetch_page can ask for)."""
    ok = [page for page in pages if page.ok]
    lines = [f"Crawl from {crawl.start_url}: {len(pages)} pages fetched, {len(ok)} usable."]
    if crawl.stopped_because:
        lines.append(f"Stopped because: {crawl.stopped_because}")
    if crawl.skipped:
        lines.append(f"URLs skipped: {len(crawl.skipped)}")
    suffix = _site_suffix([page.title or "" for page in ok]) if outline else ""
    if suffix:
        lines.append(f'Page titles below end in "{suffix.strip()}".')
    for page in pages:
        if page.ok and outline:
            # The path is enough to ask for the page; excerpts carry the full URL to cite.
            path = urlsplit(page.url).path or "/"
            title = (page.title or "untitled").removesuffix(suffix) if suffix else page.title
            lines.append(f"{path} ({title or 'untitled'})")
        elif not page.ok:
            error = f", {page.error}" if page.error else ""
            lines.append(f"Failed: {page.url} (status {page.status}{error})")
    return neutralise("\n".join(lines))


def task_values(
    request: AssessmentRequest,
    *,
    include_personal: bool,
    max_page_chars: int,
    evidence_chars: int | None = None,
    rater: Rater | None = None,
) -> dict[str, Any]:
    """The values review_task.md is rendered with.

    website, merchant (JSON or None), rules (lines or ""), leads (lines or ""), crawl
    (summary text) and pages (the page blocks, or "" when none could be fetched).
    """
    merchant = request.merchant
    record = merchant.fields(include_personal=include_personal) if merchant else None
    detailed: frozenset[str] | None = None
    related: frozenset[str] = frozenset()
    if evidence_chars is None:
        pages = [page_block(page, max_page_chars) for page in request.pages if page.ok]
    else:
        evidence = select_evidence(
            request.pages,
            request.corpus,
            request.rules,
            request.leads,
            budget_chars=evidence_chars,
            rater=rater,
            snippets=request.snippet_memo.of(request.pages),
        )
        pages = [excerpt_block(excerpt) for excerpt in evidence.excerpts]
        detailed = evidence.rule_ids | {lead.rule_id for lead in request.leads}
        related = evidence.related
    excerpts = evidence_chars is not None
    return {
        "website": neutralise(request.website),
        # One line, in both modes: indentation would only cost tokens (and would make the
        # whole-page baseline of bench.tokens look bigger than it need be).
        "merchant": neutralise(to_json(record, indent=None)) if record is not None else None,
        "rules": rule_lines(request.rules, detailed, related),
        "leads": lead_json(request.leads),
        "crawl": crawl_summary(request.crawl, request.pages, outline=excerpts),
        "pages": "\n\n".join(pages),
        "excerpts": excerpts,
    }


def opening_messages(
    request: AssessmentRequest,
    prompts: PromptSet,
    *,
    include_personal: bool,
    max_page_chars: int,
    evidence_chars: int | None = None,
    rater: Rater | None = None,
) -> list[dict[str, Any]]:
    """The system prompt and the task message that start every review conversation."""
    values = task_values(
        request,
        include_personal=include_personal,
        max_page_chars=max_page_chars,
        evidence_chars=evidence_chars,
        rater=rater,
    )
    return [
        {"role": "system", "content": prompts.system()},
        {"role": "user", "content": prompts.review_task(**values)},
    ]


def tool_result_message(call_id: str, result: Any) -> dict[str, Any]:
    """A tool result for the model; page text inside it is neutralised like page blocks."""
    content = result if isinstance(result, str) else to_json(result, indent=None)
    return {"role": "tool", "tool_call_id": call_id, "content": neutralise(content)}
