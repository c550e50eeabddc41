"""URL helpers of the crawler: start-URL validation, the site a URL belongs to, page keys."""

from __future__ import annotations

from urllib.parse import urldefrag, urlsplit, urlunsplit


def validate_start_url(url: str) -> str:
    """The start URL, stripped, or ValueError saying why it cannot be crawled."""
    candidate = url.strip()
    try:
        parts = urlsplit(candidate)
        parts.port  # noqa: B018 - raises ValueError on a malformed port
    except ValueError as exc:
        raise ValueError(f"invalid URL {url!r}: {exc}") from exc
    if parts.scheme.lower() not in {"http", "https"}:
        raise ValueError(f"invalid URL {url!r}: it must start with http:// or https://")
    if not parts.hostname:
        raise ValueError(f"invalid URL {url!r}: a host name is required")
    return candidate


def site_key(url: str) -> str:
    """The site a URL belongs to: its host, lower-cased, without a leading "www."."""
    try:
        host = urlsplit(url).hostname or ""
    except ValueError:
        return ""
    return host.rstrip(".").removeprefix("www.")


def dedupe_key(url: str) -> str:
    """One key per page: scheme, port, "www." and fragment do not make a new page."""
    try:
        parts = urlsplit(urldefrag(url)[0])
    except ValueError:  # unparseable: only equal to itself
        return url
    query = f"?{parts.query}" if parts.query else ""
    return f"{site_key(url)}{parts.path or '/'}{query}"


def origin_of(url: str) -> str:
    """scheme://host[:port]/ of a URL (where its robots.txt and sitemap.xml live)."""
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, "/", "", ""))
