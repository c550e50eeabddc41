"""Reading an evaluation dataset folder (shared/spec/eval-dataset-format.md).

`expected` and `notes` are read here for scoring only: the runner hands the system under
test nothing but the merchant record and the served site. So is `annotations.jsonl`, a
dataset's optional slicing metadata (evals/DATASETS.md): it only names the groups a
report breaks its scores down by.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from merchant_review.records import MerchantRecord
from merchant_review.settings import validation_problems
from merchant_review.taxonomy import Category, Decision

Row = TypeVar("Row", bound=BaseModel)


class DatasetError(Exception):
    """The folder is not a dataset in the contract format; the message says where."""


class Expected(BaseModel):
    decision: Decision
    categories: list[Category] = Field(default_factory=list)


class EvalCase(BaseModel):
    case_id: str = Field(min_length=1)
    merchant: MerchantRecord
    expected: Expected
    notes: str | None = None

    @property
    def host(self) -> str:
        return (urlsplit(self.merchant.website).hostname or "").lower()


class PlantedEvidence(BaseModel):
    model_config = ConfigDict(extra="ignore")

    placement: str  # where the generator planted it: home, product, faq, terms, sitemap...


class PlantedInjection(BaseModel):
    model_config = ConfigDict(extra="ignore")

    id: str  # the string's id in evals/generate/data/injections.yaml
    method: str  # visible paragraph, HTML comment, hidden div, image alt, meta tag
    page: str  # the site file it was planted in


class Annotation(BaseModel):
    """One line of annotations.jsonl: what a case is made of, for slicing reports.

    Fields not used for slicing (the planted quotes, the businesses) are ignored here.
    """

    model_config = ConfigDict(extra="ignore")

    case_id: str = Field(min_length=1)
    lang: str | None = None
    kind: str | None = None  # clean, lookalike, risky, mismatch, escalate
    blank: str | None = None  # unreachable, parked, construction, empty
    euphemism: bool = False
    evidence: list[PlantedEvidence] = Field(default_factory=list)
    injection: PlantedInjection | None = None

    def tags(self) -> dict[str, str]:
        """The report's breakdown keys for this case (an empty value: not applicable)."""
        placements = sorted({e.placement for e in self.evidence})
        return {
            "kind": self.kind or "",
            "blank": self.blank or "",
            "euphemism": ("coded" if self.euphemism else "plain") if self.evidence else "",
            "placement": ("several" if len(placements) > 1 else "".join(placements)),
            "injection": self.injection.method if self.injection else "none",
        }


@dataclass
class Dataset:
    root: Path
    cases: list[EvalCase]
    splits: dict[str, str] = field(default_factory=dict)
    annotations: dict[str, Annotation] = field(default_factory=dict)

    def site_dir(self, case: EvalCase) -> Path | None:
        """The case's site folder; None when missing (a site that cannot be reached)."""
        folder = self.root / "sites" / case.case_id
        return folder if folder.is_dir() else None

    def tags(self, case: EvalCase) -> dict[str, str]:
        """The case's breakdown keys in a report: its split, and its annotation's slices."""
        annotation = self.annotations.get(case.case_id)
        return {
            "split": self.splits.get(case.case_id, ""),
            **(annotation.tags() if annotation else {}),
        }

    def language(self, case: EvalCase) -> str | None:
        annotation = self.annotations.get(case.case_id)
        return annotation.lang if annotation else None

    def select(self, *, split: str | None = None, limit: int | None = None) -> list[EvalCase]:
        cases = self.cases
        if split is not None:
            if not self.splits:
                raise DatasetError(f"{self.root} has no splits.json; cannot select {split!r}")
            cases = [c for c in cases if self.splits.get(c.case_id) == split]
        return cases[:limit] if limit is not None else cases


def _read_lines(path: Path, model: type[Row]) -> list[Row]:
    """Every line of a JSON-lines file as `model`, all or nothing (blank lines skipped)."""
    rows: list[Row] = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            rows.append(model.model_validate(json.loads(line)))
        except json.JSONDecodeError as exc:
            raise DatasetError(f"{path}:{number}: not valid JSON ({exc.msg})") from exc
        except ValidationError as exc:
            raise DatasetError(f"{path}:{number}: {validation_problems(exc)}") from exc
    return rows


def _annotations(root: Path, ids: set[str]) -> dict[str, Annotation]:
    path = root / "annotations.jsonl"
    if not path.is_file():
        return {}
    rows = _read_lines(path, Annotation)
    unknown = sorted({row.case_id for row in rows} - ids)
    if unknown:
        raise DatasetError(f"{path}: annotations for cases not in cases.jsonl: {unknown[:5]}")
    return {row.case_id: row for row in rows}


def load_dataset(root: Path) -> Dataset:
    """Parse cases.jsonl (all or nothing), the optional splits.json and annotations.jsonl."""
    path = root / "cases.jsonl"
    if not path.is_file():
        raise DatasetError(f"{root} is not an eval dataset: no cases.jsonl")
    cases = _read_lines(path, EvalCase)
    ids = [case.case_id for case in cases]
    if len(set(ids)) != len(ids):
        raise DatasetError(f"{path}: duplicate case ids")
    splits_path = root / "splits.json"
    splits = json.loads(splits_path.read_text(encoding="utf-8")) if splits_path.is_file() else {}
    return Dataset(root=root, cases=cases, splits=splits, annotations=_annotations(root, set(ids)))
