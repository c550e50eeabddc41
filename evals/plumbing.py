"""A scripted model for gating the LLM path's plumbing in CI (not its judgement).

It behaves like a careful but unimaginative reviewer: it looks at the page list first,
then re-submits the offline leads it was handed (the cascade passes them in the prompt) as
its findings, so every quote it cites came from a real page. Every few calls it answers
429 first, so the retry path runs too. What the gate checks is that verdicts parse, quotes
verify, retries recover and usage is counted.
"""

from __future__ import annotations

import json
import re
from typing import Any

from agent.scripted import Reply, ScriptedModel

_LEADS = re.compile(r"<offline_leads>\s*(.*?)\s*</offline_leads>", re.S)


def _user_text(request: dict[str, Any]) -> str:
    return "\n".join(
        str(m.get("content") or "") for m in request.get("messages", []) if m.get("role") == "user"
    )


def _leads(request: dict[str, Any]) -> list[dict[str, Any]]:
    match = _LEADS.search(_user_text(request))
    if match is None:
        return []
    try:
        leads = json.loads(match.group(1))
    except json.JSONDecodeError:
        return []
    return leads if isinstance(leads, list) else []


def _verdict(request: dict[str, Any]) -> dict[str, Any]:
    findings = [
        {
            "rule_id": lead["rule_id"],
            "category": lead["category"],
            "rationale": lead.get("rationale", "offline lead confirmed"),
            "citations": lead.get("citations", []),
            "confidence": lead.get("confidence", 0.7),
        }
        for lead in _leads(request)
    ]
    return {
        "findings": findings,
        "site_status": "operating",
        "business_summary": "reviewed by the plumbing script",
        "confidence": 0.75,
    }


class PlumbingModel:
    """Callable handler for ScriptedModel(default=...): list pages, then submit leads."""

    def __init__(self, rate_limit_every: int = 5) -> None:
        self.calls = 0
        self.rate_limit_every = rate_limit_every

    def __call__(self, request: dict[str, Any]) -> Reply:
        self.calls += 1
        if self.rate_limit_every and self.calls % self.rate_limit_every == 0:
            return ScriptedModel.error(429, headers={"Retry-After": "0"})
        forced = isinstance(request.get("tool_choice"), dict)
        asked = any(m.get("role") == "tool" for m in request.get("messages", []))
        if not forced and not asked:
            return ScriptedModel.tool_call("list_pages", {})
        if "response_format" in request:
            return ScriptedModel.json_verdict(**_verdict(request))
        return ScriptedModel.submit_verdict(**_verdict(request))


def plumbing_model() -> ScriptedModel:
    return ScriptedModel(default=PlumbingModel())
