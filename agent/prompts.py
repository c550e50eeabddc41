"""The LLM agent's prompts: files in prompts/, rendered with Jinja2, versioned by content.

Every prompt is a Jinja2 template (`{{ name }}` placeholders, `{% if %}` / `{% for %}`
blocks) rendered with StrictUndefined, so a missing variable fails loudly instead of
silently producing an empty string. Values that come from the merchant or its website are
neutralised by `agent.llm_context` *before* they reach a template; templates never
evaluate data as template code (a value's `{{` stays literal text).

The version is "prompts-" + the first 12 hex digits of a sha256 over the loaded files'
names and contents: any edit to a prompt yields a new version, which every Assessment
and the audit log record.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import jinja2

from merchant_review.providers import VerdictVia
from merchant_review.resources import data_dir
from merchant_review.taxonomy import Category, Tier

# file name -> what it is for; all are required.
PROMPT_FILES: dict[str, str] = {
    "system.md": "system prompt: role, taxonomy, evidence rules, untrusted-data rule",
    "review_task.md": "first user message: record, rules, leads, crawl, page text",
    "invalid_verdict.md": "sent back when a submitted verdict fails validation",
    "submit_reminder.md": "sent once when the model answers in plain text",
    "final_call.md": "sent when the step budget is used up, before the forced verdict",
}


class PromptError(Exception):
    """A prompt file is missing or is not a valid template."""


def _environment() -> jinja2.Environment:
    # Prompts are plain text for a model, not HTML: HTML autoescaping would corrupt them.
    # Untrusted values are neutralised by agent.llm_context before rendering.
    return jinja2.Environment(
        undefined=jinja2.StrictUndefined,
        autoescape=False,  # noqa: S701
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=False,
    )


@lru_cache(maxsize=64)
def _template(text: str) -> jinja2.Template:
    """The compiled template of a prompt text: compiled once per process, not per review
    (compiling was ~3% of an LLM review's CPU in bench.latency)."""
    return _environment().from_string(text)


def _version(texts: dict[str, str]) -> str:
    digest = hashlib.sha256()
    for name in sorted(texts):
        digest.update(name.encode() + b"\0" + texts[name].encode() + b"\0")
    return f"prompts-{digest.hexdigest()[:12]}"


@dataclass(frozen=True)
class PromptSet:
    """The loaded prompt templates of one version."""

    texts: dict[str, str]
    version: str
    source: Path

    @classmethod
    def load(cls, directory: Path | None = None) -> PromptSet:
        """Read every required prompt file (default: the prompts shipped with the project)."""
        folder = directory or data_dir("prompts")
        texts: dict[str, str] = {}
        for name in PROMPT_FILES:
            try:
                texts[name] = (folder / name).read_text(encoding="utf-8")
            except OSError as exc:
                raise PromptError(f"cannot read prompt file {folder / name}: {exc}") from exc
        prompts = cls(texts=texts, version=_version(texts), source=folder)
        prompts._check_syntax()
        return prompts

    def _check_syntax(self) -> None:
        env = _environment()
        for name, text in self.texts.items():
            try:
                env.parse(text)
            except jinja2.TemplateSyntaxError as exc:
                raise PromptError(f"{self.source / name}: line {exc.lineno}: {exc}") from exc

    def render(self, name: str, **values: Any) -> str:
        """Render one prompt file with `values`; a missing value raises PromptError."""
        try:
            return _template(self.texts[name]).render(**values).strip()
        except jinja2.UndefinedError as exc:
            raise PromptError(f"prompt {name}: {exc}") from exc

    # -- the prompts, with the values each one needs ----------------------------------------

    def system(self) -> str:
        """The system prompt: category ids grouped by tier (each retrieved rule carries
        its own full text, so the taxonomy's descriptions would only cost tokens)."""
        tiers = [
            (tier.value, [category.value for category in Category if category.tier is tier])
            for tier in Tier
        ]
        return self.render("system.md", tiers=tiers)

    def review_task(self, **values: Any) -> str:
        """The first user message; values documented in agent.llm_context.task_values."""
        return self.render("review_task.md", **values)

    def invalid_verdict(self, error: str, via: VerdictVia) -> str:
        return self.render("invalid_verdict.md", error=error, via=via)

    def submit_reminder(self) -> str:
        return self.render("submit_reminder.md")

    def final_call(self, via: VerdictVia, schema: str) -> str:
        return self.render("final_call.md", via=via, schema=schema)
