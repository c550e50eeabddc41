"""Serve static websites on 127.0.0.1, one folder per host name (picked by the Host header).

Used by the demo, the eval harness (each case's `sites/CASE_ID/` is its merchant's origin)
and tests. The crawler reaches a site through `CrawlSettings.origin_overrides`, so URLs
keep their logical form (https://greenleaf-wellness.example/) while the bytes come from here.

Serving rules (see shared/spec/eval-dataset-format.md): `DIR/index.html` is `/`,
`DIR/a/b.html` is `/a/b.html`, a folder with an index.html is `/a/` (and `/a` answers
301 → `/a/`), anything else is 404; no directory listings, nothing outside DIR.

An unreachable site (registered with no folder, or a folder that does not exist) gets its
connection closed without any response: the closest per-host stand-in for a connection
failure, which the crawler reports as a page error. An unknown host answers 421.
"""

from __future__ import annotations

import mimetypes
import posixpath
import threading
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass, field
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import TracebackType
from typing import Any
from urllib.parse import unquote, urlsplit


@dataclass(frozen=True)
class _Site:
    root: Path | None  # None: unreachable
    redirects: Mapping[str, str] = field(default_factory=dict)


def _site_key(hostname: str) -> str:
    return hostname.strip().lower().rstrip(".").removeprefix("www.")


class _Server(ThreadingHTTPServer):
    daemon_threads = True  # stuck keep-alive connections never block shutdown
    request_queue_size = 128  # eval runs many reviews at once; the default backlog is 5
    sites: dict[str, _Site]
    seen: deque[tuple[str, str]]

    def handle_error(self, request: Any, client_address: Any) -> None:
        """Stay quiet: clients that hang up mid-response are normal for a crawler target."""


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive: crawlers reuse connections
    server_version = "SiteHost/1"
    sys_version = ""
    timeout = 30  # drop idle keep-alive connections eventually
    disable_nagle_algorithm = True  # headers and body go out in two writes: no 40 ms stalls
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:
        """No request logging: the eval and the tests must stay quiet."""

    def do_GET(self) -> None:
        """Serve a file (with its body)."""
        self._serve(with_body=True)

    def do_HEAD(self) -> None:
        """Serve a file's headers only."""
        self._serve(with_body=False)

    def _serve(self, *, with_body: bool) -> None:
        name = _site_key(_hostname(self.headers.get("Host", "")))
        self.server.seen.append((name, self.path))
        site = self.server.sites.get(name)
        if site is None:
            self._answer(HTTPStatus.MISDIRECTED_REQUEST, b"unknown site\n", with_body=with_body)
        elif site.root is None or not site.root.is_dir():
            self.close_connection = True  # "unreachable": hang up without a response
        else:
            self._serve_site(site, site.root, with_body=with_body)

    def _serve_site(self, site: _Site, root: Path, *, with_body: bool) -> None:
        parts = urlsplit(self.path)
        path = unquote(parts.path) or "/"
        if path in site.redirects:
            self._redirect(HTTPStatus.FOUND, site.redirects[path])
            return
        target = _resolve(root, path)
        if target is None:
            self._answer(HTTPStatus.BAD_REQUEST, b"bad path\n", with_body=with_body)
        elif target.is_dir() and not path.endswith("/"):
            query = f"?{parts.query}" if parts.query else ""
            self._redirect(HTTPStatus.MOVED_PERMANENTLY, f"{parts.path}/{query}")
        elif target.is_dir() and (target / "index.html").is_file():
            self._send_file(target / "index.html", with_body=with_body)
        elif target.is_file():
            self._send_file(target, with_body=with_body)
        else:
            self._answer(HTTPStatus.NOT_FOUND, b"not found\n", with_body=with_body)

    def _redirect(self, status: HTTPStatus, location: str) -> None:
        self.send_response(status)
        self.send_header("Location", location)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def _send_file(self, path: Path, *, with_body: bool) -> None:
        body = path.read_bytes()
        self._answer(
            HTTPStatus.OK, body, content_type=_content_type(path, body), with_body=with_body
        )

    def _answer(
        self,
        status: HTTPStatus,
        body: bytes,
        *,
        content_type: str = "text/plain; charset=utf-8",
        with_body: bool,
    ) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if with_body:
            self.wfile.write(body)


