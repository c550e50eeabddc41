"""A dataset's annotations.jsonl: read as slicing metadata, checked, never shown to the system."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from evals.dataset import DatasetError, load_dataset

DEV = Path(__file__).resolve().parents[1] / "evals" / "datasets" / "dev"


def _dataset(tmp_path: Path, annotations: list[str] | None) -> Path:
    """A two-case dataset (the dev set's first two records) with the given annotation lines."""
    lines = (DEV / "cases.jsonl").read_text(encoding="utf-8").splitlines()[:2]
    (tmp_path / "cases.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
    if annotations is not None:
        (tmp_path / "annotations.jsonl").write_text("\n".join(annotations) + "\n", "utf-8")
    return tmp_path


def test_dev_annotations_become_each_cases_breakdown_keys() -> None:
    dataset = load_dataset(DEV)
    assert set(dataset.annotations) == {case.case_id for case in dataset.cases}
    by_id = {case.case_id: case for case in dataset.cases}
    # dev-0005: a CBD shop behind a bookshop's declaration, CBD in its catalogue.
    assert dataset.tags(by_id["dev-0005"]) == {
        "split": dataset.splits["dev-0005"],
        "kind": "risky",
        "blank": "",
        "euphemism": "plain",
        "placement": "catalogue",
        "injection": "none",
    }
    assert dataset.language(by_id["dev-0001"]) == "de"
    parked = dataset.tags(by_id["dev-0002"])
    assert (parked["kind"], parked["blank"], parked["euphemism"]) == ("escalate", "parked", "")


def test_planted_in_several_places_and_injections_are_named(tmp_path: Path) -> None:
    row = {
        "case_id": "dev-0001",
        "lang": "en",
        "kind": "risky",
        "euphemism": True,
        "evidence": [{"placement": "faq", "quote": "q"}, {"placement": "terms", "quote": "r"}],
        "injection": {"id": "targeted:02", "method": "meta_tag", "page": "privacy.html"},
        "site_business": "sweet_shop",
    }
    dataset = load_dataset(_dataset(tmp_path, [json.dumps(row)]))
    tags = dataset.tags(dataset.cases[0])
    assert (tags["euphemism"], tags["placement"], tags["injection"]) == (
        "coded",
        "several",
        "meta_tag",
    )
    assert dataset.tags(dataset.cases[1]) == {"split": ""}  # not annotated: split only
    assert dataset.language(dataset.cases[1]) is None


def test_without_annotations_a_case_is_sliced_by_split_only(tmp_path: Path) -> None:
    dataset = load_dataset(_dataset(tmp_path, None))
    assert dataset.annotations == {}
    assert dataset.tags(dataset.cases[0]) == {"split": ""}


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ('{"case_id": "dev-0001", "kind": ', "annotations.jsonl:1: not valid JSON"),
        ('{"case_id": "dev-0001", "euphemism": "maybe"}', "annotations.jsonl:1: euphemism"),
        ('{"case_id": "dev-9999", "kind": "clean"}', "cases not in cases.jsonl: ['dev-9999']"),
    ],
)
def test_a_bad_annotations_file_is_refused_with_where(
    tmp_path: Path, line: str, message: str
) -> None:
    with pytest.raises(DatasetError, match=re.escape(message)):
        load_dataset(_dataset(tmp_path, [line]))
