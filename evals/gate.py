"""The CI eval gate: offline engine on the dev set and the real-data sets, plus a scripted
model run on a slice to gate the LLM path's plumbing. Fails when a gated metric crosses
its threshold in evals/thresholds.json.

    python -m evals.gate --out reports/gate [--only dev]

Thresholds start from measured figures; lowering one needs a commit that says why.
"""

from __future__ import annotations

import asyncio
import json
import sys
import tempfile
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from agent.assessor import Assessor
from evals.dataset import load_dataset
from evals.html import write_html
from evals.report import build_report, write_report
from evals.runner import EvalRunner
from merchant_review.settings import EngineChoice, Settings
from merchant_review.storage import Store

ROOT = Path(__file__).resolve().parent
THRESHOLDS = ROOT / "thresholds.json"
console = Console()


def false_flag_rate(report: dict[str, Any]) -> float:
    """Share of cases labelled approve that the system did not approve."""
    benign = [c for c in report["per_case"] if c["expected_decision"] == "approve"]
    if not benign:
        return 0.0
    return sum(1 for c in benign if c["decision"] != "approve") / len(benign)


def gated_figures(report: dict[str, Any]) -> dict[str, float]:
    figures = {k: v for k, v in report.items() if isinstance(v, int | float)}
    figures["false_flag_rate"] = false_flag_rate(report)
    figures["failures"] = float(len(report.get("failures", [])))
    return figures


def violations(name: str, figures: dict[str, float], limits: dict[str, Any]) -> list[str]:
    found = []
    for metric, low in limits.get("min", {}).items():
        if figures.get(metric, float("-inf")) < low:
            found.append(f"{name}: {metric} {figures.get(metric)} < {low}")
    for metric, high in limits.get("max", {}).items():
        if figures.get(metric, float("inf")) > high:
            found.append(f"{name}: {metric} {figures.get(metric)} > {high}")
    return found


async def run_dataset(
    folder: Path, settings: Settings, *, assessor: Assessor | None = None, **select: Any
) -> dict[str, Any]:
    dataset = load_dataset(folder)
    store = Store(settings.database_url)
    runner = EvalRunner(dataset, settings, store, assessor=assessor, concurrency=8)
    return build_report(await runner.run(dataset.select(**select)))


def plumbing_assessor(settings: Settings) -> Assessor:
    from agent.cascade import CascadeAssessor
    from agent.llm import LLMAssessor, RetryPolicy
    from agent.offline import OfflineAssessor
    from agent.prompts import PromptSet
    from evals.plumbing import plumbing_model

    model_settings = settings.model.model_copy(update={"name": "plumbing", "step_budget": 3})
    llm = LLMAssessor(
        plumbing_model().client(), model_settings, PromptSet.load(), retry=RetryPolicy.no_wait()
    )
    return CascadeAssessor(OfflineAssessor(), llm, settings)


def real_datasets(out: Path) -> Path:
    """Convert ../shared/data into contract datasets (not committed: licences)."""
    from evals.convert_real import main as convert

    target = out / "datasets"
    convert(["--out", str(target)])
    return target


def suites(out: Path) -> dict[str, tuple[Path, dict[str, Any], bool]]:
    """name -> (dataset folder, selection, uses the plumbing model)."""
    dev = ROOT / "datasets" / "dev"
    real = real_datasets(out)
    return {
        "dev": (dev, {}, False),
        "dev-test": (dev, {"split": "test"}, False),
        "real-websites": (real / "real-websites", {}, False),
        "real-darknet": (real / "real-darknet", {}, False),
        "real-scam": (real / "real-scam", {}, False),
        "llm-plumbing": (dev, {"limit": 24}, True),
    }


METRICS = [
    "cases", "decision_accuracy", "reject_precision", "reject_recall", "flag_precision",
    "flag_recall", "category_f1", "citation_validity", "ece", "false_flag_rate",
    "seconds_p50", "seconds_p95", "llm_calls",
]  # fmt: skip


def print_table(results: dict[str, dict[str, float]]) -> None:
    table = Table(title="eval gate")
    table.add_column("metric")
    for name in results:
        table.add_column(name, justify="right")
    for metric in METRICS:
        table.add_row(metric, *(f"{results[n].get(metric, 0):.3f}" for n in results))
    console.print(table)


def markdown_table(results: dict[str, dict[str, float]]) -> str:
    """The same figures as a Markdown table (for the README)."""
    lines = ["| metric | " + " | ".join(results) + " |", "|---" * (len(results) + 1) + "|"]
    for metric in METRICS:
        cells = (f"{results[n].get(metric, 0):.3g}" for n in results)
        lines.append(f"| {metric} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def main(
    out: Annotated[Path, typer.Option(help="folder for reports")] = Path("reports/gate"),
    only: Annotated[list[str] | None, typer.Option(help="run only these suites")] = None,
) -> None:
    """Run every suite, write its JSON and HTML report, and check the thresholds."""
    out.mkdir(parents=True, exist_ok=True)
    thresholds = json.loads(THRESHOLDS.read_text(encoding="utf-8"))
    results: dict[str, dict[str, float]] = {}
    problems: list[str] = []
    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings(
            database_url=f"sqlite:///{Path(tmp) / 'gate.db'}", engine=EngineChoice.OFFLINE
        )
        for name, (folder, select, plumbing) in suites(out).items():
            if only and name not in only:
                continue
            assessor = plumbing_assessor(settings) if plumbing else None
            report = asyncio.run(run_dataset(folder, settings, assessor=assessor, **select))
            write_report(report, out / f"{name}.json")
            write_html(report, out / f"{name}.html")
            results[name] = gated_figures(report)
            problems += violations(name, results[name], thresholds.get(name, {}))
    print_table(results)
    (out / "SUMMARY.md").write_text(markdown_table(results), encoding="utf-8")
    for problem in problems:
        console.print(f"[bold red]gate failed[/bold red] {problem}")
    if problems:
        sys.exit(1)
    console.print("[bold green]eval gate passed[/bold green]")


if __name__ == "__main__":
    typer.run(main)
