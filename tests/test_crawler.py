"""The crawler against real local HTTP servers (127.0.0.1 only), reached via origin_overrides."""

from __future__ import annotations

import asyncio
import gzip
import hashlib
import threading
from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from merchant_review.pages import CrawlReport, PageSnapshot
from merchant_review.sitehost import SiteHost
from tests.sitefixtures import (
    FAST_RETRY,
    FIXTURE_SITES,
    Reply,
    ScriptedServer,
    html,
    local_settings,
    site_settings,
)
from tools.crawler import (
    crawl_site,
    dedupe_key,
    fetch_page,
    link_priority,
    make_client,
    parse_sitemap,
    validate_start_url,
)

SHOP = "https://shop.example/"


@pytest.fixture
def host() -> Iterator[SiteHost]:
    with SiteHost(
        {
            "shop.example": FIXTURE_SITES / "shop",
            "other.example": FIXTURE_SITES / "other",
            "down.example": None,
        }
    ) as running:
        yield running


@dataclass(frozen=True)
class FullCrawl:
    report: CrawlReport
    requests: list[tuple[str, str]]  # (site, path) as the server saw them


@pytest.fixture(scope="module")
def full_crawl() -> FullCrawl:
    """One unlimited crawl of the shop fixture, shared by the tests that inspect it."""
    with SiteHost({"shop.example": FIXTURE_SITES / "shop"}) as shop:
        settings = site_settings(shop, max_pages=50)
        report = asyncio.run(crawl_site(SHOP, settings, retry=FAST_RETRY))
        return FullCrawl(report, shop.requests_seen())


@pytest.fixture
def report(full_crawl: FullCrawl) -> CrawlReport:
    return full_crawl.report


def by_url(report: CrawlReport) -> dict[str, PageSnapshot]:
    return {page.url: page for page in report.pages}


def test_full_crawl_keeps_logical_urls_and_visible_text(report: CrawlReport) -> None:
    pages = by_url(report)
    seed = report.pages[0]
    assert (seed.url, seed.found_via, seed.depth, seed.status) == (SHOP, "seed", 0, 200)
    raw = (FIXTURE_SITES / "shop/index.html").read_bytes()
    assert seed.raw_sha256 == hashlib.sha256(raw).hexdigest() and seed.bytes == len(raw)
    assert seed.meta["description"] == "Organic herbal teas, shipped across the US."
    assert all(url.startswith("https://shop.example/") for url in pages)
    products = pages["https://shop.example/products/"]
    assert "Loose-leaf chamomile, 100 g — $12.00" in products.text.splitlines()
    chamomile = pages["https://shop.example/products/chamomile.html"]
    assert chamomile.depth == 2 and chamomile.ok
    assert report.robots_found and report.stopped_because is None
    assert report.total_bytes >= sum(page.bytes for page in report.pages)


def test_robots_disallowed_pages_are_skipped_not_fetched(full_crawl: FullCrawl) -> None:
    report = full_crawl.report
    assert report.skipped["https://shop.example/private/admin.html"] == "robots.txt"
    assert report.skipped["https://shop.example/private/hidden-admin.html"] == "robots.txt"
    assert not any("/private/" in page.url for page in report.pages)
    assert not any(path.startswith("/private/") for _site, path in full_crawl.requests)


def test_sitemap_only_pages_are_crawled(report: CrawlReport) -> None:
    clearance = by_url(report)["https://shop.example/offers/clearance.html"]
    assert clearance.found_via == "sitemap" and clearance.ok
    assert "Discontinued blends at half price." in clearance.text
    assert report.sitemap_urls == 4


def test_off_site_links_are_never_followed(full_crawl: FullCrawl) -> None:
    assert all(site == "shop.example" for site, _path in full_crawl.requests)
    assert not any("elsewhere" in page.url for page in full_crawl.report.pages)


