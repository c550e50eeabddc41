"""SSRF scenarios: hostile destinations the crawler must refuse with no connection made.

Every target is fetched through the crawler's real client (`tools.crawler.make_client`)
with the guard fully on (no `allow_private` address). Underneath the pinning backend a
`SpyBackend` records every socket dial, and loopback targets point at a counting
`Listener`: a target counts as refused only when the fetch reports "blocked", nothing
was dialled but the allowed fixture site, and the listener saw no connection.

Redirect targets start on an allowed local site (`shop.test`, allowed by name, served on
127.0.0.1 through origin_overrides) that answers 302 to the hostile URL. DNS targets are
`.test` names that a fake resolver answers with hostile addresses.
"""

from __future__ import annotations

import asyncio
import ipaddress
from collections.abc import AsyncIterator, Iterable
from contextlib import asynccontextmanager
from dataclasses import dataclass

import httpcore
import httpx

from evals.security.netspy import Listener, SpyBackend, fake_dns
from merchant_review.settings import CrawlSettings
from tools.crawler import RetryPolicy, crawl_site, fetch_page, make_client
from tools.netguard import is_public_address
from tools.pinning import PinnedBackend

NO_RETRY = RetryPolicy(attempts=1, backoff_s=0.0, max_backoff_s=0.0)
SITE = "shop.test"  # the allowed fixture site that redirects to hostile targets

# `{port}` is the counting listener's port on 127.0.0.1.
DIRECT = [
    ("loopback dotted", "http://127.0.0.1:{port}/admin"),
    ("loopback decimal", "http://2130706433:{port}/"),
    ("loopback octal", "http://0177.0.0.1:{port}/"),
    ("loopback hex", "http://0x7f000001:{port}/"),
    ("loopback hex dotted", "http://0x7f.0x0.0x0.0x1:{port}/"),
    ("loopback short form", "http://127.1:{port}/"),
    ("localhost name", "http://localhost:{port}/"),
    ("localhost uppercase, trailing dot", "http://LOCALHOST.:{port}/"),
    ("userinfo trick", "http://shop.test@127.0.0.1:{port}/"),
    ("IPv6 loopback", "http://[::1]:{port}/"),
    ("IPv4-mapped IPv6 loopback", "http://[::ffff:127.0.0.1]:{port}/"),
    ("IPv4-mapped IPv6, hex", "http://[::ffff:7f00:1]:{port}/"),
    ("NAT64-wrapped loopback", "http://[64:ff9b::7f00:1]:{port}/"),
    ("6to4-wrapped loopback", "http://[2002:7f00:1::1]:{port}/"),
    ("unspecified 0.0.0.0", "http://0.0.0.0:{port}/"),
    ("unspecified 0", "http://0:{port}/"),
    ("unspecified [::]", "http://[::]:{port}/"),
    ("cloud metadata", "http://169.254.169.254/latest/meta-data/iam/"),
    ("cloud metadata, IPv4-mapped", "http://[::ffff:a9fe:a9fe]/latest/meta-data/"),
    ("cloud metadata, decimal", "http://2852039166/latest/meta-data/"),
    ("AWS IPv6 metadata", "http://[fd00:ec2::254]/latest/meta-data/"),
    ("link-local IPv4", "http://169.254.1.1/"),
    ("link-local IPv6", "http://[fe80::1]/"),
    ("private 10/8", "http://10.0.0.1/"),
    ("private 172.16/12", "http://172.16.0.1/"),
    ("private 192.168/16", "https://192.168.1.1:8443/"),
    ("shared CGNAT 100.64/10", "http://100.64.0.1/"),
    ("unique local IPv6", "http://[fc00::1]/"),
    ("broadcast", "http://255.255.255.255/"),
    ("multicast", "http://224.0.0.1/"),
]
SCHEMES = [
    ("file scheme", "file:///etc/passwd"),
    ("gopher to redis", "gopher://127.0.0.1:6379/_INFO"),
    ("ftp scheme", "ftp://127.0.0.1/"),
    ("dict scheme", "dict://127.0.0.1:11211/stat"),
    ("javascript scheme", "javascript:fetch('http://169.254.169.254/')"),
    ("data scheme", "data:text/html,<p>hi</p>"),
]
# Fake DNS: hostile names and what they resolve to ({port} targets are on the listener).
HOSTILE_NAMES = {
    "metadata.attacker.test": ["169.254.169.254"],
    "loopback.attacker.test": ["127.0.0.1"],
    "v6loop.attacker.test": ["::1"],
    "mapped.attacker.test": ["::ffff:127.0.0.1"],
    "private.attacker.test": ["10.20.30.40"],
    "mixed.attacker.test": ["93.184.215.14", "10.0.0.1"],  # one bad answer is enough
}
DNS = [
    ("DNS name to metadata", "http://metadata.attacker.test/latest/meta-data/"),
    ("DNS name to loopback", "http://loopback.attacker.test:{port}/"),
    ("DNS name to IPv6 loopback", "http://v6loop.attacker.test:{port}/"),
    ("DNS name to mapped loopback", "http://mapped.attacker.test:{port}/"),
    ("DNS name to 10/8", "http://private.attacker.test/"),
    ("DNS name, public and private answers", "http://mixed.attacker.test/"),
]
REDIRECTS = [
    ("redirect to metadata", "http://169.254.169.254/latest/meta-data/"),
    ("redirect to loopback decimal", "http://2130706433:{port}/"),
    ("redirect to loopback hex", "http://0x7f000001:{port}/"),
    ("redirect to IPv6-mapped loopback", "http://[::ffff:127.0.0.1]:{port}/"),
    ("redirect to 0.0.0.0", "http://0.0.0.0:{port}/"),
    ("redirect to [::]", "http://[::]:{port}/"),
    ("redirect to DNS name to metadata", "http://metadata.attacker.test/"),
    ("redirect to DNS name to loopback", "http://loopback.attacker.test:{port}/"),
    ("redirect to file scheme", "file:///etc/passwd"),
    ("redirect to gopher", "gopher://127.0.0.1:6379/_INFO"),
    ("redirect, protocol-relative", "//169.254.169.254/latest/meta-data/"),
    ("redirect to private 192.168", "http://192.168.0.1/"),
]


