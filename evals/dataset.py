"""Reading an evaluation dataset folder (shared/spec/eval-dataset-format.md).

`expected` and `notes` are read here for scoring only: the runner hands the system under
test nothing but the merchant record and the served site.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

from pydantic import BaseModel, Field, ValidationError

from merchant_review.records import MerchantRecord
from merchant_review.settings import validation_problems
from merchant_review.taxonomy import Category, Decision


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


@dataclass
class Dataset:
    root: Path
    cases: list[EvalCase]
    splits: dict[str, str] = field(default_factory=dict)

    def site_dir(self, case: EvalCase) -> Path | None:
        """The case's site folder; None when missing (a site that cannot be reached)."""
        folder = self.root / "sites" / case.case_id
        return folder if folder.is_dir() else None

    def select(self, *, split: str | None = None, limit: int | None = None) -> list[EvalCase]:
        cases = self.cases
        if split is not None:
            if not self.splits:
                raise DatasetError(f"{self.root} has no splits.json; cannot select {split!r}")
            cases = [c for c in cases if self.splits.get(c.case_id) == split]
        return cases[:limit] if limit is not None else cases


def load_dataset(root: Path) -> Dataset:
    """Parse cases.jsonl (all or nothing) and the optional splits.json."""
    path = root / "cases.jsonl"
    if not path.is_file():
        raise DatasetError(f"{root} is not an eval dataset: no cases.jsonl")
    cases: list[EvalCase] = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            cases.append(EvalCase.model_validate(json.loads(line)))
        except json.JSONDecodeError as exc:
            raise DatasetError(f"{path}:{number}: not valid JSON ({exc.msg})") from exc
        except ValidationError as exc:
            raise DatasetError(f"{path}:{number}: {validation_problems(exc)}") from exc
    ids = [case.case_id for case in cases]
    if len(set(ids)) != len(ids):
        raise DatasetError(f"{path}: duplicate case ids")
    splits_path = root / "splits.json"
    splits = json.loads(splits_path.read_text(encoding="utf-8")) if splits_path.is_file() else {}
    return Dataset(root=root, cases=cases, splits=splits)
