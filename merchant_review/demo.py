"""`merchant-review demo`: demo merchants and their sites, served locally, reviewed offline."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlsplit

from rich.console import Console

from merchant_review.records import MerchantRecord
from merchant_review.render import print_verdict, print_verdict_summary
from merchant_review.review import Reviewer
from merchant_review.settings import Settings
from merchant_review.sitehost import SiteHost
from merchant_review.storage import Store
from merchant_review.verdict import Verdict

DEMO_DATA = Path(__file__).resolve().parent / "demo_data"


def demo_merchants() -> list[MerchantRecord]:
    lines = (DEMO_DATA / "merchants.jsonl").read_text(encoding="utf-8").splitlines()
    return [MerchantRecord.model_validate_json(line) for line in lines if line.strip()]


def demo_settings(settings: Settings, host: SiteHost) -> Settings:
    """The user's settings, with the demo hosts routed to the local server."""
    crawl = settings.crawl.model_copy(
        update={
            "origin_overrides": {**settings.crawl.origin_overrides, **host.origin_overrides()},
            "allow_private": [*settings.crawl.allow_private, "127.0.0.1"],
        }
    )
    return settings.model_copy(update={"crawl": crawl})


async def run_demo(settings: Settings, console: Console, *, verbose: bool = True) -> list[Verdict]:
    """Seed the demo merchants, serve their sites on 127.0.0.1, review each, print verdicts."""
    merchants = demo_merchants()
    store = Store(settings.database_url)
    store.import_merchants(merchants)
    if verbose:
        console.print(
            f"[bold]merchant-review demo[/bold]: {len(merchants)} merchants, engine "
            f"{settings.resolved_engine().value}, database {settings.database_url}"
        )
    verdicts = []
    with SiteHost() as host:
        for merchant in merchants:
            hostname = urlsplit(merchant.website).hostname or ""
            host.add_site(hostname, DEMO_DATA / "sites" / hostname)
        async with Reviewer(demo_settings(settings, host), store, trigger="demo") as reviewer:
            for merchant in merchants:
                verdict = await reviewer.review_merchant(merchant.merchant_id)
                verdicts.append(verdict)
                if verbose:
                    print_verdict(verdict, console)
    if verbose:
        print_verdict_summary(verdicts, console)
        console.print("inspect any review with: merchant-review show REVIEW_ID")
    return verdicts