@dataclass(frozen=True)
class Target:
    name: str
    url: str  # may hold {port}
    via: str  # direct | scheme | dns | redirect


@dataclass(frozen=True)
class SsrfResult:
    target: Target
    refused: bool  # blocked, nothing hostile dialled, the listener untouched
    error: str | None
    hostile_dials: list[tuple[str, int]]
    listener_connections: int


def targets() -> list[Target]:
    """Every hostile target of the suite."""
    groups = [("direct", DIRECT), ("scheme", SCHEMES), ("dns", DNS), ("redirect", REDIRECTS)]
    return [Target(name, url, via) for via, group in groups for name, url in group]


def guarded_settings(**changes: object) -> CrawlSettings:
    """The guard fully on: no private address allowed; only the fixture site, by name."""
    values: dict[str, object] = {
        "request_timeout_s": 2.0,
        "time_budget_s": 5.0,
        "respect_robots": False,
        **changes,
    }
    return CrawlSettings.model_validate(values)


class _Redirector:
    """The allowed fixture site: /go/N answers 302 to redirect target N."""

    def __init__(self, locations: list[str]) -> None:
        self.locations = locations
        self._server: asyncio.Server | None = None

    @property
    def port(self) -> int:
        assert self._server is not None
        return int(self._server.sockets[0].getsockname()[1])

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            line = (await reader.readline()).decode("latin-1")
            while (await reader.readline()) not in (b"\r\n", b"\n", b""):
                pass
            path = line.split(" ")[1] if line.count(" ") >= 2 else "/"
            index = int(path.removeprefix("/go/")) if path.startswith("/go/") else -1
            if 0 <= index < len(self.locations):
                head = f"HTTP/1.1 302 Found\r\nLocation: {self.locations[index]}\r\n"
            else:
                head = "HTTP/1.1 404 Not Found\r\n"
            writer.write((head + "Content-Length: 0\r\nConnection: close\r\n\r\n").encode())
            await writer.drain()
        finally:
            writer.close()

    async def __aenter__(self) -> _Redirector:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()


