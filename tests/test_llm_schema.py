"""submit_verdict's schema: compact as sent, strict on validation, built once."""

from __future__ import annotations

import json
from typing import Any
from unittest import mock

import pytest

from agent import llm_loop, llm_schema
from agent.llm_schema import VerdictError, parse_verdict, verdict_schema, verdict_tool_spec
from merchant_review.taxonomy import Category
from merchant_review.verdict import PageCitation, RecordCitation


def _verdict(**finding: Any) -> str:
    base = {
        "rule_id": "weapons.firearms",
        "citations": [{"url": "https://x.example/", "quote": "Rifles"}],
        "confidence": 0.8,
        "rationale": "sells rifles",
    }
    return json.dumps(
        {
            "findings": [{**base, **finding}],
            "site_status": "operating",
            "business_summary": "a gun shop",
            "confidence": 0.7,
        }
    )


def _keys(schema: Any) -> set[str]:
    """Every schema keyword used anywhere (property names are not keywords)."""
    if isinstance(schema, list):
        return {key for item in schema for key in _keys(item)}
    if not isinstance(schema, dict):
        return set()
    found = set(schema)
    for key, value in schema.items():
        values = value.values() if key == "properties" else [value]
        found |= {inner for sub in values for inner in _keys(sub)}
    return found


def test_the_category_is_derived_from_the_rule_id() -> None:
    (finding,) = parse_verdict(_verdict()).proposed_findings()
    assert finding.category is Category.WEAPONS


def test_a_given_category_is_kept_for_verification_to_check() -> None:
    (finding,) = parse_verdict(_verdict(category="gambling")).proposed_findings()
    assert finding.category is Category.GAMBLING  # verify drops it: another rule's category


def test_a_rule_id_naming_no_category_fails_validation() -> None:
    with pytest.raises(VerdictError, match="must start with a category id"):
        parse_verdict(_verdict(rule_id="firearms"))


def test_citations_are_told_apart_by_their_keys_and_an_old_kind_is_ignored() -> None:
    citations = [
        {"url": "https://x.example/", "quote": "Rifles"},
        {"kind": "record", "field": "mcc", "value": "5941"},
    ]
    (finding,) = parse_verdict(_verdict(citations=citations)).proposed_findings()
    assert isinstance(finding.citations[0], PageCitation)
    assert isinstance(finding.citations[1], RecordCitation)
    with pytest.raises(VerdictError):
        parse_verdict(_verdict(citations=[{"url": "https://x.example/"}]))


def test_limits_are_validated_but_not_sent() -> None:
    keys = _keys(verdict_schema())
    assert not keys & {"maxLength", "minLength", "maxItems", "title", "kind", "$defs"}
    assert "category" not in json.dumps(verdict_schema())
    with pytest.raises(VerdictError):
        parse_verdict(_verdict(rationale="x" * 2001))


def test_the_schema_and_tool_specs_are_built_once_per_process() -> None:
    llm_schema.verdict_schema.cache_clear()
    llm_schema.verdict_tool_spec.cache_clear()
    with mock.patch.object(
        llm_schema.SubmittedVerdict,
        "model_json_schema",
        wraps=llm_schema.SubmittedVerdict.model_json_schema,
    ) as built:
        first = verdict_tool_spec()
        assert verdict_tool_spec() is first
        assert verdict_schema() is first["function"]["parameters"]
    assert built.call_count == 1


def test_the_offered_tools_are_built_once_per_toolbox_class() -> None:
    class Toolbox(llm_loop.ReviewToolbox):
        def __init__(self) -> None:  # no review needed: only specs() is called
            self.calls = 0

        def specs(self) -> list[dict[str, Any]]:
            self.calls += 1
            return [{"type": "function", "function": {"name": "t", "parameters": {}}}]

    first, second = Toolbox(), Toolbox()
    tools = llm_loop.offered_tools(first)
    assert llm_loop.offered_tools(second) is tools
    assert (first.calls, second.calls) == (1, 0)
    assert [t["function"]["name"] for t in tools] == ["t", "submit_verdict"]
