"""The crawler's per-site connection pools (tools.pinning.OriginPools): one small pool per
site, a per-site connection cap, a bounded table whose evicted pools are closed, and
`aclose` closing them all. Servers listen on 127.0.0.1 only; names are pinned by hand."""

from __future__ import annotations

import asyncio
import ipaddress
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

import httpx
import pytest

from merchant_review.settings import CrawlSettings
from tools import pinning
from tools.crawler import make_client
from tools.pinning import PinnedBackend, PinnedTransport

LOCAL = ipaddress.ip_address("127.0.0.1")


@dataclass
class KeepAliveServer:
    """An HTTP/1.1 server that keeps connections open and records what it saw."""

    port: int = 0
    hosts: list[str] = field(default_factory=list)  # Host header of each request
    opened: int = 0
    closed: int = 0
    arrived: asyncio.Queue[None] = field(default_factory=asyncio.Queue)
    gate: asyncio.Event = field(default_factory=asyncio.Event)  # answers wait for it

    async def serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.opened += 1
        try:
            while True:
                lines = []
                while (line := await reader.readline()) not in (b"\r\n", b"\n", b""):
                    lines.append(line.decode())
                if not lines:
                    return  # the client hung up
                host = next(ln for ln in lines if ln.lower().startswith("host:"))
                self.hosts.append(host.split(":", 1)[1].strip())
                self.arrived.put_nowait(None)
                await self.gate.wait()
                writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
                await writer.drain()
        except ConnectionError:
            pass
        finally:
            self.closed += 1
            writer.close()


@asynccontextmanager
async def keep_alive_server(*, gated: bool = False) -> AsyncIterator[KeepAliveServer]:
    state = KeepAliveServer()
    if not gated:
        state.gate.set()
    server = await asyncio.start_server(state.serve, "127.0.0.1", 0)
    state.port = int(server.sockets[0].getsockname()[1])
    async with server:
        yield state
        server.close()


async def settle() -> None:
    for _ in range(50):  # loopback delivery is quick, but not synchronous
        await asyncio.sleep(0.01)


def client_for(
    pins: PinnedBackend, *, connections_per_host: int = 6, max_pools: int = 256
) -> tuple[httpx.AsyncClient, PinnedTransport]:
    transport = PinnedTransport(
        pins, connections_per_host=connections_per_host, max_pools=max_pools
    )
    return httpx.AsyncClient(transport=transport, timeout=5.0), transport


def pinned(*names_and_ports: tuple[str, int]) -> PinnedBackend:
    pins = PinnedBackend()
    for name, port in names_and_ports:
        pins.approve(name, port, [LOCAL])
    return pins


async def test_each_site_gets_its_own_pool_and_keeps_its_connection() -> None:
    async with keep_alive_server() as one, keep_alive_server() as two:
        pins = pinned(("one.test", one.port), ("two.test", two.port))
        client, transport = client_for(pins)
        async with client:
            for _ in range(2):
                for server, name in ((one, "one.test"), (two, "two.test")):
                    response = await client.get(f"http://{name}:{server.port}/")
                    assert response.text == "ok"
            pools = transport.pools.pools
            assert len(pools) == 2 and pools[0] is not pools[1]
            assert [len(pool.connections) for pool in pools] == [1, 1]
            assert (one.opened, two.opened) == (1, 1)  # the second round reused them
            assert pins.dialled.count(("127.0.0.1", one.port)) == 1


async def test_sites_sharing_an_override_origin_keep_apart() -> None:
    """origin_overrides send many sites to one server: each still has its own pool."""
    async with keep_alive_server() as server:
        settings = CrawlSettings(
            allow_private=["127.0.0.1"],
            origin_overrides={
                "shop-a.test": f"http://127.0.0.1:{server.port}",
                "shop-b.test": f"http://127.0.0.1:{server.port}",
            },
        )
        pins = PinnedBackend()
        transport = PinnedTransport(pins)
        async with make_client(settings, transport=transport, pins=pins) as client:
            for name in ("shop-a.test", "shop-b.test", "shop-a.test"):
                assert (await client.get(f"http://{name}/")).text == "ok"
            assert len(transport.pools.pools) == 2
        assert server.hosts == ["shop-a.test", "shop-b.test", "shop-a.test"]
        assert server.opened == 2
        assert set(pins.dialled) == {("127.0.0.1", server.port)}


