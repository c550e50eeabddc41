"""The committed evaluation datasets obey the contract, and the dev generator is deterministic.

Contract: shared/spec/eval-dataset-format.md and the decision rules of policy-taxonomy.md.
"""

from __future__ import annotations

import csv
import json
import posixpath
import re
from collections import Counter
from html.parser import HTMLParser
from pathlib import Path
from typing import Any
from urllib.parse import urljoin, urlsplit

import pytest

from evals.dataset import load_dataset
from evals.generate import DEV_SEED, generate
from evals.generate.catalog import mcc_descriptions
from evals.generate.injections import injections
from evals.generate.site import DEAD_LINKS
from evals.realdata.common import RealCase
from merchant_review.taxonomy import Category, Decision, Tier, decide

ROOT = Path(__file__).resolve().parents[1]
DATASETS = ROOT / "evals" / "datasets"
SHARED_DATA = ROOT.parent / "shared" / "data"
FOLDERS = sorted(p for p in DATASETS.glob("*") if (p / "cases.jsonl").is_file())
DEV = DATASETS / "dev"
NOISY = DATASETS / "dev-noisy"


def _cases(folder: Path) -> list[dict[str, Any]]:
    text = (folder / "cases.jsonl").read_text(encoding="utf-8")
    return [json.loads(line) for line in text.splitlines() if line.strip()]


