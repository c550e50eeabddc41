"""SSRF guard: private, loopback and odd destinations are refused before any connection.

The guard's transport wraps a recording transport here, so a refused request provably
never reaches the network layer; only IP literals, localhost and overridden names are
used, so no test makes a DNS query either.
"""

from __future__ import annotations

import ipaddress

import httpx
import pytest

from merchant_review.settings import CrawlSettings
from tools.crawler import fetch_page, make_client
from tools.netguard import (
    BlockedDestination,
    check_url,
    is_public_address,
    override_origin,
)

BLOCKED_URLS = [
    "http://127.0.0.1/",
    "http://localhost/",
    "http://LOCALHOST./admin",
    "http://[::1]/",
    "http://10.0.0.1/",
    "http://169.254.169.254/latest/meta-data/",
    "http://0.0.0.0/",
    "http://2130706433/",  # 127.0.0.1 as one decimal number
    "http://0x7f.1/",  # 127.0.0.1 in hex shorthand
    "http://[::ffff:127.0.0.1]/",
    "http://[::ffff:a9fe:a9fe]/",  # IPv4-mapped 169.254.169.254
    "http://192.168.1.1:8080/",
    "http://100.64.0.1/",
    "https://[fe80::1]/",
]
BAD_SCHEMES = ["ftp://example.com/file", "file:///etc/passwd", "javascript:alert(1)", "gopher://x/"]


class RecordingTransport(httpx.AsyncBaseTransport):
    """Stands in for the network: records what reaches it and answers 200."""

    def __init__(self) -> None:
        self.requests: list[httpx.Request] = []

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        return httpx.Response(200, text="<p>reached</p>", headers={"content-type": "text/html"})


@pytest.mark.parametrize(
    ("address", "public"),
    [
        ("8.8.8.8", True),
        ("93.184.215.14", True),
        ("2606:4700:4700::1111", True),
        ("127.0.0.1", False),
        ("10.1.2.3", False),
        ("172.16.5.4", False),
        ("192.168.0.1", False),
        ("169.254.169.254", False),
        ("0.0.0.0", False),
        ("100.64.0.1", False),
        ("224.0.0.1", False),
        ("240.0.0.1", False),
        ("255.255.255.255", False),
        ("::1", False),
        ("::", False),
        ("fe80::1", False),
        ("fc00::1", False),
        ("ff0e::1", False),
        ("::ffff:127.0.0.1", False),
        ("::ffff:8.8.8.8", True),
        ("2002:7f00:1::1", False),  # 6to4 wrapping 127.0.0.1
        ("64:ff9b::a00:1", False),  # NAT64 wrapping 10.0.0.1
    ],
)
def test_public_addresses(address: str, public: bool) -> None:
    assert is_public_address(ipaddress.ip_address(address)) is public


@pytest.mark.parametrize("url", BLOCKED_URLS)
async def test_private_destinations_are_refused(url: str) -> None:
    with pytest.raises(BlockedDestination, match="non-public address"):
        await check_url(url, CrawlSettings())


@pytest.mark.parametrize("url", BAD_SCHEMES)
async def test_non_http_schemes_are_refused(url: str) -> None:
    with pytest.raises(BlockedDestination, match="is not http"):
        await check_url(url, CrawlSettings())


async def test_public_ip_literal_is_allowed() -> None:
    destination = await check_url("https://93.184.215.14/shop", CrawlSettings())
    assert destination.port == 443 and not destination.overridden
    assert [str(a) for a in destination.addresses] == ["93.184.215.14"]


async def test_an_override_to_loopback_is_refused_unless_allowed() -> None:
    overrides = {"shop.example": "http://127.0.0.1:9"}
    with pytest.raises(BlockedDestination, match=r"127\.0\.0\.1"):
        await check_url("https://shop.example/", CrawlSettings(origin_overrides=overrides))
    for allowed in (["127.0.0.1"], ["127.0.0.0/8"], ["shop.example"]):
        settings = CrawlSettings(origin_overrides=overrides, allow_private=allowed)
        destination = await check_url("https://www.shop.example/a", settings)
        assert (destination.scheme, destination.host, destination.port) == ("http", "127.0.0.1", 9)
        assert destination.overridden


async def test_allowing_one_address_does_not_allow_others() -> None:
    settings = CrawlSettings(allow_private=["127.0.0.1"])
    assert (await check_url("http://127.0.0.1:8000/", settings)).port == 8000
    for url in ("http://127.0.0.2/", "http://[::1]/", "http://10.0.0.1/"):
        with pytest.raises(BlockedDestination):
            await check_url(url, settings)


def test_override_lookup_ignores_case_and_www() -> None:
    settings = CrawlSettings(origin_overrides={"Shop.Example": "http://127.0.0.1:1"})
    assert override_origin("WWW.shop.example.", settings) == "http://127.0.0.1:1"
    assert override_origin("other.example", settings) is None


@pytest.mark.parametrize("url", [*BLOCKED_URLS, *BAD_SCHEMES, "https://shop.example/"])
async def test_guarded_client_never_sends_refused_requests(url: str) -> None:
    settings = CrawlSettings(origin_overrides={"shop.example": "http://127.0.0.1:9"})
    network = RecordingTransport()
    async with make_client(settings, transport=network) as client:
        page = await fetch_page(url, settings, client=client, check_robots=False)
        with pytest.raises(BlockedDestination):
            await client.get(url)  # the transport refuses on its own, crawler or not
    assert page.error is not None and page.error.startswith("blocked:")
    assert page.status is None and not page.ok
    assert network.requests == []


async def test_redirect_hops_are_checked_by_the_transport() -> None:
    """Even a client that follows redirects itself cannot be led to a private address."""
    settings = CrawlSettings(allow_private=["127.0.0.1"])

    class Redirecting(RecordingTransport):
        async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
            self.requests.append(request)
            return httpx.Response(302, headers={"location": "http://169.254.169.254/"})

    network = Redirecting()
    async with make_client(settings, transport=network) as client:
        with pytest.raises(BlockedDestination, match=r"169\.254\.169\.254"):
            await client.get("http://127.0.0.1:9/start", follow_redirects=True)
    assert [str(r.url) for r in network.requests] == ["http://127.0.0.1:9/start"]


async def test_overridden_requests_keep_the_logical_url_and_host() -> None:
    settings = CrawlSettings(
        origin_overrides={"shop.example": "http://127.0.0.1:9"}, allow_private=["127.0.0.1"]
    )
    network = RecordingTransport()
    async with make_client(settings, transport=network) as client:
        response = await client.get("https://shop.example/a/b.html?x=1")
    sent = network.requests[0]
    assert str(sent.url) == "http://127.0.0.1:9/a/b.html?x=1"
    assert sent.headers["host"] == "shop.example"
    assert sent.headers["user-agent"] == settings.user_agent
    assert str(response.url) == "https://shop.example/a/b.html?x=1"
