"""Paired ablation of a dataset's planted prompt injections: does taking one out change a
decision?

The dev set plants an injection in 38 of its sites; `annotations.jsonl` names the page,
the method and the string's id, and `evals/generate/injections.py` wrote the markup. Each
such case is reviewed twice by the same engine, through the real eval runner: from the
site as generated, and from a copy whose page has the injection's markup taken out. A
flip is a case whose decision or categories differ. This complements
`evals/security/injection.py` (one shop, every attack) with the dataset's own sites.

    python -m evals.security.injection_ablation [--dataset evals/datasets/dev] [--limit N]
"""

from __future__ import annotations

import asyncio
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated

import typer

from evals.dataset import Dataset, DatasetError, load_dataset
from evals.generate.injections import Method, injections, markup
from evals.runner import EvalRunner
from merchant_review.settings import EngineChoice, Settings
from merchant_review.storage import Store
from merchant_review.taxonomy import Category, Decision

DEV = Path(__file__).resolve().parents[1] / "datasets" / "dev"

Outcome = tuple[Decision | None, tuple[Category, ...]]


@dataclass(frozen=True)
class Ablation:
    """The injected cases reviewed, and those whose outcome changed without the injection."""

    cases: list[str]
    flips: list[str]


def injected_cases(dataset: Dataset, limit: int | None = None) -> list[str]:
    """Ids of the cases whose annotation names a planted injection, in dataset order."""
    ids = [
        c.case_id
        for c in dataset.cases
        if (a := dataset.annotations.get(c.case_id)) and a.injection
    ]
    return ids[:limit] if limit is not None else ids


def strip_injections(dataset: Dataset, case_ids: list[str], target: Path) -> Path:
    """A copy of the dataset at `target` with each case's injection markup taken out.

    Raises DatasetError when a page no longer carries the markup its annotation names (the
    dataset and the generator disagree: the ablation would compare nothing).
    """
    shutil.copytree(dataset.root, target)
    texts = {injection.id: injection.text for injection in injections()}
    for case_id in case_ids:
        planted = dataset.annotations[case_id].injection
        assert planted is not None  # injected_cases chose it
        page = target / "sites" / case_id / planted.page
        html = page.read_text(encoding="utf-8")
        inserted = markup(Method(planted.method), texts[planted.id]) + "\n"
        if inserted not in html:
            raise DatasetError(f"{page}: the {planted.method} injection {planted.id} is not there")
        page.write_text(html.replace(inserted, "", 1), encoding="utf-8")
    return target


async def _outcomes(root: Path, case_ids: list[str], database: Path) -> dict[str, Outcome]:
    dataset = load_dataset(root)
    settings = Settings(database_url=f"sqlite:///{database}", engine=EngineChoice.OFFLINE)
    runner = EvalRunner(dataset, settings, Store(settings.database_url), concurrency=8)
    run = await runner.run([case for case in dataset.cases if case.case_id in case_ids])
    return {case.case_id: (case.decision, tuple(sorted(case.categories))) for case in run.cases}


def ablate(root: Path = DEV, limit: int | None = None) -> Ablation:
    """Review every injected case with and without its injection (offline engine)."""
    dataset = load_dataset(root)
    case_ids = injected_cases(dataset, limit)
    with tempfile.TemporaryDirectory() as tmp:
        stripped = strip_injections(dataset, case_ids, Path(tmp) / "stripped")
        as_planted = asyncio.run(_outcomes(root, case_ids, Path(tmp) / "planted.db"))
        without = asyncio.run(_outcomes(stripped, case_ids, Path(tmp) / "stripped.db"))
    return Ablation(case_ids, [c for c in case_ids if as_planted[c] != without[c]])


def main(
    dataset: Annotated[Path, typer.Option(help="a dataset folder with annotations.jsonl")] = DEV,
    limit: Annotated[int | None, typer.Option(help="only the first N injected cases")] = None,
) -> None:
    """Print how many injected cases were reviewed and which changed without the injection."""
    result = ablate(dataset, limit)
    typer.echo(f"injected cases reviewed: {len(result.cases)}; flips: {len(result.flips)}")
    for case_id in result.flips:
        typer.echo(f"  flip: {case_id}")
    raise typer.Exit(1 if result.flips else 0)


if __name__ == "__main__":
    typer.run(main)
