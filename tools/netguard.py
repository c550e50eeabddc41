"""SSRF guard: decide whether a URL may be fetched before any connection is made.

A merchant's website is untrusted: its links and redirects may point at the processor's
own network (cloud metadata at 169.254.169.254, 10.x services, localhost admin ports).
`check_url` refuses such destinations; `GuardedTransport` applies the check (and the
`origin_overrides` routing) to every request an httpx client sends, redirect hops included.

DNS rebinding: the check resolves the name once; given a `tools.pinning.PinnedBackend`
(the crawler's `make_client` always gives one) the transport records the checked addresses
and the connection dials exactly those, so a second, different DNS answer is never used.
"""

from __future__ import annotations

import asyncio
import functools
import ipaddress
import socket
from dataclasses import dataclass
from urllib.parse import SplitResult, urlsplit

import httpx

from merchant_review.settings import CrawlSettings
from tools.pinning import PinnedBackend

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

ALLOWED_SCHEMES = frozenset({"http", "https"})
_DEFAULT_PORTS = {"http": 80, "https": 443}
# IPv6 prefixes that carry an IPv4 address inside: the embedded one decides.
_NAT64 = ipaddress.IPv6Network("64:ff9b::/96")


class BlockedDestination(Exception):
    """A URL the crawler refuses to fetch (bad scheme, private or reserved address)."""

    def __init__(self, url: str, reason: str) -> None:
        super().__init__(f"blocked {url}: {reason}")
        self.url = url
        self.reason = reason


class UnresolvableHost(Exception):
    """The destination's name did not resolve (a network failure, not a policy refusal)."""


@dataclass(frozen=True)
class Destination:
    """Where a logical URL's request actually goes, after overrides and DNS."""

    scheme: str
    host: str
    port: int
    addresses: tuple[IPAddress, ...]
    overridden: bool


def override_origin(host: str, settings: CrawlSettings) -> str | None:
    """The override origin for a host; `www.HOST` follows `HOST` when only that is listed."""
    if not settings.origin_overrides:
        return None
    host = host.lower().rstrip(".")
    overrides = _lowered(settings.origin_overrides)
    return overrides.get(host) or overrides.get(host.removeprefix("www."))


def _lowered(overrides: dict[str, str]) -> dict[str, str]:
    """`overrides` keyed by lower-case name, rebuilt only when the mapping changed.

    Every request is checked, and a benchmark or eval run overrides hundreds of hosts:
    lower-casing the whole table for each request cost more than the check itself.
    """
    global _LOWERED
    source, snapshot, lowered = _LOWERED
    if source is not overrides or snapshot != overrides:  # another, or a changed, mapping
        snapshot = dict(overrides)
        lowered = {name.lower(): origin for name, origin in snapshot.items()}
        _LOWERED = (overrides, snapshot, lowered)
    return lowered


_LOWERED: tuple[dict[str, str] | None, dict[str, str], dict[str, str]] = (None, {}, {})


