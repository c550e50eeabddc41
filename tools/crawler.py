"""The async crawler: guarded fetches, robots.txt, sitemaps, prioritised same-site links.

Every request goes through `tools.netguard` (scheme, private-address and override checks,
one per redirect hop: redirects are followed here, by hand, never by httpx). Fetch failures
never raise: they come back as a PageSnapshot whose `error` says what happened.

Choices worth knowing:
- Non-HTML responses (PDF, images, JSON...) are not read or parsed: the snapshot keeps the
  status and content type, with `error` "non-HTML content (TYPE)". text/plain is kept as text.
- HTTP 4xx/5xx pages are extracted like any page but carry `error` "HTTP 404" and so on.
- Links, sitemap entries and redirects are followed on the same site only: the start URL's
  host, the host the start page redirected to, and their "www." twins.
- Connections dial only the addresses the guard checked (`tools.pinning`); bodies are
  read and inflated within the byte caps by `tools.bodyread`, which also tells binary
  bytes served as HTML (a page error) from text.

Helpers live beside it: `tools.urls` (URL checks and keys) and `tools.links` (which links
come first); their public names are re-exported here.
"""

from __future__ import annotations

import asyncio
import hashlib
import heapq
import itertools
import zlib
from collections.abc import AsyncIterator, Collection
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from urllib.parse import urldefrag, urljoin
from urllib.robotparser import RobotFileParser

import httpx
from bs4 import BeautifulSoup
from tenacity import AsyncRetrying, retry_if_exception_type, stop_after_attempt, wait_exponential

from merchant_review.pages import CrawlReport, PageSnapshot
from merchant_review.settings import CrawlSettings
from tools.bodyread import ACCEPT_ENCODING, BodyError, looks_binary, read_limited
from tools.extract import ExtractedPage, extract_page
from tools.links import link_priority as link_priority
from tools.netguard import BlockedDestination, GuardedTransport, UnresolvableHost, check_url
from tools.pinning import PinnedBackend, PinnedTransport
from tools.urls import dedupe_key as dedupe_key
from tools.urls import origin_of
from tools.urls import site_key as site_key
from tools.urls import validate_start_url as validate_start_url

HTML_TYPES = frozenset({"text/html", "application/xhtml+xml"})
TEXT_TYPES = frozenset({"text/plain"})
REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})
TRANSIENT_STATUSES = frozenset({502, 503, 504})
ROBOTS_MAX_BYTES = 512_000  # RFC 9309 asks crawlers to read at least 500 KiB
MAX_SITEMAP_FILES = 5
MAX_SITEMAP_URLS = 500
SITEMAP_MAX_BYTES = 10_000_000  # uncompressed, for gzipped sitemaps
MAX_SKIPPED_RECORDED = 200
INLINE_PARSE_BYTES = 16_384  # pages up to this size are parsed on the event loop (_extract)
_ACCEPT = "text/html,application/xhtml+xml;q=0.9,text/plain;q=0.8,*/*;q=0.5"


@dataclass(frozen=True)
class RetryPolicy:
    """Retries for transient failures: connect errors and HTTP 502/503/504."""

    attempts: int = 3
    backoff_s: float = 0.25  # exponential: 0.25 s, 0.5 s, ... capped at max_backoff_s
    max_backoff_s: float = 2.0


DEFAULT_RETRY = RetryPolicy()


class _TransientStatus(Exception):
    """A 502/503/504 answer that is worth another attempt."""


# -- the HTTP client -----------------------------------------------------------------------


