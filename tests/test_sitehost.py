"""SiteHost: static sites on 127.0.0.1, one per Host header, by the eval contract's rules."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from merchant_review.sitehost import SiteHost
from tests.sitefixtures import FIXTURE_SITES


@pytest.fixture
def host() -> Iterator[SiteHost]:
    with SiteHost(
        {
            "shop.example": FIXTURE_SITES / "shop",
            "other.example": FIXTURE_SITES / "other",
            "down.example": None,
        }
    ) as running:
        yield running


async def get(host: SiteHost, site: str, path: str, method: str = "GET") -> httpx.Response:
    async with httpx.AsyncClient(trust_env=False) as client:
        return await client.request(method, f"{host.origin}{path}", headers={"Host": site})


def raw_status_line(host: SiteHost, site: str, raw_path: str) -> str:
    """Send a request line exactly as given (clients would normalise '..' away)."""
    with socket.create_connection(("127.0.0.1", host.port), timeout=5) as sock:
        request = f"GET {raw_path} HTTP/1.1\r\nHost: {site}\r\nConnection: close\r\n\r\n"
        sock.sendall(request.encode())
        return sock.makefile("rb").readline().decode().strip()


async def test_index_html_is_the_root(host: SiteHost) -> None:
    response = await get(host, "shop.example", "/")
    assert response.status_code == 200
    assert response.text == (FIXTURE_SITES / "shop" / "index.html").read_text()
    assert response.headers["content-type"] == "text/html; charset=utf-8"


async def test_files_and_folder_indexes(host: SiteHost) -> None:
    page = await get(host, "shop.example", "/blog/spring-sale.html")
    folder = await get(host, "shop.example", "/products/")
    bare = await get(host, "shop.example", "/products?view=grid")
    assert page.status_code == 200 and "Spring sale" in page.text
    assert folder.status_code == 200
    assert folder.text == (FIXTURE_SITES / "shop" / "products" / "index.html").read_text()
    assert bare.status_code == 301
    assert bare.headers["location"] == "/products/?view=grid"


async def test_missing_paths_and_folders_without_index_are_404(host: SiteHost) -> None:
    assert (await get(host, "shop.example", "/nope.html")).status_code == 404
    assert (await get(host, "shop.example", "/private/")).status_code == 404
    assert (await get(host, "shop.example", "/offers/")).status_code == 404


async def test_content_types_follow_extensions(host: SiteHost) -> None:
    pdf = await get(host, "shop.example", "/catalog.pdf")
    robots = await get(host, "shop.example", "/robots.txt")
    sitemap = await get(host, "shop.example", "/sitemap.xml")
    legacy = await get(host, "shop.example", "/legacy.html")
    assert pdf.headers["content-type"] == "application/pdf"
    assert robots.headers["content-type"] == "text/plain; charset=utf-8"
    assert "Disallow: /private/" in robots.text
    assert sitemap.headers["content-type"].split(";")[0] in {"application/xml", "text/xml"}
    # Not UTF-8: no charset claimed, the page's own <meta charset> decides.
    assert legacy.headers["content-type"] == "text/html"


async def test_head_sends_headers_only(host: SiteHost) -> None:
    response = await get(host, "shop.example", "/terms.html", method="HEAD")
    assert response.status_code == 200
    assert (
        int(response.headers["content-length"])
        == (FIXTURE_SITES / "shop/terms.html").stat().st_size
    )
    assert response.content == b""


async def test_host_header_picks_the_site(host: SiteHost) -> None:
    shop = await get(host, "shop.example", "/")
    other = await get(host, "other.example:8443", "/")
    www = await get(host, "WWW.Other.Example", "/about.html")
    unknown = await get(host, "nobody.example", "/")
    assert "Greenleaf" in shop.text and "Other Site" in other.text
    assert "Vermont" in www.text
    assert unknown.status_code == 421


async def test_unreachable_site_hangs_up_without_a_response(host: SiteHost) -> None:
    with pytest.raises(httpx.RemoteProtocolError):
        await get(host, "down.example", "/")


async def test_missing_folder_is_unreachable(tmp_path: Path) -> None:
    gone_site = {"gone.example": tmp_path / "does-not-exist"}
    with SiteHost(gone_site) as gone, pytest.raises(httpx.RemoteProtocolError):
        await get(gone, "gone.example", "/")


def test_path_traversal_is_refused(tmp_path: Path) -> None:
    site = tmp_path / "site"
    site.mkdir()
    (site / "index.html").write_text("<p>home</p>")
    (tmp_path / "secret.txt").write_text("do not serve")
    (site / "escape").symlink_to(tmp_path)
    with SiteHost({"site.example": site}) as host:
        assert raw_status_line(host, "site.example", "/../secret.txt").split()[1] == "400"
        assert raw_status_line(host, "site.example", "/%2e%2e/secret.txt").split()[1] == "400"
        assert raw_status_line(host, "site.example", "/a/..%2f..%2fsecret.txt").split()[1] == "400"
        # A symlink pointing outside the folder is not followed out of it.
        assert raw_status_line(host, "site.example", "/escape/secret.txt").split()[1] == "400"
        assert raw_status_line(host, "site.example", "/").split()[1] == "200"


async def test_many_parallel_requests(host: SiteHost) -> None:
    paths = ["/", "/terms.html", "/faq.html", "/products/", "/about.html"] * 10
    async with httpx.AsyncClient(trust_env=False) as client:
        responses = await asyncio.gather(
            *(client.get(f"{host.origin}{p}", headers={"Host": "shop.example"}) for p in paths)
        )
    assert [r.status_code for r in responses] == [200] * 50
    assert all("<html" in r.text for r in responses)
    assert len([seen for seen in host.requests_seen() if seen[0] == "shop.example"]) == 50


def test_overrides_point_every_site_at_the_server(host: SiteHost) -> None:
    assert host.origin.startswith("http://127.0.0.1:")
    assert host.origin_overrides() == {
        "shop.example": host.origin,
        "other.example": host.origin,
        "down.example": host.origin,  # unreachable sites too: never a real DNS lookup
    }


async def test_sites_added_after_start_and_redirects(tmp_path: Path) -> None:
    (tmp_path / "index.html").write_text("<p>late</p>")
    with SiteHost() as host:
        host.add_site("late.example", tmp_path, redirects={"/old": "/"})
        moved = await get(host, "late.example", "/old")
        page = await get(host, "late.example", "/")
    assert moved.status_code == 302 and moved.headers["location"] == "/"
    assert page.text == "<p>late</p>"


def test_port_is_unknown_before_start() -> None:
    with pytest.raises(RuntimeError):
        _ = SiteHost().origin
