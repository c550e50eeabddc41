"""Shared test fixtures. Any real call to a model server fails unless a test opts in."""

from __future__ import annotations

from typing import Any

import httpx2
import pytest


class RealModelCallError(RuntimeError):
    """A test tried to reach a real model endpoint."""


@pytest.fixture(autouse=True)
def _no_real_model_calls(monkeypatch: pytest.MonkeyPatch, request: pytest.FixtureRequest) -> None:
    """openai 3.x sends HTTP through httpx2: refuse its real transports in every test.

    Tests drive the LLM agent through `httpx2.MockTransport` (the scripted model); only a
    test marked `real_model` (a local llama.cpp server on 127.0.0.1) may open connections.
    """
    local_only = bool(request.node.get_closest_marker("real_model"))
    real_async = httpx2.AsyncHTTPTransport.handle_async_request
    real_sync = httpx2.HTTPTransport.handle_request

    def allowed(req: httpx2.Request) -> bool:
        # A real_model test may reach its llama.cpp server on 127.0.0.1, nothing else.
        return local_only and req.url.host == "127.0.0.1"

    async def refuse_async(self: Any, req: httpx2.Request) -> httpx2.Response:
        if allowed(req):
            return await real_async(self, req)
        raise RealModelCallError(f"real model call attempted in a test: {req.method} {req.url}")

    def refuse_sync(self: Any, req: httpx2.Request) -> httpx2.Response:
        if allowed(req):
            return real_sync(self, req)
        raise RealModelCallError(f"real model call attempted in a test: {req.method} {req.url}")

    monkeypatch.setattr(httpx2.AsyncHTTPTransport, "handle_async_request", refuse_async)
    monkeypatch.setattr(httpx2.HTTPTransport, "handle_request", refuse_sync)