def embedded_ipv4(ip: IPAddress) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 one stands for (mapped, 6to4, NAT64), if any."""
    if isinstance(ip, ipaddress.IPv4Address):
        return None
    if ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    if ip.sixtofour is not None:
        return ip.sixtofour
    if ip in _NAT64:
        return ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
    return None


def is_public_address(ip: IPAddress) -> bool:
    """True for globally routable unicast addresses; private, loopback, link-local,
    multicast, reserved, unspecified and shared (CGNAT) space are all not public."""
    inner = embedded_ipv4(ip)
    if inner is not None:
        return is_public_address(inner)
    return ip.is_global and not ip.is_multicast


def _parse_allow_list(entries: list[str]) -> tuple[frozenset[str], tuple[IPNetwork, ...]]:
    return _parsed_allow_list(tuple(entries))


@functools.lru_cache(maxsize=64)  # parsed once per list, not at every request
def _parsed_allow_list(entries: tuple[str, ...]) -> tuple[frozenset[str], tuple[IPNetwork, ...]]:
    names: set[str] = set()
    networks: list[IPNetwork] = []
    for entry in entries:
        entry = entry.strip().strip("[]")
        try:
            networks.append(ipaddress.ip_network(entry, strict=False))
        except ValueError:
            names.add(entry.lower().rstrip("."))
    return frozenset(names), tuple(networks)


def _split(url: str) -> SplitResult:
    parts = urlsplit(url.strip())
    if parts.scheme.lower() not in ALLOWED_SCHEMES:
        raise BlockedDestination(url, f"scheme {parts.scheme or '(none)'!r} is not http(s)")
    if not parts.hostname:
        raise BlockedDestination(url, "no host name")
    try:
        parts.port  # noqa: B018 - raises ValueError on a malformed port
    except ValueError as exc:
        raise BlockedDestination(url, "invalid port") from exc
    return parts


def _destination_parts(url: str, settings: CrawlSettings) -> tuple[str, str, int, bool]:
    parts = _split(url)
    host = parts.hostname or ""
    origin = override_origin(host, settings)
    if origin is not None:
        parts = _split(origin)
        host = parts.hostname or ""
    scheme = parts.scheme.lower()
    # "name." is the same name as "name"; resolving the dotted form can miss /etc/hosts.
    return scheme, host.rstrip("."), parts.port or _DEFAULT_PORTS[scheme], origin is not None


def _literal(host: str) -> IPAddress | None:
    try:
        return ipaddress.ip_address(host)
    except ValueError:
        return None


async def resolve(host: str, port: int, timeout_s: float) -> tuple[IPAddress, ...]:
    """All addresses a host name resolves to, without blocking the event loop."""
    literal = _literal(host)
    if literal is not None:  # what getaddrinfo would answer, without its thread hop
        return (literal,)
    loop = asyncio.get_running_loop()
    try:
        async with asyncio.timeout(timeout_s):
            infos = await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError, TimeoutError) as exc:
        raise UnresolvableHost(f"cannot resolve {host!r}: {exc or 'timed out'}") from exc
    # A scoped IPv6 address comes back as "fe80::1%eth0": the zone is not part of the IP.
    return tuple(ipaddress.ip_address(str(info[4][0]).split("%")[0]) for info in infos)


async def check_url(url: str, settings: CrawlSettings) -> Destination:
    """Resolve where `url` would connect and refuse it unless every address is allowed.

    Raises BlockedDestination (policy) or UnresolvableHost (DNS failure).
    """
    scheme, host, port, overridden = _destination_parts(url, settings)
    names, networks = _parse_allow_list(settings.allow_private)
    logical = (urlsplit(url.strip()).hostname or "").rstrip(".")  # before any override
    addresses = await resolve(host, port, settings.request_timeout_s)
    if not addresses:
        raise UnresolvableHost(f"{host!r} resolved to no address")
    if names & {logical, logical.removeprefix("www."), host}:
        return Destination(scheme, host, port, addresses, overridden)
    for address in addresses:
        allowed = any(address.version == net.version and address in net for net in networks)
        if not allowed and not is_public_address(address):
            how = "is a" if _literal(host) == address else f"resolves to {address}, a"
            raise BlockedDestination(url, f"{host} {how} non-public address")
    return Destination(scheme, host, port, addresses, overridden)


class GuardedTransport(httpx.AsyncBaseTransport):
    """Checks every request with `check_url` and routes overridden hosts to their origin.

    An overridden request keeps its logical URL for the caller (httpx attaches the original
    request to the response) and its Host header; only the connection goes elsewhere.
    """

    def __init__(
        self,
        settings: CrawlSettings,
        inner: httpx.AsyncBaseTransport,
        pins: PinnedBackend | None = None,
    ) -> None:
        self._settings = settings
        self._inner = inner
        self._pins = pins  # the backend under `inner` that dials only checked addresses

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        """Refuse blocked destinations, then send through the wrapped transport."""
        try:
            destination = await check_url(str(request.url), self._settings)
        except UnresolvableHost as exc:
            # An httpx error, so callers (and retries) treat it as the connect failure it is.
            raise httpx.ConnectError(str(exc), request=request) from exc
        if self._pins is not None:
            self._pins.approve(destination.host, destination.port, destination.addresses)
        if not destination.overridden:
            return await self._inner.handle_async_request(request)
        return await self._inner.handle_async_request(_rerouted(request, destination))

    async def aclose(self) -> None:
        """Close the wrapped transport's connections."""
        await self._inner.aclose()


def _rerouted(request: httpx.Request, destination: Destination) -> httpx.Request:
    url = request.url.copy_with(
        scheme=destination.scheme, host=destination.host, port=destination.port
    )
    extensions = dict(request.extensions)
    if destination.scheme == "https":
        # TLS to an override origin still names (and verifies) the logical host.
        extensions["sni_hostname"] = request.url.host
    # The headers already carry the logical Host, which the new Request keeps.
    return httpx.Request(
        request.method, url, headers=request.headers, stream=request.stream, extensions=extensions
    )