def test_error_pages_are_recorded_and_crawling_goes_on(report: CrawlReport) -> None:
    missing = by_url(report)["https://shop.example/missing.html"]
    assert missing.status == 404 and missing.error == "HTTP 404" and not missing.ok
    assert len(report.ok_pages) > 10


def test_non_html_content_is_recorded_unparsed(report: CrawlReport) -> None:
    pages = by_url(report)
    pdf, feed = pages["https://shop.example/catalog.pdf"], pages["https://shop.example/data.json"]
    assert (pdf.status, pdf.content_type) == (200, "application/pdf")
    assert pdf.error == "non-HTML content (application/pdf)" and pdf.text == "" and pdf.bytes == 0
    assert feed.error == "non-HTML content (application/json)"
    notes = pages["https://shop.example/notes.txt"]
    assert notes.ok and "Peppermint: bright, cooling." in notes.text


def test_relative_links_and_base_href(report: CrawlReport) -> None:
    wholesale = by_url(report)["https://shop.example/pages/base.html"]
    assert [link.url for link in wholesale.links] == [
        "https://shop.example/products/chamomile.html",
        "https://shop.example/terms.html",
        "https://shop.example/about.html",
    ]
    seed_links = {link.url for link in report.pages[0].links}
    assert "https://shop.example/faq.html" in seed_links  # fragment dropped
    assert not any(url.startswith(("mailto:", "tel:", "javascript:")) for url in seed_links)


def test_hidden_text_stays_out_of_visible_text(report: CrawlReport) -> None:
    gifts = by_url(report)["https://shop.example/hidden.html"]
    for hidden in (
        "kratom capsules wholesale",
        "relaunch the CBD tincture line",
        "replica watches",
    ):
        assert hidden not in gifts.text and hidden not in gifts.citable_text()
        assert hidden in gifts.hidden_text
    assert "SKU-SECRET-42" not in gifts.text + gifts.hidden_text
    assert "Gift cards are available in any amount." in gifts.text


def test_legacy_charset_is_decoded(report: CrawlReport) -> None:
    assert "Café crème et thé – € 5,00" in by_url(report)["https://shop.example/legacy.html"].text


async def test_max_pages_and_link_priority(host: SiteHost) -> None:
    report = await crawl_site(SHOP, site_settings(host, max_pages=4), retry=FAST_RETRY)
    assert [page.url for page in report.pages] == [
        SHOP,
        "https://shop.example/products/",
        "https://shop.example/terms.html",
        "https://shop.example/faq.html",
    ]
    assert report.stopped_because == "max_pages"


async def test_same_pages_whatever_the_concurrency(host: SiteHost) -> None:
    reports = [
        await crawl_site(SHOP, site_settings(host, max_pages=50, concurrency=c), retry=FAST_RETRY)
        for c in (1, 8)
    ]
    serial, parallel = ({page.url for page in r.pages} for r in reports)
    assert serial == parallel and len(serial) == 19


async def _crawl_with_slow_page(slow: str) -> list[str]:
    """Crawl a small site whose page `slow` answers 0.3 s after the others."""
    held = threading.Event()
    routes = {
        "/": [Reply(body=html('<a href="/a">a</a> <a href="/b">b</a>'))],
        "/a": [Reply(body=html('<a href="/a1">a1</a>'))],
        "/b": [Reply(body=html('<a href="/b1">b1</a>'))],
        "/a1": [Reply(body=html("a1"))],
        "/b1": [Reply(body=html("b1"))],
    }
    routes[slow] = [Reply(body=routes[slow][0].body, hold=held)]
    with ScriptedServer(routes) as server:
        timer = threading.Timer(0.3, held.set)
        timer.start()
        settings = local_settings(
            {"shop.example": server.origin}, max_pages=4, concurrency=2, respect_robots=False
        )
        report = await crawl_site(SHOP, settings, retry=FAST_RETRY)
        timer.cancel()
    return [page.url for page in report.pages]