class _Links(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.hrefs: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "a":
            self.hrefs += [value for name, value in attrs if name == "href" and value]


def _served(site: Path, path: str) -> bool:
    """Whether the contract's static serving answers the URL path with a page."""
    rel = posixpath.normpath(path.lstrip("/")) if path.strip("/") else ""
    if rel in ("", "."):
        return (site / "index.html").is_file()
    target = site / rel
    return target.is_file() or (target / "index.html").is_file()


def _internal_links(site: Path, host: str) -> list[str]:
    """URL paths of every same-host <a href> on every page of the site."""
    paths = []
    for page in sorted(site.rglob("*.html")):
        rel = page.relative_to(site).as_posix()
        base = f"https://{host}/" + ("" if rel == "index.html" else rel)
        parser = _Links()
        parser.feed(page.read_text(encoding="utf-8"))
        for href in parser.hrefs:
            url = urlsplit(urljoin(base, href))
            if url.scheme in ("http", "https") and url.hostname == host:
                paths.append(url.path or "/")
    return paths


def test_there_are_datasets() -> None:
    # The real-* sets may be absent where their source licences keep them out of the repo.
    assert {"dev", "dev-noisy"} <= {p.name for p in FOLDERS}


@pytest.mark.parametrize("folder", FOLDERS, ids=lambda p: p.name)
def test_cases_follow_the_contract(folder: Path) -> None:
    cases = _cases(folder)
    assert cases
    ids = [c["case_id"] for c in cases]
    assert len(set(ids)) == len(ids)
    hosts = [urlsplit(c["merchant"]["website"]).hostname for c in cases]
    assert len(set(hosts)) == len(hosts), "every merchant is served from its own origin"
    for case in cases:
        assert case["merchant"]["merchant_id"] and case["merchant"]["website"].startswith(
            "https://"
        )
        decision = Decision(case["expected"]["decision"])
        categories = [Category(c) for c in case["expected"]["categories"]]
        assert len(set(categories)) == len(categories)
        escalate = decision is Decision.ESCALATE
        assert decide(categories, insufficient_evidence=escalate) is decision, case["case_id"]
    assert len(load_dataset(folder).cases) == len(cases)  # the project's own reader agrees


@pytest.mark.parametrize("folder", FOLDERS, ids=lambda p: p.name)
def test_sites_have_a_home_page_unless_unreachable(folder: Path) -> None:
    cases = {c["case_id"]: c for c in _cases(folder)}
    sites = {p.name for p in (folder / "sites").iterdir() if p.is_dir()}
    assert sites <= set(cases), "no site folder without a case"
    for case_id in sites:
        assert (folder / "sites" / case_id / "index.html").is_file(), case_id
    for case_id in set(cases) - sites:
        assert cases[case_id]["expected"]["decision"] == "escalate", f"{case_id} is unreachable"


@pytest.mark.parametrize("folder", FOLDERS, ids=lambda p: p.name)
def test_links_point_to_pages_that_exist(folder: Path) -> None:
    dead: set[str] = set()
    sites_with_dead_links = 0
    for case in _cases(folder):
        site = folder / "sites" / case["case_id"]
        if site.is_dir():
            host = urlsplit(case["merchant"]["website"]).hostname or ""
            missing = {p for p in _internal_links(site, host) if not _served(site, p)}
            dead |= missing
            sites_with_dead_links += bool(missing)
    assert dead <= set(DEAD_LINKS), sorted(dead - set(DEAD_LINKS))
    assert sites_with_dead_links <= max(3, len(_cases(folder)) // 8), "dead links stay few"


def test_dev_covers_the_taxonomy_languages_and_decisions() -> None:
    cases = _cases(DEV)
    assert len(cases) >= 240
    decisions = Counter(c["expected"]["decision"] for c in cases)
    assert set(decisions) == {d.value for d in Decision}
    assert 0.33 <= decisions["approve"] / len(cases) <= 0.42
    found = {cat for c in cases for cat in c["expected"]["categories"]}
    assert found == {c.value for c in Category}
    languages = Counter(a["lang"] for a in _annotations())
    assert min(languages["es"], languages["de"], languages["fr"]) >= 12
    combined = [c for c in cases if len(c["expected"]["categories"]) > 1]
    assert any(c["expected"]["decision"] == "reject" for c in combined)


def _annotations() -> list[dict[str, Any]]:
    text = (DEV / "annotations.jsonl").read_text(encoding="utf-8")
    return [json.loads(line) for line in text.splitlines()]


def test_dev_plants_injections_in_about_fifteen_percent_of_sites() -> None:
    planted = [a for a in _annotations() if a["injection"]]
    with_site = [a for a in _annotations() if a["blank"] != "unreachable"]
    assert 0.12 <= len(planted) / len(with_site) <= 0.18
    assert {a["injection"]["method"] for a in planted} >= {"html_comment", "hidden_div", "meta_tag"}
    decisions = {c["case_id"]: c["expected"]["decision"] for c in _cases(DEV)}
    assert {decisions[a["case_id"]] for a in planted} >= {"approve", "reject"}


def test_dev_records_use_real_mcc_codes_and_keep_personal_fields() -> None:
    known = mcc_descriptions()
    cases = _cases(DEV)
    assert all(c["merchant"]["mcc"] in known for c in cases)
    assert any("owner_name" in c["merchant"] for c in cases)
    for case in cases:
        assert case["merchant"]["merchant_id"] == f"acct_{case['case_id']}"
        assert urlsplit(case["merchant"]["website"]).hostname.endswith(".example")


def test_dev_splits_cover_every_case_and_the_test_split_every_decision() -> None:
    splits = json.loads((DEV / "splits.json").read_text(encoding="utf-8"))
    cases = {c["case_id"]: c for c in _cases(DEV)}
    assert set(splits) == set(cases)
    assert set(splits.values()) == {"train", "calibration", "test"}
    shares = Counter(splits.values())
    assert abs(shares["test"] / len(cases) - 0.25) < 0.03
    test_decisions = {cases[i]["expected"]["decision"] for i, s in splits.items() if s == "test"}
    assert test_decisions == {d.value for d in Decision}


def test_dev_noisy_changes_about_ten_percent_of_labels_and_says_which() -> None:
    dev = {c["case_id"]: c for c in _cases(DEV)}
    noisy = {c["case_id"]: c for c in _cases(NOISY)}
    assert set(dev) == set(noisy)
    changed = {i for i in dev if dev[i]["expected"] != noisy[i]["expected"]}
    assert all(dev[i]["merchant"] == noisy[i]["merchant"] for i in dev)
    assert 0.08 <= len(changed) / len(dev) <= 0.12
    listed = set(re.findall(r"^\| (dev-\d{4}) \|", (NOISY / "NOISE.md").read_text(), re.MULTILINE))
    assert listed == changed
    same_site = DEV / "sites" / sorted(changed)[0] / "index.html"
    if same_site.is_file():
        copy = NOISY / "sites" / sorted(changed)[0] / "index.html"
        assert copy.read_bytes() == same_site.read_bytes()


def _tree(folder: Path) -> dict[str, bytes]:
    return {
        p.relative_to(folder).as_posix(): p.read_bytes()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


def test_generator_is_deterministic(tmp_path: Path) -> None:
    generate(tmp_path / "a", seed=7, count=24)
    generate(tmp_path / "b", seed=7, count=24)
    first, second = _tree(tmp_path / "a"), _tree(tmp_path / "b")
    assert first == second
    assert len(_cases(tmp_path / "a" / "dev")) == 24
    generate(tmp_path / "c", seed=8, count=24)
    assert _tree(tmp_path / "c") != first


def test_committed_dev_is_what_the_generator_writes(tmp_path: Path) -> None:
    generate(tmp_path, seed=DEV_SEED)
    for name in ("dev", "dev-noisy"):
        assert _tree(tmp_path / name) == _tree(DATASETS / name), f"regenerate {name}"


def test_real_case_refuses_labels_that_break_the_rules() -> None:
    with pytest.raises(ValueError):
        RealCase("x", "t", ["p"], Decision.APPROVE, [Category.WEAPONS])
    prohibited = [c for c in Category if c.tier is Tier.PROHIBITED]
    RealCase("x", "t", ["p"], Decision.REJECT, prohibited[:1])


@pytest.mark.skipif(not SHARED_DATA.is_dir(), reason="shared/data is not available")
def test_vendored_mcc_and_injection_strings_match_their_sources() -> None:
    with (SHARED_DATA / "mcc-codes" / "mcc_codes.csv").open(encoding="utf-8") as handle:
        table = {r["mcc"]: r["edited_description"] for r in csv.DictReader(handle)}
    assert all(table[code] == text for code, text in mcc_descriptions().items())
    sources = {
        "deepset": (
            SHARED_DATA / "deepset-prompt-injections" / "deepset_prompt_injections.csv",
            "text",
        ),
        "bipia": (SHARED_DATA / "bipia-attacks" / "bipia_attacks_flat.csv", "attack_text"),
    }
    rows: dict[str, dict[str, str]] = {}
    for prefix, (path, column) in sources.items():
        with path.open(encoding="utf-8") as handle:
            rows |= {
                f"{prefix}:{r['id']}": {"text": r[column], **r} for r in csv.DictReader(handle)
            }
    for item in injections():
        if not item.id.startswith("targeted:"):
            assert rows[item.id]["text"] == item.text
            assert rows[item.id].get("label", "1") == "1"
