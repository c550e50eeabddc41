"""The versioned policy-rule corpus: rules as YAML files, validated at load, searchable.

The corpus version is a hash over the rule files' contents, so any edit to a rule text,
indicator or example yields a new version that the audit log records with each verdict.
"""

from __future__ import annotations

import hashlib
import re
from functools import cached_property, lru_cache
from pathlib import Path
from typing import Any

import bm25s
import yaml
from pydantic import BaseModel, Field, ValidationError, model_validator

from merchant_review.resources import data_dir
from merchant_review.taxonomy import Category, Tier


class PolicyError(Exception):
    """The policy corpus is missing or invalid; the message names the file and field."""


class RuleExamples(BaseModel):
    violating: list[str] = Field(default_factory=list)
    not_violating: list[str] = Field(default_factory=list)


class PolicyRule(BaseModel):
    id: str = Field(pattern=r"^[a-z0-9_]+(\.[a-z0-9_-]+)+$")
    category: Category
    tier: Tier
    title: str
    description: str
    # Phrases (case-insensitive, on word boundaries) or regular expressions prefixed "re:".
    positive_indicators: list[str] = Field(default_factory=list)
    # Evidence that strengthens a finding but never makes one alone (e.g. drug names next
    # to "no prescription needed"): ambiguous words belong here, not among the positives.
    supporting_indicators: list[str] = Field(default_factory=list)
    # Lookalike contexts: when one stands near a positive match, that match is not evidence.
    negative_indicators: list[str] = Field(default_factory=list)
    examples: RuleExamples = Field(default_factory=RuleExamples)
    country_notes: dict[str, str] = Field(default_factory=dict)
    languages: list[str] = Field(default_factory=lambda: ["en"])

    @model_validator(mode="after")
    def _tier_matches_taxonomy(self) -> PolicyRule:
        if self.tier is not self.category.tier:
            raise ValueError(
                f"tier {self.tier.value!r} contradicts the taxonomy: "
                f"{self.category.value} is {self.category.tier.value}"
            )
        for pattern in self.indicators():
            if not pattern.strip() or pattern.strip() == "re:":
                raise ValueError("empty indicator")
            if pattern.startswith("re:"):
                try:
                    re.compile(pattern[3:])
                except re.error as exc:
                    raise ValueError(f"bad regular expression {pattern!r}: {exc}") from exc
        return self

    def indicators(self) -> list[str]:
        """Every indicator of the rule: positive, supporting and negative."""
        return [
            *self.positive_indicators,
            *self.supporting_indicators,
            *self.negative_indicators,
        ]

    def search_text(self) -> str:
        return " ".join(
            [
                self.title,
                self.description,
                self.category.value.replace("_", " "),
                *(p.removeprefix("re:") for p in self.positive_indicators),
                *(p.removeprefix("re:") for p in self.supporting_indicators),
                *self.examples.violating,
            ]
        )

    def summary(self) -> dict[str, Any]:
        return {
            "rule_id": self.id,
            "category": self.category.value,
            "tier": self.tier.value,
            "title": self.title,
            "description": self.description,
            "lookalikes_not_violations": self.examples.not_violating,
        }


class RetrievedRule(BaseModel):
    rule: PolicyRule
    score: float


_TOKEN = re.compile(r"[\w%]+", re.UNICODE)


def _tokenize(text: str) -> list[str]:
    return _TOKEN.findall(text.lower())


