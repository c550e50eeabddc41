"""`merchant-review eval` end to end on a small slice of the committed dev set."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from evals.report import load_report
from merchant_review.cli import app

DEV = Path(__file__).resolve().parents[1] / "evals" / "datasets" / "dev"
runner = CliRunner()


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("MERCHANT_REVIEW_DATABASE_URL", f"sqlite:///{tmp_path / 'eval.db'}")
    monkeypatch.chdir(tmp_path)
    return tmp_path


def test_eval_writes_the_contract_report_html_and_audits_each_case(env: Path) -> None:
    out = env / "new-folder" / "report.json"
    result = runner.invoke(
        app,
        ["eval", "--dataset", str(DEV), "--out", str(out), "--engine", "offline",
         "--limit", "6", "--html", str(env / "report.html"), "--quiet"],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    report = load_report(out)
    assert report["cases"] == 6 and report["engine"].startswith("offline")
    assert len(report["per_case"]) == 6
    # The dev set's annotations slice the scores (by language, kind, placement...).
    breakdowns = report["breakdowns"]
    assert {"split", "language", "kind", "injection"} <= set(breakdowns)
    assert sum(group["cases"] for group in breakdowns["kind"].values()) == 6
    assert report["per_case"][0]["language"] == "de"  # dev-0001, an Austrian shop
    assert "<svg" in (env / "report.html").read_text()
    review_id = report["per_case"][0]["review_id"]
    shown = runner.invoke(app, ["show", review_id, "--json"])
    assert shown.exit_code == 0
    assert json.loads(shown.output)["review_id"] == review_id


def test_compare_two_reports(env: Path) -> None:
    for name in ("a", "b"):
        runner.invoke(
            app,
            ["eval", "--dataset", str(DEV), "--out", str(env / f"{name}.json"),
             "--limit", "4", "--quiet"],
        )  # fmt: skip
    result = runner.invoke(app, ["eval", "compare", str(env / "a.json"), str(env / "b.json")])
    assert result.exit_code == 0, result.output
    assert "McNemar" in result.output or "mcnemar" in result.output.lower()


def test_eval_refuses_a_folder_that_is_not_a_dataset(env: Path) -> None:
    result = runner.invoke(app, ["eval", "--dataset", str(env), "--out", str(env / "r.json")])
    assert result.exit_code == 2
    assert "not an eval dataset" in " ".join(result.output.split())
