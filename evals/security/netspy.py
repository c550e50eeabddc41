"""Watching the network in the security suite: fake DNS, counting listeners, dial spy.

- `fake_dns` answers chosen names with chosen addresses (hostile names use the reserved
  `.test` TLD), by wrapping `socket.getaddrinfo`, which asyncio's resolver calls; every
  lookup is counted, so a test can see that a name was resolved once and never again.
- `Listener` is a TCP server on a loopback address that counts the connections it gets:
  a hostile target that points at it proves "no request left" by a count of zero.
- `SpyBackend` is an httpcore network backend that records each dial before making it;
  under `tools.pinning.PinnedBackend` it sees every socket the crawler opens.
"""

from __future__ import annotations

import asyncio
import socket
import typing
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any

import httpcore

# Answers for names: a list of addresses, or a callable giving the answer per lookup number.
Answer = Sequence[str] | typing.Callable[[int], Sequence[str]]


@dataclass
class DnsLog:
    """Every lookup of a faked name, in order."""

    lookups: list[str] = field(default_factory=list)

    def count(self, name: str) -> int:
        return sum(1 for looked in self.lookups if looked == name)


@contextmanager
def fake_dns(answers: Mapping[str, Answer]) -> Iterator[DnsLog]:
    """Resolve the given names to the given addresses; every other name as usual."""
    real = socket.getaddrinfo
    log = DnsLog()
    names = {name.lower(): answer for name, answer in answers.items()}

    def getaddrinfo(host: Any, port: Any, *args: Any, **kwargs: Any) -> Any:
        name = host.decode() if isinstance(host, bytes) else str(host or "")
        answer = names.get(name.lower().rstrip("."))
        if answer is None:
            return real(host, port, *args, **kwargs)
        log.lookups.append(name.lower().rstrip("."))
        addresses = answer(log.count(name.lower().rstrip("."))) if callable(answer) else answer
        return [_info(address, port) for address in addresses]

    socket.getaddrinfo = getaddrinfo
    try:
        yield log
    finally:
        socket.getaddrinfo = real


def _info(address: str, port: Any) -> tuple[Any, ...]:
    number = int(port) if port not in (None, "") else 0
    if ":" in address:
        return (socket.AF_INET6, socket.SOCK_STREAM, 6, "", (address, number, 0, 0))
    return (socket.AF_INET, socket.SOCK_STREAM, 6, "", (address, number))


class Listener:
    """A loopback TCP server that counts connections and answers each with a small page."""

    def __init__(self, host: str = "127.0.0.1") -> None:
        self.host = host
        self.connections = 0
        self._server: asyncio.Server | None = None

    @property
    def port(self) -> int:
        assert self._server is not None, "use `async with Listener()`"
        return int(self._server.sockets[0].getsockname()[1])

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        body = b"<html><body><p>internal service: you should not see this</p></body></html>"
        head = f"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: {len(body)}\r\n"
        writer.write(head.encode() + b"Connection: close\r\n\r\n" + body)
        try:
            await writer.drain()
        finally:
            writer.close()

    async def __aenter__(self) -> Listener:
        self._server = await asyncio.start_server(self._serve, self.host, 0)
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()


class SpyBackend(httpcore.AsyncNetworkBackend):
    """Records every TCP dial (address, port), then makes it with the real backend."""

    def __init__(self) -> None:
        self._inner = httpcore.AnyIOBackend()
        self.dials: list[tuple[str, int]] = []

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,  # noqa: ASYNC109 - httpcore's interface
        local_address: str | None = None,
        socket_options: typing.Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        """Record, then dial."""
        self.dials.append((host, port))
        return await self._inner.connect_tcp(
            host, port, timeout=timeout, local_address=local_address, socket_options=socket_options
        )

    async def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,  # noqa: ASYNC109 - httpcore's interface
        socket_options: typing.Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        """Recorded as a dial to the path; then refused."""
        self.dials.append((path, 0))
        raise httpcore.ConnectError("no unix sockets in the security suite")

    async def sleep(self, seconds: float) -> None:
        """Delegate."""
        await self._inner.sleep(seconds)