async def test_the_same_site_gives_the_same_crawl_whichever_page_answers_first() -> None:
    # With a page budget, a crawl that queued links as responses arrived kept /b1 when /a
    # was slow and /a1 when /b was: the pages kept (and the input hashes) depended on timing.
    assert await _crawl_with_slow_page("/a") == await _crawl_with_slow_page("/b")


async def test_max_depth_zero_fetches_only_the_start_page(host: SiteHost) -> None:
    report = await crawl_site(SHOP, site_settings(host, max_depth=0), retry=FAST_RETRY)
    assert [page.url for page in report.pages] == [SHOP]


async def test_max_total_bytes_stops_the_crawl(host: SiteHost) -> None:
    report = await crawl_site(SHOP, site_settings(host, max_total_bytes=1_000), retry=FAST_RETRY)
    assert report.total_bytes <= 1_000
    assert report.stopped_because == "max_total_bytes"
    assert report.pages[0].truncated


async def test_oversized_page_is_truncated_but_extracted(host: SiteHost) -> None:
    settings = site_settings(host, max_bytes_per_page=1_000)
    page = await fetch_page("https://shop.example/big.html", settings)
    assert page.truncated and page.bytes == 1_000 and page.ok
    assert page.title == "Long read" and "Section 1: our sourcing" in page.text
    assert "THE END" not in page.text
    # The hash is of the bytes read, the first 1,000 of the file.
    first_kb = (FIXTURE_SITES / "shop/big.html").read_bytes()[:1_000]
    assert page.raw_sha256 == hashlib.sha256(first_kb).hexdigest()


async def test_fetch_page_honours_robots_for_the_agent(host: SiteHost) -> None:
    page = await fetch_page(
        "https://shop.example/private/admin.html", site_settings(host), found_via="agent"
    )
    assert page.error == "disallowed by robots.txt" and page.found_via == "agent"
    assert ("shop.example", "/private/admin.html") not in host.requests_seen()


async def test_unreachable_site_is_a_page_error(host: SiteHost) -> None:
    report = await crawl_site("https://down.example/", site_settings(host), retry=FAST_RETRY)
    assert len(report.pages) == 1
    page = report.pages[0]
    assert page.error == "protocol error: Server disconnected without sending a response."
    assert page.status is None and not page.ok and not report.robots_found


async def test_start_page_redirect_to_another_host_brings_that_site_in(host: SiteHost) -> None:
    host.add_site("old.example", FIXTURE_SITES / "other", redirects={"/": "https://other.example/"})
    report = await crawl_site("https://old.example/", site_settings(host), retry=FAST_RETRY)
    seed = report.pages[0]
    assert (seed.requested_url, seed.url) == ("https://old.example/", "https://other.example/")
    assert "https://other.example/about.html" in by_url(report)


async def test_redirect_loops_and_chains(host: SiteHost) -> None:
    host.add_site(
        "hops.example",
        FIXTURE_SITES / "other",
        redirects={"/a": "/b", "/b": "/a", "/1": "/2", "/2": "/3", "/3": "/4", "/4": "/"},
    )
    settings = site_settings(host, max_redirects=2)
    loop = await fetch_page("https://hops.example/a", settings, check_robots=False)
    chain = await fetch_page("https://hops.example/1", settings, check_robots=False)
    short = await fetch_page("https://hops.example/3", settings, check_robots=False)
    assert loop.error == "redirect loop" and not loop.ok
    assert chain.error == "too many redirects" and not chain.ok
    assert (short.url, short.requested_url, short.status) == (
        "https://hops.example/",
        "https://hops.example/3",
        200,
    )
    assert "Handmade candles." in short.text