async def _fetch(url: str, settings: CrawlSettings) -> tuple[str | None, SpyBackend]:
    spy = SpyBackend()
    async with make_client(settings, pins=PinnedBackend(spy)) as client:
        page = await fetch_page(url, settings, client=client, check_robots=False, retry=NO_RETRY)
    return page.error, spy


async def run_ssrf() -> list[SsrfResult]:
    """Try every target; each result says whether it was refused with nothing dialled."""
    results: list[SsrfResult] = []
    async with Listener() as listener:

        def fill(url: str) -> str:
            return url.replace("{port}", str(listener.port))

        redirects = [fill(url) for _name, url in REDIRECTS]
        async with _Redirector(redirects) as site:
            allowed = ("127.0.0.1", site.port)
            # Redirect targets start on the fixture site, allowed by its name only; every
            # other target is tried with nothing allowed at all.
            via_site = guarded_settings(
                origin_overrides={SITE: f"http://127.0.0.1:{site.port}"}, allow_private=[SITE]
            )
            closed = guarded_settings()
            answers = {name: list(addresses) for name, addresses in HOSTILE_NAMES.items()}
            with fake_dns(answers):
                redirect_number = 0
                for target in targets():
                    settings = via_site if target.via == "redirect" else closed
                    if target.via == "redirect":
                        url = f"http://{SITE}/go/{redirect_number}"
                        redirect_number += 1
                    else:
                        url = fill(target.url)
                    before = listener.connections
                    error, spy = await _fetch(url, settings)
                    hostile = [dial for dial in spy.dials if dial != allowed]
                    connections = listener.connections - before
                    refused = bool(error and error.startswith("blocked"))
                    refused = refused and not hostile and connections == 0
                    if target.via == "redirect":  # the allowed site did answer with the 302
                        refused = refused and allowed in spy.dials
                    results.append(SsrfResult(target, refused, error, hostile, connections))
    return results


@dataclass(frozen=True)
class RebindingResult:
    """One fetch of a name whose DNS answer turns hostile after the guard's check."""

    served_by_checked_address: bool
    hostile_connections: int
    lookups: int  # of the rebinding name: the guard's checks only, none at connect time


REBIND_NAME = "rebind.attacker.test"


@asynccontextmanager
async def _rebinding_listeners() -> AsyncIterator[tuple[Listener, Listener]]:
    async with Listener("127.0.0.1") as good:
        hostile = Listener("127.0.0.2")
        hostile_server = await asyncio.start_server(hostile._serve, "127.0.0.2", good.port)
        try:
            yield good, hostile
        finally:
            hostile_server.close()
            await hostile_server.wait_closed()


async def run_rebinding(transport: httpx.AsyncBaseTransport | None = None) -> RebindingResult:
    """DNS rebinding: the name answers the checked address to the guard, then 127.0.0.2.

    127.0.0.1 stands in for a public address here (it is the one allowed address); the
    guard checks each fetch twice (the crawler, then the transport), so the first two
    answers are 127.0.0.1 and any later lookup (a connect-time one) gets 127.0.0.2.
    `transport` swaps the pinned transport for another (to show the scenario can fail).
    """
    async with _rebinding_listeners() as (good, hostile):
        settings = guarded_settings(allow_private=["127.0.0.1"])

        def answer(lookup: int) -> list[str]:
            return ["127.0.0.1"] if lookup <= 2 else ["127.0.0.2"]

        with fake_dns({REBIND_NAME: answer}) as log:
            async with make_client(settings, transport=transport) as client:
                url = f"http://{REBIND_NAME}:{good.port}/"
                page = await fetch_page(url, settings, client=client, check_robots=False)
        return RebindingResult(
            served_by_checked_address=page.ok and good.connections == 1,
            hostile_connections=hostile.connections,
            lookups=log.count(REBIND_NAME),
        )


