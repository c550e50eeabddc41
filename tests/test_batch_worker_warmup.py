"""A Celery worker loads what reviews need, and freezes its heap, before its pool starts.

The worker is built (not started) as `merchant-review worker` builds it: building it sends
`worker_init`, the signal its preparation runs on.
"""

from __future__ import annotations

import gc
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from celery import signals

from agent.offline import indicators
from merchant_review.batch import distributed, service
from merchant_review.policy import PolicyCorpus, load_corpus
from merchant_review.resources import data_dir
from merchant_review.settings import Settings

QUEUE_URL = "redis://127.0.0.1:1/0"  # never connected to: the worker is built, not started


@pytest.fixture
def unfrozen(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The test process's heap unfrozen again, the worker settings restored and the
    worker_init handler disconnected, after (a later in-process worker must not freeze)."""
    monkeypatch.setattr(distributed, "_worker_settings", None)
    assert gc.get_freeze_count() == 0
    yield
    signals.worker_init.disconnect(dispatch_uid=f"{distributed.TASK}.prepare")
    gc.unfreeze()


def fresh_corpus(folder: Path) -> Path:
    """The shipped corpus with one more comment: a version no earlier test compiled."""
    policy = folder / "policy"
    shutil.copytree(data_dir("policy"), policy)
    first = sorted(policy.rglob("*.yaml"))[0]
    first.write_text(first.read_text() + f"\n# {folder.name}\n")
    return policy


def compiled_before(corpus: PolicyCorpus, monkeypatch: pytest.MonkeyPatch) -> bool:
    """Whether the corpus was compiled already (compiling it now would raise)."""

    def compile_again(_: PolicyCorpus) -> indicators.CompiledCorpus:
        raise AssertionError(f"{corpus.version} compiled in the first review")

    monkeypatch.setattr(indicators, "CompiledCorpus", compile_again)
    return indicators.compiled(corpus).version == corpus.version


def test_building_a_worker_warms_the_process_and_freezes_its_heap(
    unfrozen: None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = Settings(
        database_url="sqlite://", engine="offline", policy_dir=fresh_corpus(tmp_path)
    )
    settings = settings.model_copy(
        update={"batch": settings.batch.model_copy(update={"queue_url": QUEUE_URL})}
    )
    app = distributed.worker_app(settings)
    app.WorkController(pool_cls="solo", concurrency=1, without_gossip=True, without_mingle=True)
    assert gc.get_freeze_count() > 0  # the modules, the corpus and more: frozen
    assert compiled_before(load_corpus(settings.policy_dir), monkeypatch)


def test_a_local_runs_engine_has_the_corpus_compiled_before_the_first_review(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = Settings(
        database_url="sqlite://", engine="offline", policy_dir=fresh_corpus(tmp_path)
    )
    engine = service.Engine.from_settings(settings)
    assert compiled_before(engine.corpus, monkeypatch)
