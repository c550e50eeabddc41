"""export-labels: analysts' decisions become an eval dataset whose sites re-crawl the same."""

from __future__ import annotations

import asyncio
from pathlib import Path, PurePosixPath

import pytest
from typer.testing import CliRunner

from agent.verify import verify_findings
from evals.dataset import load_dataset
from merchant_review.cli import app
from merchant_review.labels import LabelExportError, export_labels, site_path, write_site
from merchant_review.pages import fold
from merchant_review.settings import CrawlSettings
from merchant_review.sitehost import SiteHost
from merchant_review.storage import StorageError, Store
from merchant_review.taxonomy import Category, Decision
from tests.auditdata import HOME, start
from tests.auditsite import (
    HOST,
    MERCHANT,
    OWNER,
    SITES,
    WEBSITE,
    corpus,
    review_outdoor,
    settings_for,
)
from tests.dbtools import tamper
from tools.crawler import crawl_site

pytest_plugins = ["tests.dbfixtures"]  # the database_url and store fixtures

runner = CliRunner()


@pytest.mark.parametrize(
    ("url", "path"),
    [
        ("https://h.example/", "index.html"),
        ("https://h.example", "index.html"),
        ("https://h.example/shop/", "shop/index.html"),
        ("https://h.example/shop/rifles.html", "shop/rifles.html"),
        ("https://h.example/about", "about/index.html"),
        ("https://h.example/item.php", "item.php/index.html"),
        ("https://h.example/a%20b.html", "a b.html"),
        ("https://h.example/shop?page=2", None),
        ("https://h.example/../etc/passwd", None),
        ("https://h.example/a/%2e%2e/%2e%2e/x.html", None),
    ],
)
def test_page_urls_map_to_files_inside_the_case_folder(url: str, path: str | None) -> None:
    assert site_path(url) == (PurePosixPath(path) if path else None)


@pytest.fixture
def labelled(store: Store) -> tuple[Store, list[str]]:
    """Three reviews of the outdoor site: one corrected, one confirmed, one untouched."""
    with SiteHost({HOST: SITES / HOST}) as host:
        settings = settings_for(store.url, host)
        reviews = [asyncio.run(review_outdoor(store, settings)).review_id or "" for _ in range(3)]
    store.add_override(
        reviews[0],
        decision=Decision.REQUEST_INFO,
        reason="sells scopes and optics only; rifles are a typo",
        analyst="kim",
        categories=[Category.BUSINESS_MISMATCH],
    )
    store.add_override(reviews[1], decision=Decision.REJECT, reason="agreed", analyst="lee")
    return store, reviews


def test_overridden_and_confirmed_reviews_become_cases(
    labelled: tuple[Store, list[str]], tmp_path: Path
) -> None:
    store, reviews = labelled
    summary = export_labels(store, tmp_path / "labels")
    assert (summary.cases, summary.confirmed, summary.corrected) == (2, 1, 1)

    dataset = load_dataset(tmp_path / "labels")  # the eval harness reads it
    cases = {case.case_id: case for case in dataset.cases}
    corrected, confirmed = (cases[f"rv-{review_id[:16]}"] for review_id in reviews[:2])
    assert corrected.expected.decision is Decision.REQUEST_INFO
    assert corrected.expected.categories == [Category.BUSINESS_MISMATCH]
    assert confirmed.expected.decision is Decision.REJECT
    assert confirmed.expected.categories == [Category.WEAPONS]
    assert "analyst lee confirmed reject" in (confirmed.notes or "")
    assert corrected.merchant.merchant_id == MERCHANT.merchant_id
    assert corrected.merchant.business_description == MERCHANT.business_description
    raw = (tmp_path / "labels" / "cases.jsonl").read_text(encoding="utf-8")
    assert "owner_name" not in raw and OWNER not in raw and "jo@ranger" not in raw


def test_the_exported_site_recrawls_to_the_evidence_the_analyst_saw(
    labelled: tuple[Store, list[str]], tmp_path: Path
) -> None:
    store, reviews = labelled
    export_labels(store, tmp_path / "labels")
    stored = store.get_review(reviews[0])
    assert stored is not None
    folder = tmp_path / "labels" / "sites" / f"rv-{reviews[0][:16]}"
    files = sorted(str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file())
    assert files == ["about/index.html", "contact/index.html", "index.html", "shop/rifles.html"]

    with SiteHost({HOST: folder}) as host:
        settings = CrawlSettings(
            origin_overrides=host.origin_overrides(), allow_private=["127.0.0.1"], max_pages=10
        )
        report = asyncio.run(crawl_site(WEBSITE, settings))
    recrawled = {page.url: page for page in report.pages}
    for page in stored.page_snapshots():
        again = recrawled.get(page.url) or recrawled[page.url + "/"]
        assert fold(again.text) == fold(page.text), page.url
        assert (again.title, again.meta, again.image_alts) == (
            page.title,
            page.meta,
            page.image_alts,
        )
        assert fold(again.hidden_text) == fold(page.hidden_text)
    verdict = stored.parsed_verdict()
    assert verdict is not None and verdict.findings
    verified, rejected = verify_findings(verdict.findings, report.pages, MERCHANT, corpus())
    assert rejected == [] and verified == verdict.findings  # every quote still stands


def test_export_refuses_a_folder_in_use_and_writes_nothing(
    labelled: tuple[Store, list[str]], tmp_path: Path
) -> None:
    store, _ = labelled
    used = tmp_path / "used"
    used.mkdir()
    (used / "notes.txt").write_text("mine", encoding="utf-8")
    with pytest.raises(LabelExportError, match="is not an empty folder"):
        export_labels(store, used)
    assert [p.name for p in used.iterdir()] == ["notes.txt"]


def test_an_export_that_fails_midway_leaves_nothing(
    labelled: tuple[Store, list[str]], tmp_path: Path
) -> None:
    store, _ = labelled
    tamper(store.url, "UPDATE page_blobs SET data = :junk", junk=b"not zlib")
    with pytest.raises(StorageError, match=r"stored page content .* is corrupt"):
        export_labels(store, tmp_path / "labels")
    assert not (tmp_path / "labels").exists()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".labels-")]


def test_pages_whose_paths_collide_are_skipped(store: Store, tmp_path: Path) -> None:
    review_id = start(store)
    page = HOME.model_copy(update={"url": "https://shop.example/a.html"})
    below = HOME.model_copy(update={"url": "https://shop.example/a.html/b.html"})
    store.save_pages(review_id, [page, below])
    stored = store.get_review(review_id)
    assert stored is not None
    assert write_site(stored, tmp_path / "site") == 1
    assert (tmp_path / "site" / "a.html").is_file()


def test_the_cli_exports_labels(labelled: tuple[Store, list[str]], tmp_path: Path) -> None:
    store, _ = labelled
    out = tmp_path / "from-cli"
    result = runner.invoke(app, ["--database-url", store.url, "export-labels", "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert "wrote 2 cases (1 confirmed, 1 corrected, 8 pages)" in result.output
    again = runner.invoke(app, ["--database-url", store.url, "export-labels", "--out", str(out)])
    assert again.exit_code == 2 and "not an empty folder" in again.output