async def run_crawl_links(pages_html: str) -> tuple[int, list[tuple[str, int]]]:
    """Crawl an allowed site whose page links to hostile URLs: (pages fetched, hostile dials).

    Links are followed on the same site only, so hostile links are never even tried.
    """
    body = pages_html.encode()
    head = f"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: {len(body)}\r\n"

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while (await reader.readline()) not in (b"\r\n", b"\n", b""):
            pass
        writer.write(head.encode() + b"Connection: close\r\n\r\n" + body)
        await writer.drain()
        writer.close()

    server = await asyncio.start_server(serve, "127.0.0.1", 0)
    port = int(server.sockets[0].getsockname()[1])
    spy = SpyBackend()
    settings = guarded_settings(
        origin_overrides={SITE: f"http://127.0.0.1:{port}"}, allow_private=[SITE], max_pages=5
    )
    try:
        async with make_client(settings, pins=PinnedBackend(spy)) as client:
            report = await crawl_site(f"http://{SITE}/", settings, client=client, retry=NO_RETRY)
    finally:
        server.close()
        await server.wait_closed()
    return len(report.pages), [dial for dial in spy.dials if dial != ("127.0.0.1", port)]


# URLs that URL parsers disagree about: whichever host wins, loopback must not be dialled.
# `public.attacker.test` answers a public address; the dial spy refuses every dial, so no
# connection leaves the machine even when the public host is (rightly) the one chosen.
DIFFERENTIALS = [
    ("backslash before @", "http://127.0.0.1:{port}\\@public.attacker.test/"),
    ("backslash in userinfo", "http://public.attacker.test\\@127.0.0.1:{port}/"),
    ("encoded slash in userinfo", "http://127.0.0.1:{port}%2f@public.attacker.test/"),
    ("fragment before @", "http://public.attacker.test#@127.0.0.1:{port}/"),
    ("query before @", "http://public.attacker.test?@127.0.0.1:{port}/"),
    ("fullwidth digits", "http://\uff11\uff12\uff17.\uff10.\uff10.\uff11:{port}/"),
    ("ideographic full stops", "http://127\u30020\u30020\u30021:{port}/"),
    (
        "enclosed alphanumerics to metadata",
        "http://\u246f\u2468\u3002\u2461\u2464\u2463\u3002\u246f\u2468\u3002\u2461\u2464\u2463/",
    ),
]


class _RefusingSpy(SpyBackend):
    """Records each dial and makes none: nothing may leave the machine."""

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,  # noqa: ASYNC109 - httpcore's interface
        local_address: str | None = None,
        socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        """Record, then refuse."""
        self.dials.append((host, port))
        raise httpcore.ConnectError("the security suite dials nothing here")


@dataclass(frozen=True)
class DifferentialResult:
    name: str
    url: str
    error: str | None
    dials: list[tuple[str, int]]  # what the transport tried to dial (refused by the spy)
    safe: bool  # no dial to a non-public address, the listener untouched


async def run_differentials() -> list[DifferentialResult]:
    """Fetch each parser-differential URL; safe when no non-public address was dialled."""
    results: list[DifferentialResult] = []
    settings = guarded_settings()
    async with Listener() as listener:
        with fake_dns({"public.attacker.test": ["93.184.215.14"]}):
            for name, template in DIFFERENTIALS:
                url = template.replace("{port}", str(listener.port))
                spy = _RefusingSpy()
                async with make_client(settings, pins=PinnedBackend(spy)) as client:
                    page = await fetch_page(
                        url, settings, client=client, check_robots=False, retry=NO_RETRY
                    )
                private = [dial for dial in spy.dials if not _public(dial[0])]
                safe = not private and listener.connections == 0
                results.append(DifferentialResult(name, url, page.error, spy.dials, safe))
    return results


def _public(address: str) -> bool:
    try:
        return is_public_address(ipaddress.ip_address(address))
    except ValueError:
        return False  # not an address at all: the pinning backend dials addresses only
