"""Shadow assignment and the report's statistics: Wilson, the mixture SPRT, its error rate."""

from __future__ import annotations

import hashlib

import numpy as np
import pytest
from scipy.integrate import quad

from merchant_review.experiments import stats
from merchant_review.experiments.assign import assigned, bucket

IDS = [f"acct_{n:05d}" for n in range(20_000)]


def test_assignment_is_a_pure_function_of_seed_and_merchant() -> None:
    # Pinned: a change to the hash would silently move merchants in and out of experiments.
    digest = hashlib.sha256(b"seed-1\x00acct_1").digest()
    assert bucket("seed-1", "acct_1") == int.from_bytes(digest[:8], "big") / 2**64
    assert bucket("seed-1", "acct_1") == pytest.approx(0.23285466553061618, abs=0)
    assert [assigned("s", m, 0.2) for m in IDS[:500]] == [bucket("s", m) < 0.2 for m in IDS[:500]]
    # Each configuration's seed gives its own assignment, not the same merchants.
    assert {m for m in IDS[:500] if assigned("s", m, 0.2)} != {
        m for m in IDS[:500] if assigned("t", m, 0.2)
    }


def test_the_share_is_met_and_growing_it_keeps_everyone_who_was_in() -> None:
    small = {m for m in IDS if assigned("seed", m, 0.1)}
    large = {m for m in IDS if assigned("seed", m, 0.2)}
    assert small <= large
    # Binomial(20000, p): 5 standard deviations either side.
    for found, p in ((small, 0.1), (large, 0.2)):
        sd = (len(IDS) * p * (1 - p)) ** 0.5
        assert abs(len(found) - len(IDS) * p) < 5 * sd


def test_two_seeds_assign_independently() -> None:
    one = {m for m in IDS if assigned("a", m, 0.5)}
    two = {m for m in IDS if assigned("b", m, 0.5)}
    both = len(one & two) / len(IDS)
    assert abs(both - 0.25) < 0.02  # independent halves overlap on a quarter


def test_wilson_matches_the_textbook_formula() -> None:
    z = 1.959963984540054
    for k, n in ((0, 10), (7, 20), (18, 20), (50, 50)):
        p = k / n
        centre = (p + z * z / (2 * n)) / (1 + z * z / n)
        half = z / (1 + z * z / n) * np.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
        interval = stats.wilson(k, n)
        assert interval is not None
        assert (interval.low, interval.high) == pytest.approx((centre - half, centre + half))
    assert stats.wilson(0, 0) is None


@pytest.mark.parametrize(("wins", "losses"), [(0, 0), (8, 2), (12, 1), (3, 9), (40, 35)])
def test_the_mixture_likelihood_ratio_matches_numerical_integration(wins: int, losses: int) -> None:
    def integrand(p: float) -> float:
        return float(p**wins * (1 - p) ** losses / 0.5 ** (wins + losses))

    better = 2 * quad(integrand, 0.5, 1)[0]  # uniform prior on (1/2, 1), density 2
    worse = 2 * quad(integrand, 0, 0.5)[0]
    up, down = stats.mixture_log_lr(float(wins), float(losses))
    assert np.exp(up) == pytest.approx(better, rel=1e-6)
    assert np.exp(down) == pytest.approx(worse, rel=1e-6)


def test_the_test_says_promote_stop_or_continue() -> None:
    assert stats.sequential_test(12, 1).decision == stats.PROMOTE
    assert stats.sequential_test(1, 12).decision == stats.STOP
    assert stats.sequential_test(8, 2).decision == stats.CONTINUE  # LR 4 < 20
    assert stats.sequential_test(0, 0).decision == stats.CONTINUE
    assert stats.sequential_test(8, 2, alpha=0.3).decision == stats.PROMOTE  # LR 4 >= 3.3


def test_the_false_promotion_rate_under_the_null_stays_below_alpha() -> None:
    """Equal accuracy, the test looked at after every one of 1,000 labelled disagreements."""
    rate = stats.false_promotion_rate(p=0.5, max_pairs=1000, simulations=2000, alpha=0.05)
    print(f"\nfalse-promotion rate under the null, 2000 runs x 1000 looks: {rate:.4f}")
    # Ville's bound is 0.05; 2000 runs give a standard error of about 0.005.
    assert rate <= 0.05 + 3 * (0.05 * 0.95 / 2000) ** 0.5
    assert rate > 0.005  # it is a real test: the null does get promoted sometimes
    worse = stats.false_promotion_rate(p=0.4, max_pairs=1000, simulations=500, alpha=0.05)
    assert worse < rate  # a worse challenger is promoted even less
    power = stats.false_promotion_rate(p=0.65, max_pairs=1000, simulations=500, alpha=0.05)
    print(f"promotion rate when the challenger wins 65% of disagreements: {power:.4f}")
    assert power > 0.9
    peeking = stats.simulate(p=0.5, max_pairs=1000, simulations=500).peeking_promoted
    assert peeking > 0.2  # what the always-valid bound protects against: a peeked z-test


def test_the_confidence_sequence_covers_the_true_rate_at_every_look() -> None:
    rng = np.random.default_rng(7)
    misses = 0
    for _ in range(200):
        draws = rng.random(300) < 0.3
        events = np.cumsum(draws)
        for n in (10, 50, 100, 200, 300):
            interval = stats.confidence_sequence(int(events[n - 1]), n)
            assert interval is not None
            if not interval.low <= 0.3 <= interval.high:
                misses += 1
                break
    assert misses / 200 <= 0.05