async def test_redirect_to_loopback_is_refused_without_connecting(host: SiteHost) -> None:
    with ScriptedServer({"/secret": [Reply(200, html("internal"))]}) as internal:
        host.add_site(
            "shop.example", FIXTURE_SITES / "shop", redirects={"/go": f"{internal.origin}/secret"}
        )
        # Only the merchant's host name may resolve privately, not any loopback URL.
        settings = site_settings(host).model_copy(update={"allow_private": ["shop.example"]})
        page = await fetch_page("https://shop.example/go", settings, check_robots=False)
        via_localhost = await fetch_page(
            "https://shop.example/go", settings.model_copy(update={"allow_private": []})
        )
        assert internal.requests == []
    assert page.error is not None and page.error.startswith("blocked:")
    assert page.url == f"{internal.origin}/secret"
    assert via_localhost.error is not None and via_localhost.error.startswith("blocked:")


async def test_server_errors_are_recorded_and_transient_ones_retried() -> None:
    routes = {
        "/broken": [Reply(500, html("oops"))],
        "/flaky": [Reply(503), Reply(200, html("<p>back again</p>"))],
        "/down": [Reply(503)],
    }
    with ScriptedServer(routes) as server:
        settings = local_settings({"api.example": server.origin})
        async with make_client(settings) as client:
            fetched = [
                await fetch_page(
                    f"https://api.example{path}", settings, client=client, retry=FAST_RETRY
                )
                for path in ("/broken", "/flaky", "/down")
            ]
        requests = server.requests
    broken, flaky, down = fetched
    assert (broken.status, broken.error, broken.ok) == (500, "HTTP 500", False)
    assert flaky.ok and flaky.text == "back again"
    assert (down.status, down.error) == (503, "HTTP 503")
    assert requests.count("/broken") == 1  # 500 is not transient
    assert requests.count("/flaky") == 2 and requests.count("/down") == FAST_RETRY.attempts


async def test_time_budget_stops_the_crawl() -> None:
    release = threading.Event()
    routes = {
        "/": [Reply(200, html("<a href='/slow'>products</a>"))],
        "/slow": [Reply(200, html("late"), hold=release)],
    }
    try:
        with ScriptedServer(routes) as server:
            settings = local_settings({"slow.example": server.origin}, time_budget_s=0.5)
            report = await crawl_site("https://slow.example/", settings, retry=FAST_RETRY)
            release.set()
    finally:
        release.set()
    assert report.stopped_because == "time_budget"
    assert "https://slow.example/slow" not in by_url(report)
    assert report.skipped.get("https://slow.example/slow") == "time budget"


@pytest.mark.parametrize(
    "url",
    [
        "ftp://shop.example/",
        "shop.example",
        "https:///nohost",
        "javascript:alert(1)",
        "http://x:99999/",
    ],
)
async def test_bad_start_urls_raise_value_error(url: str) -> None:
    with pytest.raises(ValueError, match="invalid URL"):
        await crawl_site(url, local_settings({}))
    with pytest.raises(ValueError):
        validate_start_url(url)


async def test_fetch_page_never_raises_for_bad_urls() -> None:
    page = await fetch_page("file:///etc/passwd", local_settings({}))
    assert page.error is not None and page.error.startswith("blocked:")


@pytest.mark.parametrize(
    ("url", "anchor", "priority"),
    [
        ("https://s.example/products/tea", "", 0),
        ("https://s.example/p/17", "Terms & Conditions", 0),
        ("https://s.example/preguntas-frecuentes", "", 0),
        ("https://s.example/versand", "", 0),
        ("https://s.example/mentions-legales", "", 0),
        ("https://s.example/Impressum", "", 0),
        ("https://s.example/x", "Nos produits", 0),
        ("https://s.example/team", "Meet us", 1),
        ("https://s.example/blog/our-products", "", 2),
        ("https://s.example/careers", "", 2),
        ("https://s.example/x", "Press", 2),
        ("https://s.example/brochure.pdf", "Products", 3),
    ],
)
def test_link_priority(url: str, anchor: str, priority: int) -> None:
    assert link_priority(url, anchor) == priority