async def test_a_site_never_gets_more_than_its_connection_cap() -> None:
    async with keep_alive_server(gated=True) as server:
        client, transport = client_for(pinned(("busy.test", server.port)), connections_per_host=2)
        async with client:
            url = f"http://busy.test:{server.port}/"
            requests = [asyncio.create_task(client.get(url)) for _ in range(3)]
            for _ in range(2):
                await server.arrived.get()
            await settle()
            assert server.opened == 2 and len(server.hosts) == 2  # the third one waits
            assert not any(request.done() for request in requests)
            server.gate.set()
            responses = await asyncio.gather(*requests)
            assert [response.text for response in responses] == ["ok"] * 3
            assert server.opened == 2  # the third request took a released connection
            (pool,) = transport.pools.pools
            assert len(pool.connections) == 2


async def test_the_least_recently_used_idle_pool_is_closed_beyond_the_bound() -> None:
    async with keep_alive_server() as server:
        names = ("a.test", "b.test", "c.test")
        pins = pinned(*((name, server.port) for name in names))
        client, transport = client_for(pins, max_pools=2)
        async with client:
            for name in names[:2]:
                await client.get(f"http://{name}:{server.port}/")
            first = transport.pools.pools[0]
            await client.get(f"http://a.test:{server.port}/")  # a is now the most recent
            await client.get(f"http://c.test:{server.port}/")
            assert len(transport.pools.pools) == 2
            assert first in transport.pools.pools  # b went, not a
            await settle()
            assert (server.opened, server.closed) == (3, 1)  # b's connection was closed


async def test_a_pool_with_a_request_in_flight_is_not_closed_by_the_bound() -> None:
    async with keep_alive_server() as server:
        names = ("slow.test", "next.test")
        pins = pinned(*((name, server.port) for name in names))
        client, transport = client_for(pins, max_pools=1)
        async with client:
            request = client.build_request("GET", f"http://slow.test:{server.port}/")
            open_response = await client.send(request, stream=True)  # body not read yet
            await client.get(f"http://next.test:{server.port}/")
            assert len(transport.pools.pools) == 2  # over the bound while slow.test is busy
            assert await open_response.aread() == b"ok"
            await open_response.aclose()
            await client.get(f"http://next.test:{server.port}/")  # prunes the idle slow.test
            assert len(transport.pools.pools) == 1
            await settle()
            assert (server.opened, server.closed) == (2, 1)


async def test_idle_pools_close_after_the_keep_alive_expiry(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    expiry = pinning.KEEPALIVE_EXPIRY_S
    assert expiry is not None
    now = [1000.0]
    monkeypatch.setattr(pinning, "monotonic", lambda: now[0])
    async with keep_alive_server() as server:
        names = ("old.test", "new.test")
        client, transport = client_for(pinned(*((name, server.port) for name in names)))
        async with client:
            await client.get(f"http://old.test:{server.port}/")
            now[0] += expiry + 1  # old.test idles past it
            await client.get(f"http://new.test:{server.port}/")
            assert len(transport.pools.pools) == 1
            now[0] += 1.5  # a sweep is due, new.test is still fresh
            await client.get(f"http://old.test:{server.port}/")
            assert len(transport.pools.pools) == 2
            await settle()
            assert (server.opened, server.closed) == (3, 1)


async def test_aclose_closes_every_pool() -> None:
    async with keep_alive_server() as server:
        names = ("a.test", "b.test")
        client, transport = client_for(pinned(*((name, server.port) for name in names)))
        async with client:
            for name in names:
                await client.get(f"http://{name}:{server.port}/")
            pools = transport.pools.pools
            assert server.opened == 2
        assert transport.pools.pools == []
        assert all(pool.connections == [] for pool in pools)
        await settle()
        assert server.closed == 2


async def test_no_pruning_pass_while_every_pool_over_the_bound_is_busy(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Over the bound with nothing idle, a request skips the table pass (which could close
    nothing): busy pools must not cost every request a scan of the table."""
    monkeypatch.setattr(pinning, "monotonic", lambda: 1000.0)  # no keep-alive sweep falls due
    passes: list[float] = []
    prune = pinning.OriginPools._prune

    async def counted(self: pinning.OriginPools, now: float) -> None:
        passes.append(now)
        await prune(self, now)

    monkeypatch.setattr(pinning.OriginPools, "_prune", counted)
    async with keep_alive_server() as server:
        names = ("a.test", "b.test", "c.test")
        pins = pinned(*((name, server.port) for name in names))
        client, transport = client_for(pins, max_pools=1)
        async with client:

            async def opened(name: str) -> httpx.Response:
                request = client.build_request("GET", f"http://{name}:{server.port}/")
                return await client.send(request, stream=True)  # the body stays unread

            held = [await opened(name) for name in names[:2]]
            assert passes == []  # b.test went over the bound while a.test was busy
            extra = await opened("a.test")
            assert passes == [] and len(transport.pools.pools) == 2
            for response in [*held, extra]:
                await response.aclose()
            await client.get(f"http://c.test:{server.port}/")  # idle pools now: one pass
            assert len(passes) == 1 and len(transport.pools.pools) == 1
