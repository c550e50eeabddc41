"""TLS through the pinning backend: the socket goes to the checked IP, while SNI and the
certificate check still name the logical host (a certificate for another name fails).

Certificates come from the openssl command line (a throwaway CA and a leaf for
secure.test); the server listens on 127.0.0.1 only, names resolve through fake DNS.
"""

from __future__ import annotations

import asyncio
import shutil
import ssl
import subprocess
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from evals.security.netspy import SpyBackend, fake_dns
from merchant_review.settings import CrawlSettings
from tools.crawler import fetch_page, make_client
from tools.pinning import PinnedBackend, PinnedTransport

pytestmark = pytest.mark.skipif(shutil.which("openssl") is None, reason="needs openssl")


def openssl(*args: str, cwd: Path) -> None:
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True)


@pytest.fixture(scope="module")
def certs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("tls")
    openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "ca.key", "-out",
            "ca.pem", "-days", "2", "-subj", "/CN=suite CA", cwd=folder)  # fmt: skip
    openssl("req", "-newkey", "rsa:2048", "-nodes", "-keyout", "leaf.key", "-out", "leaf.csr",
            "-subj", "/CN=secure.test", cwd=folder)  # fmt: skip
    (folder / "san.ext").write_text("subjectAltName=DNS:secure.test\n")
    openssl("x509", "-req", "-in", "leaf.csr", "-CA", "ca.pem", "-CAkey", "ca.key",
            "-CAcreateserial", "-out", "leaf.pem", "-days", "2", "-extfile", "san.ext",
            cwd=folder)  # fmt: skip
    return folder


async def serve_tls(certs: Path) -> AsyncIterator[int]:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(certs / "leaf.pem", certs / "leaf.key")
    body = b"<html><body><p>Served over TLS.</p></body></html>"

    async def answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while (await reader.readline()) not in (b"\r\n", b"\n", b""):
                pass
            head = f"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: {len(body)}"
            writer.write(head.encode() + b"\r\nConnection: close\r\n\r\n" + body)
            await writer.drain()
        except (ConnectionError, ssl.SSLError):
            pass  # a client that refused our certificate hangs up mid-handshake
        finally:
            writer.close()

    server = await asyncio.start_server(answer, "127.0.0.1", 0, ssl=context)
    try:
        yield int(server.sockets[0].getsockname()[1])
    finally:
        server.close()
        await server.wait_closed()


async def fetch(certs: Path, host: str) -> tuple[str | None, list[tuple[str, int]], str]:
    settings = CrawlSettings(allow_private=["127.0.0.1"], request_timeout_s=5.0)
    trust = ssl.create_default_context(cafile=str(certs / "ca.pem"))
    spy = SpyBackend()
    pins = PinnedBackend(spy)
    async for port in serve_tls(certs):
        with fake_dns({host: ["127.0.0.1"]}):
            transport = PinnedTransport(pins, ssl_context=trust)
            async with make_client(settings, transport=transport, pins=pins) as client:
                page = await fetch_page(f"https://{host}:{port}/", settings, client=client,
                                        check_robots=False)  # fmt: skip
        return page.error, spy.dials, page.text
    raise AssertionError("the server did not start")


async def test_tls_to_a_pinned_address_verifies_the_logical_host(certs: Path) -> None:
    error, dials, text = await fetch(certs, "secure.test")
    assert error is None and text == "Served over TLS."
    assert [address for address, _port in dials] == ["127.0.0.1"]  # the IP, not the name


async def test_a_certificate_for_another_name_is_refused(certs: Path) -> None:
    error, dials, _text = await fetch(certs, "other.test")  # same IP, cert is secure.test's
    assert error is not None and "certificate" in error.lower()
    assert {address for address, _port in dials} == {"127.0.0.1"}  # retried, never elsewhere
