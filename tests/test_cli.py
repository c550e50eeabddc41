"""The command line: import, list, review, show, and clear errors for bad input."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from merchant_review.cli import app
from merchant_review.sitehost import SiteHost

SITES = Path(__file__).parent / "fixtures" / "review_sites"
runner = CliRunner()


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    db = tmp_path / "cli.db"
    monkeypatch.setenv("MERCHANT_REVIEW_DATABASE_URL", f"sqlite:///{db}")
    monkeypatch.setenv("MERCHANT_REVIEW_ENGINE", "offline")
    monkeypatch.chdir(tmp_path)  # no stray .env from the checkout
    return tmp_path


def _merchants_file(directory: Path) -> Path:
    path = directory / "merchants.jsonl"
    lines = [
        {"merchant_id": "acct_1", "website": "https://gummies.example/", "dba": "Greenleaf"},
        {"case_id": "c2", "merchant": {"merchant_id": "acct_2", "website": "https://b.example/"}},
    ]
    path.write_text("\n".join(json.dumps(line) for line in lines) + "\n")
    return path


def test_import_then_list(env: Path) -> None:
    result = runner.invoke(app, ["merchants", "import", str(_merchants_file(env))])
    assert result.exit_code == 0, result.output
    assert "imported 2" in result.output
    listed = runner.invoke(app, ["merchants", "list"])
    assert "acct_1" in listed.output and "acct_2" in listed.output


def test_a_bad_line_imports_nothing_and_names_the_line(env: Path) -> None:
    path = env / "bad.jsonl"
    path.write_text('{"merchant_id": "ok", "website": "https://a.example/"}\n{"dba": "no id"}\n')
    result = runner.invoke(app, ["merchants", "import", str(path)])
    assert result.exit_code == 2
    assert "bad.jsonl:2" in result.output
    assert "ok" not in runner.invoke(app, ["merchants", "list"]).output.split("merchants (")[1]


def test_review_prints_json_and_show_reads_it_back(
    env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    runner.invoke(app, ["merchants", "import", str(_merchants_file(env))])
    with SiteHost({"gummies.example": SITES / "gummies.example"}) as host:
        monkeypatch.setenv(
            "MERCHANT_REVIEW_CRAWL__ORIGIN_OVERRIDES", json.dumps(host.origin_overrides())
        )
        monkeypatch.setenv("MERCHANT_REVIEW_CRAWL__ALLOW_PRIVATE", '["127.0.0.1"]')
        result = runner.invoke(app, ["review", "acct_1", "--json"])
    assert result.exit_code == 0, result.output
    verdict = json.loads(result.output)
    assert verdict["merchant_id"] == "acct_1"
    assert verdict["decision"] in {"reject", "request_info", "escalate", "approve"}
    shown = runner.invoke(app, ["show", verdict["review_id"]])
    assert shown.exit_code == 0, shown.output
    assert "audit trail" in shown.output and "gummies.example" in shown.output


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["review", "nobody"], "unknown merchant"),
        (["review", "--url", "ftp://x.example/"], "only http"),
        (["review"], "either a MERCHANT_ID or --url"),
        (["--config", "/nonexistent/.env", "merchants", "list"], "cannot read config"),
        (["show", "0000"], "no review"),
        (["--database-url", "nosuch://x", "merchants", "list"], "database URL"),
    ],
)
def test_bad_input_gives_a_clear_error_and_exit_2(env: Path, args: list[str], message: str) -> None:
    result = runner.invoke(app, args)
    assert result.exit_code == 2, result.output
    assert message in result.output


def test_invalid_settings_are_reported(env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MERCHANT_REVIEW_CRAWL__MAX_PAGES", "many")
    result = runner.invoke(app, ["merchants", "list"])
    assert result.exit_code == 2
    assert "crawl.max_pages" in result.output
