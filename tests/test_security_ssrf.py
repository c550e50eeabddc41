"""SSRF suite: hostile targets in every notation are refused with no connection made.

The guard runs fully on (no allow_private address); a dial spy under the crawler's
pinning backend and a counting listener on 127.0.0.1 prove that nothing left.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import httpcore
import httpx
import pytest

from evals.security.netspy import SpyBackend
from evals.security.ssrf import (
    guarded_settings,
    run_crawl_links,
    run_differentials,
    run_rebinding,
    run_ssrf,
    targets,
)
from merchant_review.review import Reviewer
from merchant_review.settings import Settings
from merchant_review.storage import Store
from merchant_review.taxonomy import Decision
from tools.crawler import make_client
from tools.pinning import PinnedBackend


async def test_every_hostile_target_is_refused_and_nothing_is_dialled() -> None:
    results = await run_ssrf()
    assert len(results) == len(targets()) >= 20
    assert Counter(r.target.via for r in results) == {
        "direct": 30, "scheme": 6, "dns": 6, "redirect": 12,
    }  # fmt: skip
    not_refused = [(r.target.name, r.error, r.hostile_dials) for r in results if not r.refused]
    assert not_refused == []
    assert all(r.listener_connections == 0 and r.hostile_dials == [] for r in results)


async def test_dns_rebinding_cannot_move_the_connection() -> None:
    pinned = await run_rebinding()
    assert pinned.served_by_checked_address
    assert pinned.hostile_connections == 0
    assert pinned.lookups == 2  # the two guard checks; the connect dials the checked address


async def test_the_rebinding_scenario_catches_a_transport_that_resolves_again() -> None:
    """Without pinning (httpx's own transport) the same scenario reaches the hostile host."""
    unpinned = await run_rebinding(httpx.AsyncHTTPTransport())
    assert unpinned.hostile_connections == 1
    assert unpinned.lookups == 3


async def test_links_to_hostile_targets_are_never_followed() -> None:
    page = (
        '<html><body><a href="http://169.254.169.254/latest/">meta</a>'
        '<a href="http://127.0.0.1:6379/">redis</a><a href="http://[::1]/">v6</a>'
        '<a href="file:///etc/passwd">file</a><a href="/about">about</a></body></html>'
    )
    fetched, hostile = await run_crawl_links(page)
    assert fetched >= 2  # the start page and its same-site link
    assert hostile == []


async def test_the_pinning_backend_dials_nothing_the_guard_did_not_check() -> None:
    spy = SpyBackend()
    pins = PinnedBackend(spy)
    with pytest.raises(httpcore.ConnectError, match="not checked"):
        await pins.connect_tcp("unchecked.test", 80)
    assert spy.dials == []


async def test_a_review_of_a_metadata_url_escalates_without_a_connection(tmp_path: Path) -> None:
    settings = Settings(
        database_url=f"sqlite:///{tmp_path / 'ssrf.db'}",
        engine="offline",
        crawl=guarded_settings(respect_robots=True).model_dump(),
    )
    store = Store(settings.database_url)
    spy = SpyBackend()
    async with (
        make_client(settings.crawl, pins=PinnedBackend(spy)) as client,
        Reviewer(settings, store, http_client=client) as reviewer,
    ):
        verdict = await reviewer.review_url("http://169.254.169.254/latest/meta-data/")
    assert verdict.decision is Decision.ESCALATE
    assert spy.dials == []
    stored = store.get_review(verdict.review_id or "")
    assert stored is not None and stored.verdict is not None
    assert all(p.error and p.error.startswith("blocked") for p in stored.page_snapshots())


async def test_url_parser_differentials_never_reach_loopback() -> None:
    """Whichever host a tricky URL is read as, no non-public address is ever dialled."""
    results = await run_differentials()
    assert len(results) >= 8
    assert [(r.name, r.dials) for r in results if not r.safe] == []
    blocked = {r.name for r in results if r.error and r.error.startswith("blocked")}
    assert {
        "backslash in userinfo",
        "fullwidth digits",
        "enclosed alphanumerics to metadata",
    } <= blocked
