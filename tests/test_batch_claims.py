"""Claiming batch items: atomic, leased, taken over from the dead, finished only by holders."""

from __future__ import annotations

import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

from sqlalchemy import update

from merchant_review.batch import orphans, runs
from merchant_review.batch.history import ABANDONED
from merchant_review.batch.identity import claimer_id, known_dead
from merchant_review.batch.schema import BatchItemRow
from merchant_review.storage import Store
from merchant_review.taxonomy import Decision
from tests.auditdata import MERCHANT, start, verdict_for

pytest_plugins = ["tests.dbfixtures"]

VERSIONS: dict[str, str | None] = {
    "engine": "offline-rules@1",
    "model": None,
    "prompt_version": None,
    "corpus_version": "corpus-test",
}


def new_run(store: Store, merchant_ids: list[str]) -> str:
    return runs.create_run(store, merchant_ids, versions=VERSIONS, selection={}, options={})


def gone_claimer() -> str:
    """The identity of a process of this machine that has exited."""
    code = "from merchant_review.batch.identity import claimer_id; print(claimer_id())"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return done.stdout.strip()


def test_concurrent_claimers_never_share_an_item(store: Store) -> None:
    ids = [f"m{n:03d}" for n in range(40)]
    run_id = new_run(store, ids)

    def drain(worker: int) -> list[str]:
        claimed = []
        while (claim := runs.claim_next(store, run_id, f"worker-{worker}", 60)) is not None:
            claimed.append(claim.merchant_id)
            assert runs.complete(store, claim, runs.Outcome(status="reviewed"))
        return claimed

    with ThreadPoolExecutor(4) as pool:
        claimed = [m for share in pool.map(drain, range(4)) for m in share]
    assert sorted(claimed) == ids
    assert runs.counts(store, run_id) == {"reviewed": 40}
    assert runs.mark_finished(store, run_id)


def test_a_held_item_is_refused_until_its_claimer_is_gone_or_its_lease_runs_out(
    store: Store,
) -> None:
    run_id = new_run(store, ["a", "b"])
    first = runs.claim_item(store, run_id, "a", "far-away/1/1/x", 60)
    assert isinstance(first, runs.Claim) and first.attempts == 1
    refused = runs.claim_item(store, run_id, "a", claimer_id(), 60)
    assert isinstance(refused, runs.Refusal) and 55 < refused.wait_s <= 60
    assert runs.stale_claims(store, run_id) == []

    with store.write_session() as session:  # the lease runs out
        session.execute(
            update(BatchItemRow)
            .where(BatchItemRow.merchant_id == "a")
            .values(lease_until=runs.now() - timedelta(seconds=1))
        )
    assert runs.stale_claims(store, run_id) == ["a"]
    second = runs.claim_item(store, run_id, "a", claimer_id(), 60)
    assert isinstance(second, runs.Claim) and second.attempts == 2
    assert not runs.complete(store, first, runs.Outcome(status="reviewed"))  # fenced
    assert runs.complete(store, second, runs.Outcome(status="reviewed", decision="approve"))
    done = runs.claim_item(store, run_id, "a", claimer_id(), 60)
    assert done == runs.Refusal("already reviewed")


def test_the_claims_of_a_process_that_exited_are_taken_over_at_once(store: Store) -> None:
    dead = gone_claimer()
    assert known_dead(dead) and not known_dead(claimer_id())
    assert not known_dead("other-host/ns/1/x")
    run_id = new_run(store, ["a"])
    assert isinstance(runs.claim_next(store, run_id, dead, 3600), runs.Claim)
    assert runs.stale_claims(store, run_id) == ["a"]
    taken = runs.claim_next(store, run_id, claimer_id(), 60)
    assert taken is not None and taken.attempts == 2


def test_failures_are_retried_then_the_item_fails(store: Store) -> None:
    run_id = new_run(store, ["a"])
    for attempt in (1, 2):
        claim = runs.claim_next(store, run_id, "me", 60)
        assert claim is not None and claim.attempts == attempt
        assert runs.give_back(store, claim, "boom", max_failures=2) == (
            "pending" if attempt == 1 else "failed"
        )
    assert runs.claim_next(store, run_id, "me", 60) is None
    assert runs.retry_failed(store, run_id) == 1
    assert runs.claim_next(store, run_id, "me", 60) is not None


def test_a_clean_stop_hands_claims_back(store: Store) -> None:
    run_id = new_run(store, ["a", "b", "c"])
    for _ in range(2):
        runs.claim_next(store, run_id, "me", 60)
    assert runs.release(store, run_id, "me") == 2
    assert runs.counts(store, run_id) == {"pending": 3}


def test_reviews_left_behind_are_closed_as_abandoned_or_adopted(store: Store) -> None:
    store.import_merchants([MERCHANT])
    run_id = new_run(store, [MERCHANT.merchant_id])
    left_open = start(store, batch_run_id=run_id)
    assert orphans.settle(store, run_id, MERCHANT.merchant_id) is None
    closed = store.get_review(left_open)
    assert closed is not None and closed.verdict is not None
    assert closed.verdict.decision == "escalate"
    assert (closed.verdict.error or "").startswith(ABANDONED)

    finished = start(store, batch_run_id=run_id)
    store.finish_review(finished, verdict_for(finished, Decision.APPROVE))
    assert orphans.settle(store, run_id, MERCHANT.merchant_id) == finished