def make_client(
    settings: CrawlSettings,
    *,
    transport: httpx.AsyncBaseTransport | None = None,
    pins: PinnedBackend | None = None,
) -> httpx.AsyncClient:
    """An httpx client whose every request is SSRF-checked and honours origin_overrides.

    `transport` replaces the real network transport underneath the guard (tests use it to
    prove that refused requests never reach the network). Without it, httpx's transport
    dials only the addresses the guard checked (`pins`, tools.pinning: no DNS rebinding
    between check and connect); tests pass their own PinnedBackend to watch every dial.
    """
    if transport is None:
        pins = pins or PinnedBackend()
        # One small pool per site; no retries in httpcore: tenacity, below.
        transport = PinnedTransport(pins, connections_per_host=settings.connections_per_host)
    return httpx.AsyncClient(
        transport=GuardedTransport(settings, transport, pins),
        headers={
            "User-Agent": settings.user_agent,
            "Accept": _ACCEPT,
            "Accept-Encoding": ACCEPT_ENCODING,  # what tools.bodyread inflates, boundedly
        },
        timeout=httpx.Timeout(settings.request_timeout_s),
        follow_redirects=False,  # each hop is checked and counted here
        trust_env=False,  # an environment proxy would carry requests past the guard
    )


@asynccontextmanager
async def _client_for(
    settings: CrawlSettings, client: httpx.AsyncClient | None
) -> AsyncIterator[httpx.AsyncClient]:
    if client is not None:
        yield client
        return
    async with make_client(settings) as own:
        yield own


# -- one guarded fetch ---------------------------------------------------------------------


@dataclass
class _Body:
    """What one fetch produced, before any parsing."""

    url: str  # the logical URL after redirects
    status: int | None = None
    content_type: str | None = None
    charset: str | None = None
    data: bytes = b""
    read: bool = False  # the body was read (even if empty)
    truncated: bool = False
    error: str | None = None


@dataclass
class _Hop:
    body: _Body
    redirect: str | None = None


async def _send(client: httpx.AsyncClient, url: str, retry: RetryPolicy) -> httpx.Response:
    """GET with retries on transient failures; the last attempt's answer is returned as is."""
    retrying = AsyncRetrying(
        stop=stop_after_attempt(retry.attempts),
        wait=wait_exponential(multiplier=retry.backoff_s, max=retry.max_backoff_s),
        retry=retry_if_exception_type((httpx.ConnectError, httpx.ConnectTimeout, _TransientStatus)),
        reraise=True,
    )
    async for attempt in retrying:
        with attempt:
            response = await client.send(client.build_request("GET", url), stream=True)
            last = attempt.retry_state.attempt_number >= retry.attempts
            if response.status_code in TRANSIENT_STATUSES and not last:
                await response.aclose()
                raise _TransientStatus(str(response.status_code))
            return response
    raise AssertionError("tenacity ends with a result or an exception")


def _mime(content_type: str | None) -> str:
    return (content_type or "").split(";")[0].strip().lower()


async def _read_body(
    response: httpx.Response, url: str, max_bytes: int, read_types: Collection[str] | None
) -> _Body:
    content_type = response.headers.get("content-type")
    body = _Body(url, response.status_code, content_type, response.charset_encoding)
    mime = _mime(content_type)
    # A response without a content type is read and treated as HTML, as browsers sniff.
    if read_types is not None and mime and mime not in read_types:
        body.error = f"non-HTML content ({mime})"
        return body
    body.data, body.truncated = await read_limited(response, max_bytes)
    body.read = True
    if read_types is not None and looks_binary(body.data):
        body.error = f"binary content served as {mime or 'an untyped page'}"
    return body


def _redirect_target(response: httpx.Response, url: str) -> str | None:
    location = str(response.headers.get("location", "")).strip()
    if response.status_code not in REDIRECT_STATUSES or not location:
        return None
    return urldefrag(urljoin(url, location))[0]


def _describe(exc: BaseException) -> str:
    if isinstance(exc, TimeoutError | httpx.TimeoutException):
        return "timed out"
    if isinstance(exc, httpx.ConnectError | UnresolvableHost):
        return f"connection failed: {exc}"
    if isinstance(exc, httpx.RemoteProtocolError):  # hung up, or an unreadable answer
        return f"protocol error: {exc}"
    return f"{type(exc).__name__}: {exc}"


