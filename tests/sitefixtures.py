"""Helpers for crawler tests: fixture sites, local settings, and a scripted HTTP server.

Everything listens on 127.0.0.1 only; nothing here reaches another address.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import TracebackType
from typing import Any

from merchant_review.settings import CrawlSettings
from merchant_review.sitehost import SiteHost
from tools.crawler import RetryPolicy

FIXTURE_SITES = Path(__file__).parent / "fixtures" / "sites"
# No waiting between attempts: tests stay fast and independent of timing.
FAST_RETRY = RetryPolicy(attempts=2, backoff_s=0.0, max_backoff_s=0.0)


def local_settings(overrides: Mapping[str, str], **changes: Any) -> CrawlSettings:
    """Crawl settings that reach the given local origins (127.0.0.1 allowed)."""
    values: dict[str, Any] = {
        "origin_overrides": dict(overrides),
        "allow_private": ["127.0.0.1"],
        "request_timeout_s": 5.0,
        **changes,
    }
    return CrawlSettings(**values)


def site_settings(host: SiteHost, **changes: Any) -> CrawlSettings:
    """Crawl settings for the sites a SiteHost serves."""
    return local_settings(host.origin_overrides(), **changes)


@dataclass
class Reply:
    """One scripted answer; `hold` makes the server wait (up to 10 s) until it is set."""

    status: int = 200
    body: bytes = b""
    headers: Mapping[str, str] = field(default_factory=dict)
    hold: threading.Event | None = None


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True
    server: _ScriptedHTTPServer

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_GET(self) -> None:
        reply = self.server.script.next_reply(self.path)
        if reply.hold is not None:
            reply.hold.wait(timeout=10)
        self.send_response(reply.status)
        headers = {"Content-Type": "text/html; charset=utf-8", **reply.headers}
        for name, value in headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(reply.body)))
        self.end_headers()
        self.wfile.write(reply.body)


class _Script:
    def __init__(self, routes: Mapping[str, Sequence[Reply]]) -> None:
        self.routes = {path: list(replies) for path, replies in routes.items()}
        self.requests: list[str] = []
        self.lock = threading.Lock()

    def next_reply(self, path: str) -> Reply:
        """The next scripted reply for a path; the last one repeats; 404 when unscripted."""
        with self.lock:
            self.requests.append(path)
            replies = self.routes.get(path)
            if not replies:
                return Reply(404, b"not found")
            return replies.pop(0) if len(replies) > 1 else replies[0]


class _ScriptedHTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    script: _Script

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass


class ScriptedServer:
    """A 127.0.0.1 server answering each path from a script, counting every request."""

    def __init__(self, routes: Mapping[str, Sequence[Reply]] | None = None) -> None:
        self._script = _Script(routes or {})
        self._server = _ScriptedHTTPServer(("127.0.0.1", 0), _Handler)
        self._server.script = self._script
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )

    @property
    def origin(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    @property
    def requests(self) -> list[str]:
        with self._script.lock:
            return list(self._script.requests)

    def __enter__(self) -> ScriptedServer:
        self._thread.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self._server.shutdown()
        self._server.server_close()


def html(body: str, title: str = "page") -> bytes:
    """A small UTF-8 HTML document."""
    head = f"<head><title>{title}</title></head>"
    return f"<!doctype html><html>{head}<body>{body}</body></html>".encode()