def test_dedupe_key_ignores_what_does_not_change_the_page() -> None:
    same = {
        dedupe_key(url)
        for url in (
            "https://shop.example/a?x=1",
            "http://www.shop.example:8080/a?x=1#frag",
            "https://SHOP.example/a?x=1",
        )
    }
    assert same == {"shop.example/a?x=1"}
    assert dedupe_key("https://shop.example") == dedupe_key("https://shop.example/")
    assert dedupe_key("https://shop.example/a?x=2") != dedupe_key("https://shop.example/a?x=1")


def test_parse_sitemap_reads_urlsets_and_indexes() -> None:
    urlset = (FIXTURE_SITES / "shop/sitemap.xml").read_bytes()
    index = (
        b"<?xml version='1.0'?><sitemapindex xmlns='http://www.sitemaps.org/schemas/sitemap/0.9'>"
        b"<sitemap><loc> https://s.example/a.xml </loc></sitemap></sitemapindex>"
    )
    assert parse_sitemap(urlset)[0] is False
    assert "https://shop.example/offers/clearance.html" in parse_sitemap(urlset)[1]
    assert parse_sitemap(index) == (True, ["https://s.example/a.xml"])
    assert parse_sitemap(b"not xml at all") == (False, [])


def test_sitemap_entities_are_not_expanded() -> None:
    hostile = (
        b"<?xml version='1.0'?><!DOCTYPE x [<!ENTITY ext SYSTEM 'file:///etc/hostname'>]>"
        b"<urlset><url><loc>https://s.example/&ext;</loc></url></urlset>"
    )
    _index, urls = parse_sitemap(hostile)
    assert all(url.startswith("https://s.example/") and len(url) < 40 for url in urls)


async def test_robots_rules_for_our_user_agent_can_refuse_the_start_page() -> None:
    robots = b"User-agent: merchant-review\nDisallow: /\n\nUser-agent: *\nAllow: /\n"
    routes = {"/robots.txt": [Reply(200, robots, {"Content-Type": "text/plain"})]}
    with ScriptedServer(routes) as server:
        settings = local_settings({"strict.example": server.origin})
        report = await crawl_site("https://strict.example/", settings, retry=FAST_RETRY)
        requests = server.requests
    assert report.pages == [] and report.robots_found
    assert report.skipped == {"https://strict.example/": "robots.txt"}
    assert report.stopped_because == "robots.txt disallows the start page"
    assert requests == ["/robots.txt"]


async def test_sitemap_index_from_robots_with_gzipped_sitemap() -> None:
    urlset = b"<urlset><url><loc>https://deals.example/deal</loc></url></urlset>"
    index = b"<sitemapindex><sitemap><loc>https://deals.example/s/pages.xml.gz</loc></sitemap></sitemapindex>"
    routes = {
        "/robots.txt": [Reply(200, b"Sitemap: https://deals.example/index.xml\n")],
        "/": [Reply(200, html("<p>home</p>"))],
        "/index.xml": [Reply(200, index, {"Content-Type": "application/xml"})],
        "/s/pages.xml.gz": [
            Reply(200, gzip.compress(urlset), {"Content-Type": "application/gzip"})
        ],
        "/deal": [Reply(200, html("<p>Half-price deal</p>"))],
    }
    with ScriptedServer(routes) as server:
        settings = local_settings({"deals.example": server.origin})
        report = await crawl_site("https://deals.example/", settings, retry=FAST_RETRY)
    deal = by_url(report)["https://deals.example/deal"]
    assert deal.found_via == "sitemap" and deal.text == "Half-price deal"
    assert report.sitemap_urls == 1


async def test_a_redirect_to_garbage_is_a_page_error() -> None:
    routes = {"/bad": [Reply(302, b"", {"Location": "http://[::1"})]}
    with ScriptedServer(routes) as server:
        settings = local_settings({"odd.example": server.origin})
        page = await fetch_page("https://odd.example/bad", settings, check_robots=False)
    # httpx itself refuses the Location header; the page records why.
    assert page.error is not None and "invalid url in location header" in page.error.lower()
    assert page.status is None and not page.ok
