"""One merchant reviewed outside a batch (CLI `review`, the web app) the way a batch item is.

With a champion configuration in the database the review runs with it, so the verdict that
acts is the champion's wherever the review was started. With shadow mode on in the
settings (MERCHANT_REVIEW_EXPERIMENT__SHADOW / __SHARE), a merchant the seeded assignment
puts in the share is then reviewed by the challenger on the champion review's evidence,
exactly as in a shadowed batch run; the challenger never acts and never fails the review.
"""

from __future__ import annotations

import logging

from merchant_review.experiments import configs
from merchant_review.experiments.assign import assigned
from merchant_review.experiments.shadow import ShadowPlan, ShadowRunner, plan
from merchant_review.review import Reviewer
from merchant_review.settings import Settings
from merchant_review.storage import Store
from merchant_review.verdict import Verdict

log = logging.getLogger(__name__)


async def review_merchant(
    settings: Settings, store: Store, merchant_id: str, *, trigger: str = "cli"
) -> Verdict:
    """Review one merchant as the champion; shadow it with the challenger when asked.

    A shadow setting that names no challenger is the operator's mistake: it fails here,
    before the review (ExperimentError), not as a warning after every review.
    """
    challenger = settings.experiment.shadow
    shadowing = plan(store, challenger, settings.experiment.share) if challenger else None
    champion = configs.champion(store)
    reviewing = champion.spec.apply(settings) if champion is not None else settings
    async with Reviewer(reviewing, store, trigger=trigger) as reviewer:
        verdict = await reviewer.review_merchant(merchant_id)
    shadowed = shadowing is not None and assigned(shadowing.seed, merchant_id, shadowing.share)
    if shadowing is not None and shadowed and verdict.review_id is not None:
        await _shadow(settings, store, shadowing, merchant_id, verdict.review_id)
    return verdict


async def _shadow(
    settings: Settings, store: Store, shadowing: ShadowPlan, merchant_id: str, review_id: str
) -> None:
    """The challenger's review of a merchant in its share (built only for those)."""
    try:
        async with ShadowRunner(settings, store, shadowing, None) as runner:
            await runner.shadow(merchant_id, review_id)
    except Exception as exc:  # the challenger must never fail the champion's review
        log.warning("shadow review of %s by %s failed: %s", merchant_id, shadowing.config, exc)
