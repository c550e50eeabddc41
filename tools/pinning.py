"""Connect only to addresses the SSRF guard checked (no second DNS lookup, no rebinding).

`tools.netguard.check_url` resolves a host and refuses it unless every address is
allowed. If the connection then resolved the name again, a DNS server answering a public
address to the check and 127.0.0.1 to the connect (DNS rebinding) would get through. So
the crawler's transport uses `PinnedBackend` under httpcore: the guard records the
addresses it approved for each (host, port) and `connect_tcp` dials those IP literals,
never the name. A host the guard did not approve is not dialled at all.

URLs, the Host header and TLS (SNI and certificate checks name the logical host) are
untouched: only the socket's destination is pinned.

One client serves a whole batch run, so `PinnedTransport` gives every site its own small
httpcore pool (`OriginPools`) instead of one shared pool: httpcore's pool scans all of its
connections and queued requests on every request, which with a hundred reviews in flight
cost each request a pass over a hundred other sites' connections; a per-site cap also
keeps the crawler polite and stops one slow site's connections crowding out the others.
"""

from __future__ import annotations

import functools
import ipaddress
import logging
import select
import socket
import ssl
import typing
from collections import OrderedDict, deque
from collections.abc import AsyncIterable, AsyncIterator, Callable, Iterable
from time import monotonic
from types import TracebackType

import httpcore
import httpx

from merchant_review.settings import CrawlSettings

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
MAX_PINNED_HOSTS = 4096  # a long batch run reuses one client: keep the table bounded
# How long an idle connection is kept: httpx's default (5 s).
KEEPALIVE_EXPIRY_S = httpx.Limits().keepalive_expiry
# Connections open to one site at most: the setting's default (the crawler passes the
# configured value; this is for callers without settings).
CONNECTIONS_PER_HOST: int = CrawlSettings().connections_per_host
# Sites whose pools are kept: beyond it the least recently used idle pools are closed.
MAX_ORIGIN_POOLS = 256
_SWEEP_EVERY_S = 1.0  # how often idle pools are looked at for keep-alive expiry
_DEFAULT_PORTS = {b"http": 80, b"https": 443}

logger = logging.getLogger(__name__)


def _key(host: str, port: int) -> tuple[str, int]:
    return host.strip("[]").lower().rstrip("."), port


class PinnedBackend(httpcore.AsyncNetworkBackend):
    """An httpcore network backend that dials only guard-approved addresses."""

    def __init__(self, inner: httpcore.AsyncNetworkBackend | None = None) -> None:
        self._inner = inner or httpcore.AnyIOBackend()
        self._approved: OrderedDict[tuple[str, int], tuple[str, ...]] = OrderedDict()
        # (address, port) of the latest connect attempts (tests spy on it); bounded because
        # one client serves a whole batch run.
        self.dialled: deque[tuple[str, int]] = deque(maxlen=MAX_PINNED_HOSTS)

    def approve(self, host: str, port: int, addresses: Iterable[IPAddress]) -> None:
        """Record the checked addresses `host:port` may be reached at (latest check wins)."""
        key = _key(host, port)
        self._approved[key] = tuple(str(address) for address in addresses)
        self._approved.move_to_end(key)
        while len(self._approved) > MAX_PINNED_HOSTS:
            self._approved.popitem(last=False)

    def approved(self, host: str, port: int) -> tuple[str, ...]:
        """The addresses approved for host:port (empty when the guard never checked it)."""
        return self._approved.get(_key(host, port), ())

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,  # noqa: ASYNC109 - httpcore's interface
        local_address: str | None = None,
        socket_options: typing.Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        """Dial the approved addresses in order; never the name, never an unchecked host."""
        addresses = self.approved(host, port)
        if not addresses:
            raise httpcore.ConnectError(f"{host}:{port} was not checked by the SSRF guard")
        last: Exception | None = None
        for address in addresses:
            self.dialled.append((address, port))
            try:
                stream = await self._inner.connect_tcp(
                    address, port, timeout=timeout, local_address=local_address,
                    socket_options=socket_options,
                )  # fmt: skip
                return _PooledStream(stream)
            except (httpcore.ConnectError, httpcore.ConnectTimeout) as exc:
                last = exc  # try the next approved address, as a resolver-driven dial would
        raise last or httpcore.ConnectError(f"no address for {host}:{port}")

    async def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,  # noqa: ASYNC109 - httpcore's interface
        socket_options: typing.Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        """Never: the crawler only speaks TCP to checked addresses."""
        raise httpcore.ConnectError("unix sockets are not reachable through the crawler")

    async def sleep(self, seconds: float) -> None:
        """Delegate (httpcore uses it between its own retries)."""
        await self._inner.sleep(seconds)


def _readable(sock: socket.socket | None) -> bool:
    """Would a read return at once? (data, or the b"" of a peer that hung up)"""
    fd = sock.fileno() if sock is not None else -1
    if fd < 0:
        return True  # a closed socket: the next read ends the connection
    poller = select.poll()
    poller.register(fd, select.POLLIN)
    return bool(poller.poll(0))


