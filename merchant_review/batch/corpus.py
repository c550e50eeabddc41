"""Policy corpus snapshots: the rules of each corpus version used, and what changed.

The corpus version is a hash of the rule files; to know which rules changed since an
older version, the older rules must still be known. The first time a corpus version is
used by a batch run its rules are stored in `corpus_versions` (rule id → a hash of the
rule's content, its category and the rule itself). Two versions are diffed by rule id
and content hash.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.dialects import postgresql, sqlite

from merchant_review.audit import sha256_of
from merchant_review.batch.runs import now
from merchant_review.batch.schema import CorpusVersionRow
from merchant_review.policy import PolicyCorpus
from merchant_review.storage import StorageError, Store
from merchant_review.taxonomy import Category


class UnknownCorpusVersion(StorageError):
    """No snapshot of that corpus version is stored."""


def snapshot(corpus: PolicyCorpus) -> dict[str, dict[str, object]]:
    """rule id → {"sha256", "category", "rule"} for every rule of the corpus."""
    rules: dict[str, dict[str, object]] = {}
    for rule in corpus.rules:
        content = rule.model_dump(mode="json")
        rules[rule.id] = {
            "sha256": sha256_of(content),
            "category": rule.category.value,
            "rule": content,
        }
    return rules


def remember(store: Store, corpus: PolicyCorpus) -> None:
    """Store the corpus version's snapshot unless it is there already."""
    values = {"version": corpus.version, "created_at": now(), "rules": snapshot(corpus)}
    with store.write_session() as session:
        if session.get(CorpusVersionRow, corpus.version) is not None:
            return
        dialect = postgresql if session.get_bind().dialect.name == "postgresql" else sqlite
        statement = dialect.insert(CorpusVersionRow).values(**values)
        session.execute(statement.on_conflict_do_nothing(index_elements=["version"]))


def stored_rules(store: Store, version: str) -> dict[str, dict[str, object]]:
    """The stored snapshot of a corpus version."""
    with store.session() as session:
        row = session.get(CorpusVersionRow, version)
        if row is None:
            known = list(session.scalars(select(CorpusVersionRow.version).limit(20)))
            listed = ", ".join(known) or "none yet"
            raise UnknownCorpusVersion(
                f"corpus version {version!r} was never recorded (batch runs record the "
                f"versions they use; known: {listed})"
            )
        return dict(row.rules)


@dataclass(frozen=True)
class RuleChanges:
    """Rules that differ between two corpus versions."""

    changed: frozenset[str]  # in both, with different content
    removed: frozenset[str]
    added: frozenset[str]
    added_categories: frozenset[Category]  # categories that gained a rule

    @property
    def touched_ids(self) -> frozenset[str]:
        """Rule ids a previous review may have met: changed or removed ones."""
        return self.changed | self.removed

    @property
    def empty(self) -> bool:
        return not (self.changed or self.removed or self.added)


def diff(old: dict[str, dict[str, object]], new: dict[str, dict[str, object]]) -> RuleChanges:
    """What changed from the `old` snapshot to the `new` one, by rule id and content."""
    added = frozenset(new) - frozenset(old)
    return RuleChanges(
        changed=frozenset(
            r for r in old.keys() & new.keys() if old[r]["sha256"] != new[r]["sha256"]
        ),
        removed=frozenset(old) - frozenset(new),
        added=added,
        added_categories=frozenset(Category(str(new[r]["category"])) for r in added),
    )