async def _one_hop(
    url: str,
    settings: CrawlSettings,
    client: httpx.AsyncClient,
    max_bytes: int,
    read_types: Collection[str] | None,
    retry: RetryPolicy,
) -> _Hop:
    try:
        # Checked here as well as in the transport: a caller's own client may lack the guard.
        await check_url(url, settings)
        async with asyncio.timeout(settings.request_timeout_s):
            response = await _send(client, url, retry)
            try:
                target = _redirect_target(response, url)
                if target is not None:
                    return _Hop(_Body(url, response.status_code), redirect=target)
                return _Hop(await _read_body(response, url, max_bytes, read_types))
            finally:
                await response.aclose()
    except BlockedDestination as exc:
        return _Hop(_Body(url, error=f"blocked: {exc.reason}"))
    except BodyError as exc:
        return _Hop(_Body(url, error=str(exc)))
    except (UnresolvableHost, httpx.HTTPError, TimeoutError) as exc:
        return _Hop(_Body(url, error=_describe(exc)))
    except (ValueError, httpx.InvalidURL) as exc:  # e.g. a Location header that is no URL
        return _Hop(_Body(url, error=f"invalid URL: {exc}"))


async def _fetch_body(
    url: str,
    settings: CrawlSettings,
    client: httpx.AsyncClient,
    *,
    max_bytes: int,
    read_types: Collection[str] | None,
    retry: RetryPolicy,
) -> _Body:
    """Fetch following redirects by hand, each hop checked; loops and excess reported."""
    current, visited, status = url, {dedupe_key(url)}, None
    for _hop in range(settings.max_redirects + 1):
        hop = await _one_hop(current, settings, client, max_bytes, read_types, retry)
        if hop.redirect is None:
            return hop.body
        status = hop.body.status
        if dedupe_key(hop.redirect) in visited:
            return _Body(current, status, error="redirect loop")
        visited.add(dedupe_key(hop.redirect))
        current = hop.redirect
    return _Body(current, status, error="too many redirects")


async def _extract(body: _Body) -> ExtractedPage:
    """Parse a page; a large one in a worker thread, so the event loop keeps running.

    A small page parses in about a millisecond: handing it to a thread (and taking the
    GIL back afterwards) costs more CPU than it saves waiting.
    """
    if len(body.data) <= INLINE_PARSE_BYTES:
        return extract_page(body.data, body.url, http_charset=body.charset)
    return await asyncio.to_thread(extract_page, body.data, body.url, http_charset=body.charset)


async def _snapshot(requested_url: str, body: _Body, *, found_via: str, depth: int) -> PageSnapshot:
    page = PageSnapshot(
        url=body.url,
        requested_url=requested_url,
        status=body.status,
        content_type=body.content_type,
        raw_sha256=hashlib.sha256(body.data).hexdigest() if body.read else None,
        bytes=len(body.data),
        truncated=body.truncated,
        depth=depth,
        found_via=found_via,
        error=body.error,
    )
    parse = body.read and body.error is None  # e.g. binary content: nothing to parse
    if parse and _mime(body.content_type) in TEXT_TYPES:
        page.text = body.data.decode(body.charset or "utf-8", errors="replace")
    elif parse and body.data:
        seen = await _extract(body)
        page.title, page.text, page.hidden_text = seen.title, seen.text, seen.hidden_text
        page.meta, page.image_alts, page.links = seen.meta, seen.image_alts, seen.links
    if page.error is None and page.status is not None and page.status >= 400:
        page.error = f"HTTP {page.status}"
    return page


async def _fetch_snapshot(
    url: str,
    settings: CrawlSettings,
    client: httpx.AsyncClient,
    *,
    found_via: str,
    depth: int,
    max_bytes: int,
    retry: RetryPolicy,
) -> PageSnapshot:
    read_types = HTML_TYPES | TEXT_TYPES
    body = await _fetch_body(
        url, settings, client, max_bytes=max_bytes, read_types=read_types, retry=retry
    )
    return await _snapshot(url, body, found_via=found_via, depth=depth)


