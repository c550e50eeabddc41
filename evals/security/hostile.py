"""A hostile web server on 127.0.0.1: one misbehaviour per path, at the socket level.

http.server cannot drip bytes, reset a connection or hang forever on purpose, so this is
a small asyncio server that reads the request head and then does what the path asks:

    /timeout      never answers            /drip       headers, then a byte every 0.1 s
    /drip-head    the status line, slowly  /500, /503  server errors
    /reset        RST instead of an answer /loop-a     302 → /loop-b → /loop-a ...
    /huge         a 20 MB page             /bomb       gzip: 300 KB that inflates to 300 MB
    /binary       random bytes as HTML     /bad-charset   an unknown charset, invalid bytes
    /utf16-lie    UTF-16 declared as UTF-8 /malformed   broken markup
    /deep         50,000 nested elements   /ok         a small valid page

Anything else is 404 (robots.txt and sitemap.xml included).
"""

from __future__ import annotations

import asyncio
import gzip
import random
import socket
import struct
import zlib
from collections.abc import Awaitable, Callable
from functools import cache
from types import TracebackType

Writer = asyncio.StreamWriter
HUGE_BYTES = 20 * 1024 * 1024
BOMB_INFLATED = 300 * 1024 * 1024
DRIP_INTERVAL_S = 0.1


def _head(status: str, headers: dict[str, str]) -> bytes:
    lines = [f"HTTP/1.1 {status}", *(f"{k}: {v}" for k, v in headers.items())]
    return ("\r\n".join([*lines, "Connection: close"]) + "\r\n\r\n").encode()


def _page(body: bytes, content_type: str = "text/html; charset=utf-8") -> bytes:
    return _head("200 OK", {"Content-Type": content_type, "Content-Length": str(len(body))}) + body


@cache
def gzip_bomb() -> bytes:
    """A small HTML prefix and then zeros: ~300 KB on the wire, 300 MB inflated."""
    packer = zlib.compressobj(9, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
    parts = [packer.compress(b"<html><body><p>Welcome</p>")]
    block = b"\0" * (1024 * 1024)
    parts.extend(packer.compress(block) for _ in range(BOMB_INFLATED // len(block)))
    parts.append(packer.flush())
    return b"".join(parts)


def _binary() -> bytes:
    return random.Random(8).randbytes(256 * 1024)  # seeded: the same bytes every run


def _malformed() -> bytes:
    return (
        b"<html><head><title>Broken <b>shop</title><meta charset=><body><div><p>Gummies "
        b"<a href='/x\" onclick=>link<table><tr><td>cell<p>unclosed <!-- comment never "
        b"closed <script>var a = '</div>';</scr ipt><p>\x00null byte</p><<<>>>&&&;&#xFFFFFF;"
    )


def _deep() -> bytes:
    depth = 50_000
    return b"<html><body>" + b"<div>" * depth + b"deep text" + b"</div>" * depth + b"</body>"


async def _drip(writer: Writer, data: bytes, interval: float) -> None:
    for index in range(len(data)):
        writer.write(data[index : index + 1])
        await writer.drain()
        await asyncio.sleep(interval)


async def _slow_body(writer: Writer) -> None:
    writer.write(_head("200 OK", {"Content-Type": "text/html", "Content-Length": "100000"}))
    await _drip(writer, b"<html><body>" + b"a" * 99_988, DRIP_INTERVAL_S)


async def _slow_head(writer: Writer) -> None:
    await _drip(writer, _page(b"<p>late</p>"), DRIP_INTERVAL_S)


async def _hang(writer: Writer) -> None:
    await asyncio.sleep(3600)


async def _reset(writer: Writer) -> None:
    sock = writer.get_extra_info("socket")
    if sock is not None:  # SO_LINGER 0: close() sends RST, not FIN
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    writer.transport.abort()


async def _huge(writer: Writer) -> None:
    writer.write(_head("200 OK", {"Content-Type": "text/html", "Content-Length": str(HUGE_BYTES)}))
    chunk = b"<p>" + b"x" * 65_529 + b"</p>\n"
    for _ in range(HUGE_BYTES // len(chunk)):
        writer.write(chunk)
        await writer.drain()
    writer.write(b"x" * (HUGE_BYTES % len(chunk)))


def _static(data: bytes) -> Callable[[Writer], Awaitable[None]]:
    async def send(writer: Writer) -> None:
        writer.write(data)

    return send


def _redirect(location: str) -> bytes:
    return _head("302 Found", {"Location": location, "Content-Length": "0"})


_NOT_FOUND = _static(_head("404 Not Found", {"Content-Length": "0"}))


def routes() -> dict[str, Callable[[Writer], Awaitable[None]]]:
    bomb = gzip_bomb()
    bomb_head = {"Content-Type": "text/html", "Content-Encoding": "gzip"}
    return {
        "/timeout": _hang,
        "/drip": _slow_body,
        "/drip-head": _slow_head,
        "/500": _static(_head("500 Internal Server Error", {"Content-Length": "0"})),
        "/503": _static(_head("503 Service Unavailable", {"Content-Length": "0"})),
        "/reset": _reset,
        "/loop-a": _static(_redirect("/loop-b")),
        "/loop-b": _static(_redirect("/loop-a")),
        "/huge": _huge,
        "/bomb": _static(_head("200 OK", {**bomb_head, "Content-Length": str(len(bomb))}) + bomb),
        "/binary": _static(_page(_binary(), "text/html")),
        "/bad-charset": _static(
            _page(b"<p>caf\xe9 \xff\xfe gummies</p>", "text/html; charset=x-no-such-charset")
        ),
        "/utf16-lie": _static(_page("<p>Gummies shop</p>".encode("utf-16"))),
        "/malformed": _static(_page(_malformed())),
        "/deep": _static(_page(_deep())),
        "/ok": _static(_page(b"<html><body><p>A small honest page.</p></body></html>")),
        "/gzip-ok": _static(
            _head("200 OK", {"Content-Type": "text/html", "Content-Encoding": "gzip"})
            + gzip.compress(b"<html><body><p>Compressed page.</p></body></html>")
        ),
    }


class HostileServer:
    """Serves `routes()` on 127.0.0.1; counts the requests it reads."""

    def __init__(self) -> None:
        self.routes = routes()
        self.requests: list[str] = []
        self._server: asyncio.Server | None = None
        self._tasks: set[asyncio.Task[None]] = set()

    @property
    def origin(self) -> str:
        assert self._server is not None, "use `async with HostileServer()`"
        return f"http://127.0.0.1:{self._server.sockets[0].getsockname()[1]}"

    async def _serve(self, reader: asyncio.StreamReader, writer: Writer) -> None:
        task = asyncio.current_task()
        if task is not None:
            self._tasks.add(task)
        try:
            line = (await reader.readline()).decode("latin-1")
            while (await reader.readline()) not in (b"\r\n", b"\n", b""):
                pass
            path = line.split(" ")[1] if line.count(" ") >= 2 else "/"
            self.requests.append(path)
            handler = self.routes.get(path, _NOT_FOUND)
            await handler(writer)
            await writer.drain()
        except (ConnectionError, asyncio.CancelledError):
            pass  # the crawler hung up (as it should, on a drip or a huge page)
        finally:
            writer.close()
            if task is not None:
                self._tasks.discard(task)

    async def __aenter__(self) -> HostileServer:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        for task in list(self._tasks):
            task.cancel()
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