class _PooledStream(httpcore.AsyncNetworkStream):
    """The dialled stream, with a cheap "is_readable" for httpcore's pool.

    Before every request httpcore's pool asks each idle connection whether it has
    expired, which asks the stream whether its socket is readable; anyio answers by
    building its whole table of socket attributes (a getpeername system call among
    them) each time. The raw socket is looked up once here instead; the answer (a
    poll of that socket) is the same.
    """

    def __init__(self, inner: httpcore.AsyncNetworkStream) -> None:
        self._inner = inner
        self._socket: socket.socket | None = inner.get_extra_info("socket")

    async def read(self, max_bytes: int, timeout: float | None = None) -> bytes:  # noqa: ASYNC109
        return await self._inner.read(max_bytes, timeout)

    async def write(self, buffer: bytes, timeout: float | None = None) -> None:  # noqa: ASYNC109
        await self._inner.write(buffer, timeout)

    async def aclose(self) -> None:
        await self._inner.aclose()

    async def start_tls(
        self,
        ssl_context: ssl.SSLContext,
        server_hostname: str | None = None,
        timeout: float | None = None,  # noqa: ASYNC109 - httpcore's interface
    ) -> httpcore.AsyncNetworkStream:
        """TLS over the same socket (whose readability the wrapper keeps answering)."""
        tls = await self._inner.start_tls(ssl_context, server_hostname, timeout)
        return _PooledStream(tls)

    def get_extra_info(self, info: str) -> typing.Any:
        if info == "is_readable":
            return _readable(self._socket)
        return self._inner.get_extra_info(info)


_OriginKey = tuple[bytes, bytes, int | None, bytes, object]


def _origin_key(request: httpcore.Request) -> _OriginKey:
    """Where the connection goes (scheme, host, port as httpcore dials them) and which site
    it speaks for (the Host header and SNI name: an origin_overrides origin serves many)."""
    url = request.url
    host = b""
    for name, value in request.headers:
        if name.lower() == b"host":
            host = value
            break
    port = url.port or _DEFAULT_PORTS.get(url.scheme)
    return url.scheme, url.host, port, host, request.extensions.get("sni_hostname")


class _Origin:
    """One site's pool, the requests on it not yet finished, and when it was last used."""

    __slots__ = ("active", "key", "pool", "used")

    def __init__(self, key: _OriginKey, pool: httpcore.AsyncConnectionPool) -> None:
        self.key = key
        self.pool = pool
        self.active = 0  # requests sent whose response is not closed yet
        self.used = monotonic()


class _ReleasingStream:
    """A response body that tells its origin's table when it is closed (once)."""

    __slots__ = ("_inner", "_release")

    def __init__(self, inner: AsyncIterable[bytes], release: Callable[[], None]) -> None:
        self._inner = inner
        self._release: Callable[[], None] | None = release

    def __aiter__(self) -> AsyncIterator[bytes]:
        return self._inner.__aiter__()  # the pool's own stream: no per-chunk indirection

    async def aclose(self) -> None:
        release, self._release = self._release, None
        try:
            close = getattr(self._inner, "aclose", None)
            if close is not None:
                await close()  # the connection goes back to its pool first ...
        finally:
            if release is not None:
                release()  # ... then the pool may count as idle