async def fetch_page(
    url: str,
    settings: CrawlSettings,
    *,
    client: httpx.AsyncClient | None = None,
    found_via: str = "seed",
    depth: int = 0,
    retry: RetryPolicy = DEFAULT_RETRY,
    check_robots: bool = True,
) -> PageSnapshot:
    """Fetch one page, guarded; never raises for network or HTTP failures.

    With `check_robots` (and settings.respect_robots) the origin's robots.txt is read first
    and a disallowed URL comes back with error "disallowed by robots.txt", unfetched.
    Pass a client from `make_client` (or none): another client skips origin_overrides.
    """
    async with _client_for(settings, client) as http:
        if check_robots and settings.respect_robots and site_key(url):
            rules = await load_robots(url, settings, http, retry=retry)
            if not rules.allows(url):
                return PageSnapshot(
                    url=url, requested_url=url, depth=depth, found_via=found_via,
                    error="disallowed by robots.txt",
                )  # fmt: skip
        return await _fetch_snapshot(
            url, settings, http, found_via=found_via, depth=depth,
            max_bytes=settings.max_bytes_per_page, retry=retry,
        )  # fmt: skip


# -- robots.txt and sitemaps ---------------------------------------------------------------


@dataclass
class RobotRules:
    """A site's robots.txt as it applies to our user agent (everything allowed if none)."""

    user_agent: str
    parser: RobotFileParser | None = None
    bytes_read: int = 0

    @property
    def found(self) -> bool:
        """True when the site served a robots.txt."""
        return self.parser is not None

    @property
    def sitemaps(self) -> list[str]:
        """Sitemap URLs the robots.txt lists."""
        return list(self.parser.site_maps() or []) if self.parser else []

    def allows(self, url: str) -> bool:
        """May our user agent fetch this URL?"""
        return self.parser is None or self.parser.can_fetch(self.user_agent, url)


async def load_robots(
    url: str,
    settings: CrawlSettings,
    client: httpx.AsyncClient,
    *,
    retry: RetryPolicy = DEFAULT_RETRY,
) -> RobotRules:
    """Read the robots.txt of url's origin; a missing or failing one allows everything."""
    body = await _fetch_body(
        urljoin(origin_of(url), "/robots.txt"), settings, client,
        max_bytes=ROBOTS_MAX_BYTES, read_types=None, retry=retry,
    )  # fmt: skip
    rules = RobotRules(settings.user_agent, bytes_read=len(body.data))
    if body.error is None and body.status is not None and 200 <= body.status < 300:
        rules.parser = RobotFileParser()
        rules.parser.parse(body.data.decode("utf-8", errors="replace").splitlines())
    return rules


def parse_sitemap(data: bytes) -> tuple[bool, list[str]]:
    """(is a sitemap index, the <loc> URLs) of a sitemap or sitemap index, gzipped or not."""
    if data[:2] == b"\x1f\x8b":  # sitemap.xml.gz; the cap keeps a zip bomb small
        try:
            data = zlib.decompressobj(wbits=31).decompress(data, SITEMAP_MAX_BYTES)
        except zlib.error:
            return False, []
    # lxml >= 5 resolves no external entities by default, so untrusted XML is safe here.
    soup = BeautifulSoup(data, "xml")
    locations = soup.find_all("loc", limit=MAX_SITEMAP_URLS)
    urls = [" ".join(loc.get_text().split()) for loc in locations]
    return soup.find("sitemapindex") is not None, [url for url in urls if url]


# -- the crawl -----------------------------------------------------------------------------


@dataclass(order=True)
class _Candidate:
    priority: int
    depth: int
    seq: int
    url: str = field(compare=False)
    found_via: str = field(compare=False)


