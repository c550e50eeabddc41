"""Tokens per review: the agent's retrieved excerpts against a naive whole-site prompt.

    .venv/bin/python -m bench.tokens [--dataset evals/datasets/dev] [--limit N]

Runs every case of the dataset through the real review graph (crawl on 127.0.0.1,
retrieval, the LLM agent's prompt building) twice, with a scripted model that reads each
request, counts its tokens with tiktoken (cl100k_base: messages, tool definitions,
response format) and submits an empty verdict at once:

- agent: ModelSettings.context = "excerpts" (retrieved snippets within evidence_chars,
  the rest of the site reachable through tools);
- naive: every fetched page in full in one prompt (context "pages", no truncation).

Both use the same system prompt, tools, record and crawl summary; the difference is the
site text (excerpts against every page) and the candidate rules (the naive side has each
in full, the agent only those its excerpts meet, the others by id).
For the dev set's planted evidence (annotations.jsonl: the quote each label rests on), it
counts the cases whose agent prompt does not contain that quote: evidence the agent's
context missed (it would have to find it with search_site_text or fetch_page).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import re
import statistics
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from agent import llm_usage
from agent.llm import LLMAssessor, RetryPolicy
from agent.prompts import PromptSet
from agent.scripted import SCRIPTED_BASE_URL, Reply, ScriptedModel
from evals.dataset import load_dataset
from evals.runner import EvalRunner
from merchant_review.pages import fold
from merchant_review.settings import EngineChoice, ModelSettings, Settings
from merchant_review.storage import Store

EMPTY_VERDICT = {
    "findings": [],
    "site_status": "operating",
    "business_summary": "counted",
    "confidence": 0.5,
}
_MERCHANT = re.compile(r'"merchant_id": "([^"]+)"')


@dataclass
class Reader:
    """The scripted model's memory: what each review's prompt held, and its tokens."""

    prompts: dict[str, str] = field(default_factory=dict)  # merchant id -> text seen
    tokens: dict[str, int] = field(default_factory=dict)  # merchant id -> tokens sent
    task: dict[str, int] = field(default_factory=dict)  # merchant id -> task message tokens
    system: int = 0  # tokens of the system prompt (the same in every request)
    tools: int = 0  # tokens of the tool definitions, submit_verdict's schema included

    def answer(self, request: dict[str, Any]) -> Reply:
        text = "\n".join(str(m.get("content") or "") for m in request["messages"])
        merchant = _MERCHANT.search(text)  # the record block of the task message
        key = merchant.group(1) if merchant else "?"
        reply = ScriptedModel.submit_verdict(**EMPTY_VERDICT)
        message = {"tool_calls": [{"function": {"name": n, "arguments": a}}
                                  for n, a in reply.tool_calls]}  # fmt: skip
        prompt = llm_usage.prompt_tokens(request)
        completion = llm_usage.completion_tokens(message)
        self.prompts[key] = self.prompts.get(key, "") + text
        self.task.setdefault(key, llm_usage.count_tokens(request["messages"][1]["content"]))
        self.system = llm_usage.count_tokens(request["messages"][0]["content"])
        self.tools = llm_usage.prompt_tokens({"tools": request.get("tools")})
        self.tokens[key] = self.tokens.get(key, 0) + prompt + completion
        return Reply(tool_calls=reply.tool_calls, usage=(prompt, completion))


async def run(dataset_dir: Path, limit: int | None, model: dict[str, Any]) -> Reader:
    dataset = load_dataset(dataset_dir)
    reader = Reader()
    scripted = ScriptedModel(default=reader.answer)
    settings = ModelSettings(name="token-counter", base_url=SCRIPTED_BASE_URL, **model)
    assessor = LLMAssessor(
        scripted.client(), settings, PromptSet.load(), retry=RetryPolicy.no_wait()
    )
    with tempfile.TemporaryDirectory(prefix="mr-tokens-") as tmp:
        url = f"sqlite:///{Path(tmp) / 'tokens.db'}"
        store = Store(url)
        base = Settings(database_url=url, engine=EngineChoice.LLM, model=settings)
        runner = EvalRunner(dataset, base, store, assessor=assessor, concurrency=8)
        await runner.run(dataset.select(limit=limit))
        store.close()
    return reader


def evidence(dataset_dir: Path) -> dict[str, list[str]]:
    """merchant id -> the quotes its label rests on (planted evidence of the dev set)."""
    cases = {}
    for line in (dataset_dir / "cases.jsonl").read_text(encoding="utf-8").splitlines():
        case = json.loads(line)
        cases[case["case_id"]] = case["merchant"]["merchant_id"]
    quotes: dict[str, list[str]] = {}
    path = dataset_dir / "annotations.jsonl"
    for line in path.read_text(encoding="utf-8").splitlines() if path.is_file() else []:
        note = json.loads(line)
        found = [item["quote"] for item in note.get("evidence", []) if item.get("quote")]
        if found:
            quotes[cases[note["case_id"]]] = found
    return quotes


def test_split(dataset_dir: Path) -> set[str]:
    """Merchant ids of the dev set's held-apart test split."""
    path = dataset_dir / "splits.json"
    splits = json.loads(path.read_text(encoding="utf-8")) if path.is_file() else {}
    return {f"acct_{case}" for case, split in splits.items() if split == "test"}


