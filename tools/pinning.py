"""Connect only to addresses the SSRF guard checked (no second DNS lookup, no rebinding).

`tools.netguard.check_url` resolves a host and refuses it unless every address is
allowed. If the connection then resolved the name again, a DNS server answering a public
address to the check and 127.0.0.1 to the connect (DNS rebinding) would get through. So
the crawler's transport uses `PinnedBackend` under httpcore: the guard records the
addresses it approved for each (host, port) and `connect_tcp` dials those IP literals,
never the name. A host the guard did not approve is not dialled at all.

URLs, the Host header and TLS (SNI and certificate checks name the logical host) are
untouched: only the socket's destination is pinned, so httpcore's per-origin connection
pool still keeps one site's connections apart from another's.
"""

from __future__ import annotations

import ipaddress
import select
import socket
import ssl
import typing
from collections import OrderedDict, deque
from collections.abc import Iterable

import httpcore
import httpx

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
MAX_PINNED_HOSTS = 4096  # a long batch run reuses one client: keep the table bounded
# The limits httpx uses by default (httpx.AsyncClient's own are not reachable from here).
DEFAULT_LIMITS = httpx.Limits(max_connections=100, max_keepalive_connections=20)


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


def pinned_transport(
    backend: PinnedBackend, ssl_context: ssl.SSLContext | None = None
) -> httpx.AsyncHTTPTransport:
    """httpx's own transport with `backend` underneath its connection pool.

    httpx.AsyncHTTPTransport takes no network backend, so its pool is replaced by an
    equivalent one built on `backend` (same TLS defaults and limits, no retries).
    `ssl_context` replaces the default trust store (tests trust their own CA with it).
    """
    transport = httpx.AsyncHTTPTransport(retries=0)
    transport._pool = httpcore.AsyncConnectionPool(
        ssl_context=ssl_context or httpx.create_ssl_context(),
        max_connections=DEFAULT_LIMITS.max_connections,
        max_keepalive_connections=DEFAULT_LIMITS.max_keepalive_connections,
        keepalive_expiry=DEFAULT_LIMITS.keepalive_expiry,
        network_backend=backend,
    )
    return transport
