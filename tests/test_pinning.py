"""The pinning backend's streams: httpcore's pool reads their readability to drop dead
connections, so the cheap answer given here must be the socket's real state."""

from __future__ import annotations

import asyncio
import ipaddress

import httpcore
import pytest

from tools import pinning
from tools.pinning import PinnedBackend


async def _server() -> tuple[asyncio.Server, int, asyncio.Queue[asyncio.StreamWriter]]:
    accepted: asyncio.Queue[asyncio.StreamWriter] = asyncio.Queue()

    async def on_connect(_reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await accepted.put(writer)

    server = await asyncio.start_server(on_connect, "127.0.0.1", 0)
    return server, server.sockets[0].getsockname()[1], accepted


async def _settle() -> None:
    for _ in range(50):  # loopback delivery is quick, but not synchronous
        await asyncio.sleep(0.01)


async def test_is_readable_follows_the_socket() -> None:
    server, port, accepted = await _server()
    async with server:
        pins = PinnedBackend()
        pins.approve("site.test", port, [ipaddress.ip_address("127.0.0.1")])
        stream = await pins.connect_tcp("site.test", port)
        peer = await accepted.get()
        assert stream.get_extra_info("is_readable") is False  # idle, nothing to read
        assert stream.get_extra_info("socket") is not None  # other questions pass through
        peer.write(b"x")
        await peer.drain()
        await _settle()
        assert stream.get_extra_info("is_readable") is True
        assert await stream.read(10) == b"x"
        assert stream.get_extra_info("is_readable") is False
        peer.close()  # the server hung up: the pool must see the connection as expired
        await _settle()
        assert stream.get_extra_info("is_readable") is True
        await stream.aclose()
        assert stream.get_extra_info("is_readable") is True  # closed: no file descriptor
        assert list(pins.dialled) == [("127.0.0.1", port)]


async def test_the_dial_record_stays_bounded_over_a_long_run(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """One client serves a whole batch run: the dial spy keeps only the latest attempts."""
    monkeypatch.setattr(pinning, "MAX_PINNED_HOSTS", 3)
    pins = PinnedBackend()
    for port in range(1, 6):  # nothing listens on ports 1-5 of this address: each dial fails
        pins.approve("gone.test", port, [ipaddress.ip_address("127.0.0.1")])
        with pytest.raises(httpcore.ConnectError):
            await pins.connect_tcp("gone.test", port)
    assert list(pins.dialled) == [("127.0.0.1", port) for port in (3, 4, 5)]