def shown(quote: str, text: str) -> bool:
    """Whether the prompt shows the quote. A product's name and description ("CBD balm:
    500 mg CBD ...") stand apart on the page, so each part is looked for on its own."""
    folded = fold(text)
    return all(fold(part) in folded for part in quote.split(": ") if part.strip())


def shown_in_part(quote: str, text: str) -> bool:
    """Whether at least one part of the quote (a citable line) is in the prompt."""
    folded = fold(text)
    return any(fold(part) in folded for part in quote.split(": ") if part.strip())


def missed(reader: Reader, quotes: dict[str, list[str]], *, strict: bool = True) -> list[str]:
    """Merchants whose prompts lack a quote their label needs (compared whitespace-folded):
    strict, every part of every quote; else at least one part of each quote."""
    test = shown if strict else shown_in_part
    return sorted(
        merchant
        for merchant, needed in quotes.items()
        if merchant in reader.prompts
        and not all(test(quote, reader.prompts[merchant]) for quote in needed)
    )


def summary(name: str, reader: Reader) -> str:
    values = list(reader.tokens.values())
    return (
        f"{name:6} reviews={len(values)} tokens/review mean={statistics.mean(values):,.0f} "
        f"median={statistics.median(values):,.0f} max={max(values):,}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--dataset", type=Path, default=Path("evals/datasets/dev"))
    parser.add_argument("--limit", type=int, default=None)
    parser.add_argument("--evidence-chars", type=int, default=ModelSettings().evidence_chars)
    args = parser.parse_args()
    excerpts = {"context": "excerpts", "evidence_chars": args.evidence_chars}
    agent = asyncio.run(run(args.dataset, args.limit, excerpts))
    naive = asyncio.run(
        run(args.dataset, args.limit, {"context": "pages", "max_page_chars": 10_000_000})
    )
    quotes = evidence(args.dataset)
    print(summary("agent", agent))
    print(summary("naive", naive))
    ratio = statistics.mean(agent.tokens.values()) / statistics.mean(naive.tokens.values())
    print(f"agent / naive tokens per review: {ratio:.1%}")
    agent_task, naive_task = (
        statistics.mean(agent.task.values()),
        statistics.mean(naive.task.values()),
    )
    print(
        f"task message (record, rules, crawl, site text) per review: agent {agent_task:,.0f}, "
        f"naive {naive_task:,.0f} ({agent_task / naive_task:.1%}); the rest (system prompt, "
        "tool definitions, verdict) is the same for both"
    )
    print(
        f"fixed part of every request: system prompt {agent.system:,}, tool definitions "
        f"(submit_verdict's schema included) {agent.tools:,}"
    )
    with_evidence = [site for site in quotes if site in agent.prompts]
    agent_missed, naive_missed = missed(agent, quotes), missed(naive, quotes)
    not_fetched = [m for m in agent_missed if m in naive_missed]
    retrieval = [m for m in agent_missed if m not in naive_missed]
    print(f"cases with labelled evidence: {len(with_evidence)}")
    print(f"agent context missed evidence that was fetched: {len(retrieval)} {retrieval}")
    print(f"evidence on no fetched page (the crawl missed it): {len(not_fetched)} {not_fetched}")
    naive_loose = missed(naive, quotes, strict=False)
    loose = [m for m in missed(agent, quotes, strict=False) if m not in naive_loose]
    print(f"agent context without any line of a fetched quote: {len(loose)} {loose}")
    # The snippet model that rates excerpts was trained on the dev train split: the test
    # split's figure is the one free of that.
    test = test_split(args.dataset)
    in_test = [m for m in with_evidence if m in test]
    print(
        f"test split: {len(in_test)} cases with evidence; agent missed fetched evidence in "
        f"{len([m for m in retrieval if m in test])}, without any line in "
        f"{len([m for m in loose if m in test])}"
    )


if __name__ == "__main__":
    main()