def _hostname(host_header: str) -> str:
    try:  # "name:port" and "[v6]:port" both parse as a URL authority
        return urlsplit(f"//{host_header.strip()}").hostname or ""
    except ValueError:
        return ""


def _resolve(root: Path, url_path: str) -> Path | None:
    """The file or folder a URL path names, or None when it would leave the site folder."""
    if "\x00" in url_path or "\\" in url_path:
        return None
    segments = url_path.split("/")
    if ".." in segments:  # browsers normalise these away; a literal one is an attack
        return None
    relative = posixpath.normpath(url_path).lstrip("/")
    base = root.resolve()
    target = (base / relative).resolve()  # resolves symlinks too, which must stay inside
    return target if target == base or target.is_relative_to(base) else None


def _content_type(path: Path, body: bytes) -> str:
    guessed, _encoding = mimetypes.guess_type(path.name)
    content_type = guessed or "application/octet-stream"
    if content_type.startswith("text/") or content_type.endswith(("+xml", "/xml")):
        try:
            body.decode("utf-8")
        except UnicodeDecodeError:
            return content_type  # let the client read <meta charset> or detect
        return f"{content_type}; charset=utf-8"
    return content_type


class SiteHost:
    """A threaded HTTP server on 127.0.0.1 serving one static folder per host name.

    >>> with SiteHost() as host:  # doctest: +SKIP
    ...     host.add_site("greenleaf-wellness.example", Path("sites/c017"))
    ...     settings = CrawlSettings(origin_overrides=host.origin_overrides(),
    ...                              allow_private=["127.0.0.1"])
    """

    def __init__(self, sites: Mapping[str, Path | None] | None = None) -> None:
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None
        self._sites: dict[str, _Site] = {}
        # (site, request path) of recent requests: lets tests assert what was (not) fetched.
        self._seen: deque[tuple[str, str]] = deque(maxlen=10_000)
        for hostname, directory in (sites or {}).items():
            self.add_site(hostname, directory)

    def add_site(
        self,
        hostname: str,
        directory: Path | None,
        *,
        redirects: Mapping[str, str] | None = None,
    ) -> None:
        """Serve `directory` as `hostname` (and www.hostname); None means unreachable.

        `redirects` maps URL paths to Location values answered with 302 (for tests).
        """
        self._sites[_site_key(hostname)] = _Site(directory, dict(redirects or {}))

    def start(self) -> SiteHost:
        """Bind an ephemeral port on 127.0.0.1 and serve in a daemon thread."""
        if self._server is not None:
            return self
        server = _Server(("127.0.0.1", 0), _Handler)
        server.sites = self._sites  # shared: sites added later are served too
        server.seen = self._seen
        self._server = server
        self._thread = threading.Thread(
            target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()
        return self

    def close(self) -> None:
        """Stop serving and release the port."""
        if self._server is None:
            return
        self._server.shutdown()
        self._server.server_close()
        if self._thread is not None:
            self._thread.join()
        self._server = self._thread = None

    @property
    def port(self) -> int:
        """The bound port (the server must be started)."""
        if self._server is None:
            raise RuntimeError("SiteHost is not started")
        return int(self._server.server_address[1])

    @property
    def origin(self) -> str:
        """http://127.0.0.1:PORT"""
        return f"http://127.0.0.1:{self.port}"

    def requests_seen(self) -> list[tuple[str, str]]:
        """(site name without "www.", request path) of the requests served, oldest first."""
        return list(self._seen)

    def origin_overrides(self) -> dict[str, str]:
        """hostname → origin for every site (unreachable ones too), for CrawlSettings."""
        return {hostname: self.origin for hostname in self._sites}

    def __enter__(self) -> SiteHost:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()