class PolicyCorpus:
    """All rules of one corpus version, with BM25 retrieval over their texts."""

    def __init__(self, rules: list[PolicyRule], version: str, source: Path) -> None:
        ids = [rule.id for rule in rules]
        duplicates = sorted({rule_id for rule_id in ids if ids.count(rule_id) > 1})
        if duplicates:
            raise PolicyError(f"duplicate rule ids in {source}: {', '.join(duplicates)}")
        if not rules:
            raise PolicyError(f"no policy rules found in {source}")
        self.rules = rules
        self.version = version
        self.source = source
        self._by_id = {rule.id: rule for rule in rules}

    def get(self, rule_id: str) -> PolicyRule | None:
        return self._by_id.get(rule_id)

    def for_category(self, category: Category) -> list[PolicyRule]:
        return [rule for rule in self.rules if rule.category is category]

    @cached_property
    def _index(self) -> bm25s.BM25:
        index = bm25s.BM25()
        index.index([_tokenize(rule.search_text()) for rule in self.rules], show_progress=False)
        return index

    def search(
        self, query: str, k: int = 8, categories: set[Category] | None = None
    ) -> list[RetrievedRule]:
        """Rules ranked by BM25 relevance to `query`, optionally within some categories."""
        tokens = _tokenize(query)
        if not tokens:
            return []
        scores = self._index.get_scores(tokens)
        ranked = sorted(zip(self.rules, scores, strict=True), key=lambda pair: -float(pair[1]))
        hits = [
            (rule, float(score))
            for rule, score in ranked
            if score > 0 and (categories is None or rule.category in categories)
        ]
        # The rules were validated when the corpus loaded: wrapping one again re-ran its
        # validator (a model_validator runs on every instance passed in), once per hit.
        return [RetrievedRule.model_construct(rule=rule, score=score) for rule, score in hits[:k]]


def _read_rules(path: Path, data: bytes) -> list[PolicyRule]:
    try:
        raw = yaml.safe_load(data.decode("utf-8"))
    except (UnicodeDecodeError, yaml.YAMLError) as exc:
        raise PolicyError(f"cannot read policy file {path}: {exc}") from exc
    items = raw.get("rules") if isinstance(raw, dict) else raw
    if not isinstance(items, list):
        raise PolicyError(f"{path}: expected a list of rules (or a mapping with 'rules')")
    rules = []
    for position, item in enumerate(items):
        try:
            rules.append(PolicyRule.model_validate(item))
        except ValidationError as exc:
            where = item.get("id", f"#{position}") if isinstance(item, dict) else f"#{position}"
            raise PolicyError(f"{path}: rule {where}: {exc}") from exc
    return rules


def corpus_files(directory: Path) -> list[Path]:
    return sorted(p for p in directory.rglob("*.y*ml") if p.suffix in {".yaml", ".yml"})


def load_corpus(directory: Path | None = None) -> PolicyCorpus:
    """Load and validate every rule file under `directory` (default: the shipped corpus).

    Loaded corpora are cached; the cache key includes each file's size and modification
    time, so an edited rule file is picked up by the next call.
    """
    resolved = (directory or data_dir("policy")).resolve()
    return _load_corpus_cached(resolved, _stat_signature(resolved))


def _stat_signature(directory: Path) -> tuple[tuple[str, int, int], ...]:
    if not directory.is_dir():
        return ()
    signature = []
    for path in corpus_files(directory):
        try:
            stat = path.stat()
        except OSError:
            continue  # reported by the load itself
        signature.append((path.as_posix(), stat.st_size, stat.st_mtime_ns))
    return tuple(signature)


def _read_bytes(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError as exc:
        raise PolicyError(f"cannot read policy file {path}: {exc}") from exc


def _check_unique(rules: list[PolicyRule], path: Path, seen: dict[str, Path]) -> None:
    """Rule ids are unique across the corpus: name both files when one repeats."""
    for rule in rules:
        first = seen.get(rule.id)
        if first is not None:
            where = "twice in this file" if first == path else f"also in {first}"
            raise PolicyError(f"{path}: rule {rule.id}: duplicate rule id ({where})")
        seen[rule.id] = path


@lru_cache(maxsize=8)
def _load_corpus_cached(
    directory: Path, signature: tuple[tuple[str, int, int], ...]
) -> PolicyCorpus:
    if not directory.is_dir():
        raise PolicyError(f"policy directory not found: {directory}")
    digest = hashlib.sha256()
    rules: list[PolicyRule] = []
    seen: dict[str, Path] = {}
    for path in corpus_files(directory):
        data = _read_bytes(path)
        digest.update(path.relative_to(directory).as_posix().encode() + b"\0")
        digest.update(data + b"\0")
        file_rules = _read_rules(path, data)
        _check_unique(file_rules, path, seen)
        rules.extend(file_rules)
    return PolicyCorpus(rules, version=f"corpus-{digest.hexdigest()[:12]}", source=directory)
