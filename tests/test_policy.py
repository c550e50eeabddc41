"""The policy corpus: the shipped rules load and validate; broken files fail clearly."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import yaml

from agent.offline.sectors import lexicon
from merchant_review.mcc import all_codes, describe, lookup, normalise_mcc
from merchant_review.policy import PolicyError, load_corpus
from merchant_review.resources import data_dir
from merchant_review.taxonomy import Category

SHIPPED = data_dir("policy")

RULE: dict[str, object] = {
    "id": "gambling.test_rule",
    "category": "gambling",
    "tier": "restricted",
    "title": "Test rule",
    "description": "A rule for tests.",
    "positive_indicators": ["online casino"],
}


@pytest.fixture
def corpus_copy(tmp_path: Path) -> Path:
    target = tmp_path / "policy"
    shutil.copytree(SHIPPED, target)
    return target


def write_rules(directory: Path, name: str, rules: list[dict[str, object]]) -> Path:
    """Write rules as a YAML rule file, the way the corpus stores them."""
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / name
    path.write_text(yaml.safe_dump({"rules": rules}, allow_unicode=True), encoding="utf-8")
    return path


def test_shipped_corpus_loads_with_a_version() -> None:
    corpus = load_corpus()
    assert corpus.version.startswith("corpus-")
    assert len({rule.id for rule in corpus.rules}) == len(corpus.rules)


@pytest.mark.parametrize("category", list(Category))
def test_every_category_has_at_least_two_rules(category: Category) -> None:
    rules = load_corpus().for_category(category)
    assert len(rules) >= 2
    assert all(rule.tier is category.tier for rule in rules)
    assert all(rule.id.startswith(f"{category.value}.") for rule in rules)


def test_every_category_has_its_own_file() -> None:
    names = {path.stem for path in SHIPPED.rglob("*.yaml")}
    assert names == {category.value for category in Category}


def test_rules_are_written_for_analysts_and_four_languages() -> None:
    for rule in load_corpus().rules:
        assert len(rule.description) > 120, rule.id
        assert rule.examples.violating and rule.examples.not_violating, rule.id
        assert {"en", "es", "de", "fr"} <= set(rule.languages), rule.id
        if rule.category is not Category.BUSINESS_MISMATCH:
            assert rule.positive_indicators and rule.negative_indicators, rule.id


def test_euphemisms_are_indicators() -> None:
    corpus = load_corpus()
    positives = {p.lower() for rule in corpus.rules for p in rule.positive_indicators}
    for euphemism in [
        "1:1 replica",
        "research chemicals",
        "solvent trap kit",
        "no prescription needed",
        "guaranteed monthly returns",
        "aaa quality",
        "sin receta médica",
        "nachbildung",
    ]:
        assert euphemism in positives, euphemism


def test_version_changes_when_a_file_changes(corpus_copy: Path) -> None:
    before = load_corpus(corpus_copy)
    assert before.version == load_corpus(SHIPPED).version  # same bytes, same version
    path = corpus_copy / "rules" / "gambling.yaml"
    path.write_text(path.read_text(encoding="utf-8") + "\n# reviewed\n", encoding="utf-8")
    after = load_corpus(corpus_copy)
    assert after.version != before.version
    assert [rule.id for rule in after.rules] == [rule.id for rule in before.rules]


def test_version_ignores_the_cache_when_a_rule_changes(tmp_path: Path) -> None:
    write_rules(tmp_path, "gambling.yaml", [RULE])
    first = load_corpus(tmp_path)
    write_rules(tmp_path, "gambling.yaml", [{**RULE, "title": "Test rule, edited title"}])
    second = load_corpus(tmp_path)
    assert second.version != first.version
    assert second.rules[0].title == "Test rule, edited title"


def test_bad_tier_names_the_file_and_rule(tmp_path: Path) -> None:
    path = write_rules(tmp_path, "gambling.yaml", [{**RULE, "tier": "prohibited"}])
    with pytest.raises(PolicyError) as error:
        load_corpus(tmp_path)
    assert str(path) in str(error.value)
    assert "gambling.test_rule" in str(error.value)
    assert "contradicts the taxonomy" in str(error.value)


@pytest.mark.parametrize("field", ["positive_indicators", "supporting_indicators"])
def test_bad_regex_names_the_file_and_rule(tmp_path: Path, field: str) -> None:
    path = write_rules(tmp_path, "gambling.yaml", [{**RULE, field: ["re:(unclosed"]}])
    with pytest.raises(PolicyError) as error:
        load_corpus(tmp_path)
    assert str(path) in str(error.value)
    assert "gambling.test_rule" in str(error.value)
    assert "bad regular expression" in str(error.value)


def test_duplicate_id_in_two_files_names_both(tmp_path: Path) -> None:
    first = write_rules(tmp_path, "a.yaml", [RULE])
    second = write_rules(tmp_path, "b.yaml", [RULE])
    with pytest.raises(PolicyError) as error:
        load_corpus(tmp_path)
    message = str(error.value)
    assert str(first) in message and str(second) in message
    assert "gambling.test_rule" in message and "duplicate" in message


def test_duplicate_id_in_one_file(tmp_path: Path) -> None:
    path = write_rules(tmp_path, "gambling.yaml", [RULE, RULE])
    with pytest.raises(PolicyError, match="duplicate rule id") as error:
        load_corpus(tmp_path)
    assert str(path) in str(error.value)


def test_unreadable_yaml_names_the_file(tmp_path: Path) -> None:
    path = tmp_path / "gambling.yaml"
    path.write_text("rules:\n  - id: gambling.x\n    title: [unclosed\n", encoding="utf-8")
    with pytest.raises(PolicyError, match="cannot read policy file") as error:
        load_corpus(tmp_path)
    assert str(path) in str(error.value)


def test_non_utf8_file_names_the_file(tmp_path: Path) -> None:
    path = tmp_path / "gambling.yaml"
    path.write_bytes(b"rules:\n  - id: gambling.caf\xe9\n")
    with pytest.raises(PolicyError, match="cannot read policy file") as error:
        load_corpus(tmp_path)
    assert str(path) in str(error.value)


def test_unknown_category_names_the_rule(tmp_path: Path) -> None:
    write_rules(tmp_path, "x.yaml", [{**RULE, "id": "knives.kitchen", "category": "knives"}])
    with pytest.raises(PolicyError, match=r"rule knives\.kitchen"):
        load_corpus(tmp_path)


def test_missing_directory() -> None:
    with pytest.raises(PolicyError, match="not found"):
        load_corpus(Path("/nonexistent/policy"))


@pytest.mark.parametrize(
    ("query", "category"),
    [
        ("vape e-liquid", Category.TOBACCO_VAPING),
        ("online casino slots roulette", Category.GAMBLING),
        ("THC gummies edibles", Category.ILLEGAL_DRUGS),
        ("replica watches AAA quality", Category.COUNTERFEIT_IP),
        ("buy bitcoin crypto exchange", Category.FINANCIAL_SERVICES),
        ("solvent trap kit", Category.WEAPONS),
        ("CBD oil tincture", Category.CBD),
        ("sin receta", Category.PHARMA_UNLICENSED),
    ],
)
def test_bm25_search_finds_relevant_rules(query: str, category: Category) -> None:
    hits = load_corpus().search(query, k=3)
    assert hits, query
    assert hits[0].rule.category is category
    assert hits == sorted(hits, key=lambda hit: -hit.score)


def test_search_within_categories() -> None:
    hits = load_corpus().search("vape", categories={Category.CBD})
    assert hits and all(hit.rule.category is Category.CBD for hit in hits)


# -- the MCC table shipped with the package -----------------------------------------------


def test_mcc_descriptions() -> None:
    assert describe("5942") == "Book Stores"
    assert describe(5942) == "Book Stores"
    assert describe("742") == describe("0742") == "Veterinary Services"
    assert "Betting" in (describe("7995") or "")
    assert describe("12345") is None
    assert describe("abc") is None
    assert describe(None) is None


def test_mcc_table_is_complete_and_keyed_by_four_digits() -> None:
    codes = all_codes()
    assert len(codes) == 981
    assert all(len(code) == 4 and code.isdigit() for code in codes)
    assert all(entry.code == code and entry.description for code, entry in codes.items())
    assert normalise_mcc(" 5999 ") == "5999"
    assert lookup("5993") == codes["5993"]


# Codes newer than the 2014 table that the sector lexicon still names on purpose.
NEWER_MCCS = {"6050", "6538", "6540", "9406"}


def test_sector_lexicon_names_known_codes_and_sectors() -> None:
    lex = lexicon()
    for sector in lex.sectors.values():
        assert sector.mcc <= set(all_codes()) | NEWER_MCCS, sector.id
        assert sector.related <= set(lex.sectors) | {"*"}, sector.id
    categories = {s.id for s in lex.sectors.values() if s.is_category}
    assert categories == {c.value for c in Category} - {Category.BUSINESS_MISMATCH.value}