class _Crawl:
    """One crawl's state: frontier, dedupe set, budgets, and the report being built."""

    def __init__(
        self,
        start_url: str,
        settings: CrawlSettings,
        client: httpx.AsyncClient,
        retry: RetryPolicy,
    ) -> None:
        self.settings, self.client, self.retry = settings, client, retry
        self.report = CrawlReport(start_url=start_url)
        self.robots = RobotRules(settings.user_agent)
        self.sites = {site_key(start_url)}
        self.frontier: list[_Candidate] = []
        self.order = itertools.count()  # discovery order breaks ties
        self.seen: set[str] = set()
        self.fetched: set[str] = set()
        self.reserved = 0  # bytes that in-flight fetches may still read
        self.scheduled = 0
        self.ranked: list[tuple[int, PageSnapshot]] = []  # (order fetch started, page)
        loop = asyncio.get_running_loop()
        self.started = loop.time()
        self.deadline = self.started + settings.time_budget_s

    # budgets -------------------------------------------------------------------------

    def time_left(self) -> float:
        return self.deadline - asyncio.get_running_loop().time()

    def bytes_left(self) -> int:
        return self.settings.max_total_bytes - self.report.total_bytes - self.reserved

    def stop(self, reason: str) -> None:
        self.report.stopped_because = self.report.stopped_because or reason

    def skip(self, url: str, reason: str) -> None:
        if len(self.report.skipped) < MAX_SKIPPED_RECORDED:
            self.report.skipped.setdefault(url, reason)

    # frontier ------------------------------------------------------------------------

    def enqueue(self, url: str, depth: int, found_via: str, anchor: str = "") -> None:
        """Queue a same-site URL once, unless too deep or disallowed by robots.txt."""
        if depth > self.settings.max_depth or site_key(url) not in self.sites:
            return
        key = dedupe_key(url)
        if key in self.seen:
            return
        self.seen.add(key)
        if not self.robots.allows(url):
            self.skip(url, "robots.txt")
            return
        priority = -1 if found_via == "seed" else link_priority(url, anchor)
        candidate = _Candidate(priority, depth, next(self.order), url, found_via)
        heapq.heappush(self.frontier, candidate)

    def record(self, rank: int, page: PageSnapshot) -> None:
        """Keep a fetched page (`rank`: its place in the fetch order) and queue its links."""
        self.report.total_bytes += page.bytes
        if page.found_via == "seed" and page.ok:
            # A start page that redirects to another host makes that host the site too.
            self.sites.add(site_key(page.url))
        final_key = dedupe_key(page.url)
        if final_key in self.fetched:  # two URLs redirecting to one page
            return
        self.fetched.add(final_key)
        self.seen.add(final_key)
        self.ranked.append((rank, page))
        if page.ok:
            for link in page.links:
                self.enqueue(link.url, page.depth + 1, "link", link.text)

    # scheduling ----------------------------------------------------------------------

    def next_fetch(self) -> tuple[_Candidate, int] | None:
        """The best candidate and its byte allowance, or None when nothing may start now."""
        if not self.frontier:
            return None
        if self.time_left() <= 0:
            self.stop("time_budget")
            return None
        if self.scheduled >= self.settings.max_pages:
            self.stop("max_pages")
            return None
        allowance = min(self.settings.max_bytes_per_page, self.bytes_left())
        if allowance <= 0:
            if self.reserved == 0:
                self.stop("max_total_bytes")
            return None
        self.scheduled += 1
        self.reserved += allowance
        return heapq.heappop(self.frontier), allowance

    async def fetch(self, candidate: _Candidate, allowance: int) -> PageSnapshot:
        try:
            return await _fetch_snapshot(
                candidate.url, self.settings, self.client, found_via=candidate.found_via,
                depth=candidate.depth, max_bytes=allowance, retry=self.retry,
            )  # fmt: skip
        finally:
            self.reserved -= allowance

    async def fetch_first(self, candidate: _Candidate, allowance: int) -> PageSnapshot:
        """The start page, within the crawl's time budget (a hung site must not outlast it)."""
        try:
            async with asyncio.timeout(max(self.time_left(), 0)):
                return await self.fetch(candidate, allowance)
        except TimeoutError:
            self.stop("time_budget")
            return PageSnapshot(
                url=candidate.url, requested_url=candidate.url, depth=candidate.depth,
                found_via=candidate.found_via, error="timed out (crawl time budget)",
            )  # fmt: skip

    async def run_pages(self) -> None:
        """Fetch the frontier best-first, in waves of up to `concurrency`, within the budgets.

        A wave's pages are recorded (and their links queued) in the order their fetches
        started, once the whole wave is in: which pages a crawl keeps then depends only on
        the site, never on which response happened to arrive first, so the same site gives
        the same crawl (and the same input hashes) every time.
        """
        while True:
            running: dict[asyncio.Task[PageSnapshot], tuple[int, str]] = {}
            while len(running) < self.settings.concurrency and (job := self.next_fetch()):
                running[asyncio.create_task(self.fetch(*job))] = (self.scheduled, job[0].url)
            if not running:
                return
            done, pending = await asyncio.wait(running, timeout=max(self.time_left(), 0))
            finished = sorted((running[task][0], task) for task in done)
            for rank, task in finished:
                self.record(rank, task.result())
            if pending:
                await self.abandon({task: running[task] for task in pending})
                return

    async def abandon(self, running: dict[asyncio.Task[PageSnapshot], tuple[int, str]]) -> None:
        """The time budget ran out: cancel what is in flight and say so."""
        self.stop("time_budget")
        for task, (_rank, url) in running.items():
            task.cancel()
            self.skip(url, "time budget")
        await asyncio.gather(*running, return_exceptions=True)

    # robots and sitemaps -------------------------------------------------------------

    async def load_robots(self) -> None:
        if not self.settings.respect_robots:
            return
        try:
            async with asyncio.timeout(max(self.time_left(), 0)):
                self.robots = await load_robots(
                    self.report.start_url, self.settings, self.client, retry=self.retry
                )
        except TimeoutError:
            return  # as if there were none
        self.report.robots_found = self.robots.found
        self.report.total_bytes += self.robots.bytes_read

    async def load_sitemaps(self) -> None:
        default = urljoin(origin_of(self.report.start_url), "/sitemap.xml")
        queue = list(dict.fromkeys([default, *self.robots.sitemaps]))
        try:
            async with asyncio.timeout(max(self.time_left(), 0)):
                await self._read_sitemaps(queue)
        except TimeoutError:
            self.stop("time_budget")

    async def _read_sitemaps(self, queue: list[str]) -> None:
        files = 0
        while queue and files < MAX_SITEMAP_FILES and self.report.sitemap_urls < MAX_SITEMAP_URLS:
            url = queue.pop(0)
            files += 1
            if site_key(url) not in self.sites:
                continue
            if self.bytes_left() <= 0:
                self.stop("max_total_bytes")
                return
            body = await _fetch_body(
                url, self.settings, self.client, retry=self.retry, read_types=None,
                max_bytes=min(self.settings.max_bytes_per_page, self.bytes_left()),
            )  # fmt: skip
            self.report.total_bytes += len(body.data)
            if body.error is not None or body.status is None or body.status >= 300:
                continue
            is_index, locations = parse_sitemap(body.data)
            if is_index:
                queue.extend(locations)
                continue
            for location in locations[: MAX_SITEMAP_URLS - self.report.sitemap_urls]:
                self.report.sitemap_urls += 1
                self.enqueue(location, 1, "sitemap")

    async def run(self) -> CrawlReport:
        """robots.txt, the start page, sitemaps, then the frontier best-first."""
        await self.load_robots()
        self.enqueue(self.report.start_url, 0, "seed")
        seed = self.next_fetch()
        if seed is None:
            self.stop("robots.txt disallows the start page")
        else:
            # The start page first and alone: a redirect there decides the site's hosts.
            start_page = await self.fetch_first(*seed)
            self.record(self.scheduled, start_page)
            if start_page.status is not None:  # no answer at all: no sitemap either
                await self.load_sitemaps()
            await self.run_pages()
        # Pages finish in any order; report them in the order they were chosen (stable).
        self.report.pages = [page for _rank, page in sorted(self.ranked, key=lambda r: r[0])]
        self.report.elapsed_s = asyncio.get_running_loop().time() - self.started
        return self.report


async def crawl_site(
    start_url: str,
    settings: CrawlSettings,
    *,
    client: httpx.AsyncClient | None = None,
    retry: RetryPolicy = DEFAULT_RETRY,
) -> CrawlReport:
    """Crawl one merchant site within `settings`' limits; ValueError for a bad start URL."""
    start_url = validate_start_url(start_url)
    async with _client_for(settings, client) as http:
        return await _Crawl(start_url, settings, http, retry).run()