class OriginPools:
    """httpcore's request interface over one small `AsyncConnectionPool` per site.

    A request goes to the pool of its origin as httpcore dials it (after the guard's
    rerouting) and of the site it speaks for (Host header, SNI): sites an origin_overrides
    origin serves together keep apart, as they would on the internet, and a TLS connection
    opened for one name never carries another site's request. Each pool holds at most
    `connections_per_host` connections (a third request to a site capped at two waits for
    one of them) and keeps them alive as httpx would (`KEEPALIVE_EXPIRY_S`).

    The table is bounded: a pool with no request in flight is closed once it has been idle
    past the keep-alive expiry, or when more than `max_pools` sites are held (least
    recently used first). A pool with requests in flight is never closed but by `aclose`.
    All pools share one network backend and one SSL context.
    """

    def __init__(
        self,
        backend: httpcore.AsyncNetworkBackend,
        ssl_context: ssl.SSLContext,
        *,
        connections_per_host: int = CONNECTIONS_PER_HOST,
        max_pools: int = MAX_ORIGIN_POOLS,
        keepalive_expiry: float | None = KEEPALIVE_EXPIRY_S,
    ) -> None:
        self._backend = backend
        self._ssl_context = ssl_context
        self._per_host = connections_per_host
        self._max_pools = max_pools
        self._expiry = keepalive_expiry
        self._origins: OrderedDict[_OriginKey, _Origin] = OrderedDict()  # least recent first
        self._idle = 0  # pools in the table with no request in flight
        self._next_sweep = monotonic() + _SWEEP_EVERY_S

    @property
    def pools(self) -> list[httpcore.AsyncConnectionPool]:
        """The pools held, least recently used first."""
        return [origin.pool for origin in self._origins.values()]

    async def handle_async_request(self, request: httpcore.Request) -> httpcore.Response:
        """Send `request` on its site's pool; the pool counts as busy until the response
        body is closed."""
        key = _origin_key(request)
        origin = self._origins.get(key)
        if origin is None:
            origin = self._origins[key] = _Origin(key, self._new_pool())
        else:
            self._origins.move_to_end(key)
            if not origin.active:
                self._idle -= 1
        origin.active += 1
        try:
            now = monotonic()
            # Over the bound, a pass is worth it only when some pool is idle (each pass then
            # closes one at least); otherwise once a second, for the keep-alive expiry.
            if (len(self._origins) > self._max_pools and self._idle) or now >= self._next_sweep:
                await self._prune(now)
            response = await origin.pool.handle_async_request(request)
        except BaseException:
            self._release(origin)
            raise
        response.stream = _ReleasingStream(
            typing.cast(AsyncIterable[bytes], response.stream),
            functools.partial(self._release, origin),
        )
        return response

    def _new_pool(self) -> httpcore.AsyncConnectionPool:
        return httpcore.AsyncConnectionPool(
            ssl_context=self._ssl_context,
            max_connections=self._per_host,
            max_keepalive_connections=self._per_host,
            keepalive_expiry=self._expiry,
            network_backend=self._backend,
            retries=0,  # the crawler retries (tenacity), httpcore does not
        )

    def _release(self, origin: _Origin) -> None:
        origin.active -= 1
        origin.used = monotonic()
        if self._origins.get(origin.key) is origin:  # not closed by aclose meanwhile
            self._origins.move_to_end(origin.key)
            if not origin.active:
                self._idle += 1

    async def _prune(self, now: float) -> None:
        """Close idle pools past the keep-alive expiry, and beyond `max_pools` (LRU)."""
        self._next_sweep = now + _SWEEP_EVERY_S
        cutoff = now - self._expiry if self._expiry is not None else float("-inf")
        excess = len(self._origins) - self._max_pools
        doomed: list[_Origin] = []
        for origin in self._origins.values():  # least recently used first
            if origin.active:
                continue  # busy: its requests keep it
            if origin.used >= cutoff and excess <= 0:
                break  # every pool after this one was used more recently
            doomed.append(origin)
            excess -= 1
        for origin in doomed:
            del self._origins[origin.key]
        self._idle -= len(doomed)
        for origin in doomed:
            await self._close(origin.pool)

    @staticmethod
    async def _close(pool: httpcore.AsyncConnectionPool) -> None:
        # Only idle connections are left in it (httpcore shields their closing from
        # cancellation); a failure to close them is not the failure of the request
        # that happened to trigger the clean-up.
        try:
            await pool.aclose()
        except Exception:
            logger.debug("closing an idle connection pool failed", exc_info=True)

    async def aclose(self) -> None:
        """Close every pool, in-flight requests included (the client is closing)."""
        origins = list(self._origins.values())
        self._origins.clear()
        self._idle = 0
        for origin in origins:
            await origin.pool.aclose()

    async def __aenter__(self) -> OriginPools:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None = None,
        exc_value: BaseException | None = None,
        traceback: TracebackType | None = None,
    ) -> None:
        await self.aclose()


@functools.cache
def _default_ssl_context() -> ssl.SSLContext:
    """httpx's default TLS context (certifi's trust store), built once per process:
    building one costs some 20 ms, and a single review makes a client per review."""
    return httpx.create_ssl_context()


class PinnedTransport(httpx.AsyncHTTPTransport):
    """The crawler's network transport: httpx's own, sending through one small pool per
    site over a `PinnedBackend`, which dials.

    `ssl_context` replaces the default trust store (tests trust their own CA with it); all
    pools share it. No retries in httpcore (the crawler retries with tenacity).
    """

    def __init__(
        self,
        backend: PinnedBackend,
        ssl_context: ssl.SSLContext | None = None,
        *,
        connections_per_host: int = CONNECTIONS_PER_HOST,
        max_pools: int = MAX_ORIGIN_POOLS,
    ) -> None:
        context = ssl_context or _default_ssl_context()
        super().__init__(verify=context, retries=0)  # given a context, httpx builds none
        self.pools = OriginPools(
            backend, context, connections_per_host=connections_per_host, max_pools=max_pools
        )
        # httpx's transport takes no network backend and keeps one pool for all origins.
        # Its pool attribute (private: there is no public hook) is all it sends through
        # (handle_async_request, aclose, __aenter__/__aexit__), so OriginPools stands in
        # for it while httpx keeps converting requests, responses and httpcore's errors.
        self._pool = self.pools  # type: ignore[assignment]
