"""The dev set's planted injections, taken out one by one: the offline engine's decisions stay."""

from __future__ import annotations

from pathlib import Path

import pytest

from evals.dataset import DatasetError, load_dataset
from evals.generate.injections import injections
from evals.security.injection_ablation import DEV, ablate, injected_cases, strip_injections


def test_the_dev_set_names_its_injected_cases() -> None:
    dataset = load_dataset(DEV)
    assert len(injected_cases(dataset)) == 38
    assert injected_cases(dataset, limit=2) == injected_cases(dataset)[:2]


def test_stripping_takes_out_exactly_the_planted_markup(tmp_path: Path) -> None:
    dataset = load_dataset(DEV)
    case_id = injected_cases(dataset, limit=1)[0]
    planted = dataset.annotations[case_id].injection
    assert planted is not None
    text = {i.id: i.text for i in injections()}[planted.id]
    stripped = strip_injections(dataset, [case_id], tmp_path / "copy")
    before = (DEV / "sites" / case_id / planted.page).read_text(encoding="utf-8")
    after = (stripped / "sites" / case_id / planted.page).read_text(encoding="utf-8")
    assert len(after) < len(before)
    assert text[:30] not in after.replace("&#x27;", "'").replace("&quot;", '"')
    # Every other file is the same.
    other = next(p for p in (DEV / "sites" / case_id).rglob("*.html") if p.name != planted.page)
    assert (stripped / other.relative_to(DEV)).read_bytes() == other.read_bytes()


def test_a_page_without_its_planted_markup_is_refused(tmp_path: Path) -> None:
    dataset = load_dataset(DEV)
    case_id = injected_cases(dataset, limit=1)[0]
    strip_injections(dataset, [case_id], tmp_path / "once")
    stripped_once = load_dataset(tmp_path / "once")
    with pytest.raises(DatasetError, match="is not there"):
        strip_injections(stripped_once, [case_id], tmp_path / "twice")


def test_taking_the_injection_out_changes_no_decision() -> None:
    result = ablate(DEV, limit=4)
    assert len(result.cases) == 4
    assert result.flips == []
