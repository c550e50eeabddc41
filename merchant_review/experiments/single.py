"""One merchant reviewed outside a batch (CLI `review`, the web app) the way a batch item is.

With a champion configuration in the database the review runs with it, so the verdict that
acts is the champion's wherever the review was started. With shadow mode on in the
settings (MERCHANT_REVIEW_EXPERIMENT__SHADOW / __SHARE), a merchant the seeded assignment
puts in the share is then reviewed by the challenger on the champion review's evidence,
exactly as in a shadowed batch run; the challenger never acts and never fails the review.
"""

from __future__ import annotations

import logging

from merchant_review.experiments.shadow import (
    ShadowPlan,
    ShadowRunner,
    champion_settings,
    run_options,
)
from merchant_review.review import Reviewer
from merchant_review.settings import Settings
from merchant_review.storage import Store
from merchant_review.verdict import Verdict

log = logging.getLogger(__name__)


async def review_merchant(
    settings: Settings, store: Store, merchant_id: str, *, trigger: str = "cli"
) -> Verdict:
    """Review one merchant as the champion; shadow it with the challenger when asked."""
    options = run_options(store, settings, None, None)
    async with Reviewer(champion_settings(settings, options), store, trigger=trigger) as reviewer:
        verdict = await reviewer.review_merchant(merchant_id)
    plan = ShadowPlan.from_options(options)
    if plan is not None and verdict.review_id is not None:
        await _shadow(settings, store, plan, merchant_id, verdict.review_id)
    return verdict


async def _shadow(
    settings: Settings, store: Store, plan: ShadowPlan, merchant_id: str, review_id: str
) -> None:
    async with ShadowRunner(settings, store, plan, None) as runner:
        if not runner.wants(merchant_id):
            return
        try:
            await runner.shadow(merchant_id, review_id)
        except Exception as exc:  # the challenger must never fail the champion's review
            log.warning("shadow review of %s by %s failed: %s", merchant_id, plan.config, exc)
