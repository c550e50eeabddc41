"""`merchant-review export-labels`: analysts' decisions as an evaluation dataset.

Every review with an analyst override becomes a case in the eval contract format
(shared/spec/eval-dataset-format.md): the merchant record (personal fields left out),
`expected` = the decision that stands (the latest override) with its categories, and the
site as files under `sites/CASE_ID/`, rebuilt from the stored page evidence so the system
can be evaluated, or trained, on exactly what the analyst judged. Overrides that agree
with the engine ("confirmed") are labels too.

Pages are rebuilt, not copied: the audit log keeps what a page showed (title, visible and
hidden text, meta, image alt texts, links), not its HTML. Each becomes a small HTML file
that extracts to the same text. A page is written at the path of its URL: `/` and
`/a/` as index.html, `/a/b.html` as is, `/about` (no .html) as `about/index.html` (the site
server redirects /about to /about/). Pages that failed, carry a query string or lie on
another site are left out (they answer 404, as failed pages did).
"""

from __future__ import annotations

import json
import os
import posixpath
import shutil
import tempfile
from dataclasses import dataclass
from html import escape
from pathlib import Path, PurePosixPath
from typing import Any
from urllib.parse import unquote, urlsplit

from merchant_review.pages import PageSnapshot
from merchant_review.records import PERSONAL_FIELDS
from merchant_review.storage import Store, StoredReview
from merchant_review.storage.overrides import FinalDecision

HTML_SUFFIXES = frozenset({".html", ".htm"})


class LabelExportError(Exception):
    """The dataset cannot be written where asked (the message says why)."""


@dataclass(frozen=True)
class ExportSummary:
    out: Path
    cases: int
    confirmed: int  # the analyst agreed with the engine
    corrected: int  # the analyst changed the decision
    pages: int


def _site(url: str) -> str:
    return (urlsplit(url).hostname or "").lower().removeprefix("www.")


def site_path(url: str) -> PurePosixPath | None:
    """Where a page's file goes inside sites/CASE_ID/ (None: it cannot be served)."""
    parts = urlsplit(url)
    path = unquote(parts.path) or "/"
    if parts.query or "\x00" in path or "\\" in path or ".." in path.split("/"):
        return None
    relative = posixpath.normpath(path).lstrip("/")
    if relative in {"", "."}:
        return PurePosixPath("index.html")
    if path.endswith("/") or PurePosixPath(relative).suffix.lower() not in HTML_SUFFIXES:
        return PurePosixPath(relative, "index.html")
    return PurePosixPath(relative)


def _paragraphs(text: str) -> str:
    return "\n".join(f"<p>{escape(line)}</p>" for line in text.splitlines() if line.strip())


def page_html(page: PageSnapshot) -> str:
    """An HTML page that extracts to what the stored page showed."""
    head = [f"<title>{escape(page.title)}</title>"] + [
        f'<meta name="{escape(key)}" content="{escape(value)}">' for key, value in page.meta.items()
    ]
    body = [_paragraphs(page.text)]
    body += [f'<img alt="{escape(alt)}">' for alt in page.image_alts]
    body += [f'<a href="{escape(link.url)}"></a>' for link in page.links]  # no anchor text
    if page.hidden_text.strip():
        body.append(f"<div hidden>\n{_paragraphs(page.hidden_text)}\n</div>")
    return (
        '<!doctype html>\n<html><head><meta charset="utf-8">\n'
        + "\n".join(head)
        + "\n</head><body>\n"
        + "\n".join(part for part in body if part)
        + "\n</body></html>\n"
    )


def case_id(stored: StoredReview) -> str:
    return f"rv-{stored.review.id[:16]}"


def _merchant(stored: StoredReview) -> dict[str, Any]:
    review = stored.review
    record = dict(review.record or {})
    record = {k: v for k, v in record.items() if k not in PERSONAL_FIELDS}
    record.setdefault("merchant_id", review.merchant_id or f"url-{review.id[:16]}")
    record.setdefault("website", review.website)
    return record


def case_line(stored: StoredReview, final: FinalDecision) -> dict[str, Any]:
    """The cases.jsonl object of an overridden review (`final`: its final decision)."""
    latest = stored.overrides[-1]
    how = "confirmed" if final.confirmed else f"changed {final.engine_decision.value} to"
    return {
        "case_id": case_id(stored),
        "merchant": _merchant(stored),
        "expected": {
            "decision": final.decision.value,
            "categories": [c.value for c in final.categories],
        },
        "notes": f"review {stored.review.id} ({stored.review.engine}): analyst {latest.analyst} "
        f"{how} {final.decision.value} on {latest.created_at:%Y-%m-%d}: {latest.reason}",
    }


def write_site(stored: StoredReview, folder: Path) -> int:
    """Write a review's servable pages under `folder`; the number written."""
    site, written = _site(stored.review.website), set()
    for page in stored.page_snapshots():
        path = site_path(page.url) if page.ok and _site(page.url) == site else None
        if path is None or path in written:
            continue
        target = folder.joinpath(*path.parts)
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(page_html(page), encoding="utf-8")
        except (FileExistsError, NotADirectoryError, IsADirectoryError):
            continue  # /a.html and /a.html/b.html: one file cannot also be a folder
        written.add(path)
    return len(written)


def export_labels(store: Store, out: Path) -> ExportSummary:
    """Write the dataset to `out` (new or empty): all of it, or nothing on failure."""
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise LabelExportError(f"{out} exists and is not an empty folder: choose a new one")
    out.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{out.name}-", dir=out.parent))
    try:
        summary = _write(store, staging)
        if out.exists():
            out.rmdir()
        os.replace(staging, out)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return ExportSummary(out, summary.cases, summary.confirmed, summary.corrected, summary.pages)


def _write(store: Store, folder: Path) -> ExportSummary:
    lines, confirmed, pages = [], 0, 0
    for review_id in store.overridden_review_ids():
        stored = store.get_review(review_id)
        final = stored.final_decision() if stored else None
        if stored is None or final is None or not final.overridden:
            continue
        pages += write_site(stored, folder / "sites" / case_id(stored))
        confirmed += final.confirmed
        lines.append(json.dumps(case_line(stored, final), ensure_ascii=False))
    (folder / "cases.jsonl").write_text("".join(f"{x}\n" for x in lines), encoding="utf-8")
    return ExportSummary(folder, len(lines), confirmed, len(lines) - confirmed, pages)
