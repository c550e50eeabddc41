"""Terminal rendering of verdicts, stored reviews and merchant lists (rich)."""

from __future__ import annotations

from rich.console import Console, Group
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from merchant_review.costs import review_cost
from merchant_review.providers import ModelPrice
from merchant_review.records import MerchantRecord
from merchant_review.storage import StoredReview
from merchant_review.verdict import PageCitation, Verdict

DECISION_STYLE = {
    "reject": "bold red",
    "request_info": "bold yellow",
    "escalate": "bold magenta",
    "approve": "bold green",
}


def _citation_text(citation: object) -> Text:
    if isinstance(citation, PageCitation):
        return Text.assemble(("“" + citation.quote + "”", "italic"), ("\n  " + citation.url, "dim"))
    field = getattr(citation, "field", "?")
    value = getattr(citation, "value", "?")
    return Text.assemble(("record ", "dim"), (f"{field} = {value!r}", "italic"))


def verdict_panel(verdict: Verdict) -> Panel:
    head = Table.grid(padding=(0, 2))
    head.add_column(style="bold")
    head.add_column()
    decision = verdict.decision.value
    head.add_row("decision", Text(decision, style=DECISION_STYLE.get(decision, "")))
    head.add_row("categories", ", ".join(c.value for c in verdict.categories) or "none")
    head.add_row("confidence", f"{verdict.confidence:.2f}")
    head.add_row("site", verdict.site_status.value)
    head.add_row("why", "\n".join(verdict.reasons) or "-")
    head.add_row("engine", verdict.engine + (f" ({verdict.model})" if verdict.model else ""))
    head.add_row("versions", f"{verdict.corpus_version}  {verdict.prompt_version or ''}".strip())
    if verdict.usage.llm_calls:
        head.add_row("model use", f"{verdict.usage.llm_calls} calls, {verdict.usage.tokens} tokens")
    if verdict.review_id:
        head.add_row("review id", verdict.review_id)
    if verdict.error:
        head.add_row("error", Text(verdict.error, style="red"))
    parts: list[Table] = [head]
    if verdict.findings:
        parts.append(_findings_table(verdict))
    if verdict.rejected_findings:
        rejected = Table(title="citations refused by verification", expand=True)
        rejected.add_column("rule")
        rejected.add_column("reason")
        for item in verdict.rejected_findings:
            rejected.add_row(item.finding.rule_id, item.reason)
        parts.append(rejected)
    title = verdict.merchant_id or verdict.website or "review"
    return Panel(Group(*parts), title=f"[bold]{title}[/bold]  {verdict.website or ''}")


def _findings_table(verdict: Verdict) -> Table:
    table = Table(title="findings", expand=True, show_lines=True)
    table.add_column("category / rule", no_wrap=True)
    table.add_column("evidence")
    for finding in verdict.findings:
        evidence = Text(finding.rationale + "\n", style="")
        for citation in finding.citations:
            evidence.append_text(_citation_text(citation))
            evidence.append("\n")
        table.add_row(f"{finding.category.value}\n[dim]{finding.rule_id}[/dim]", evidence)
    return table


def print_verdict(verdict: Verdict, console: Console) -> None:
    console.print(verdict_panel(verdict))


def print_verdict_summary(verdicts: list[Verdict], console: Console) -> None:
    table = Table(title="verdicts")
    for column in ("merchant", "review", "decision", "categories", "confidence", "top evidence"):
        table.add_column(column)
    for verdict in verdicts:
        quote = next((c.quote for c in verdict.citations() if isinstance(c, PageCitation)), "-")
        table.add_row(
            verdict.merchant_id or verdict.website or "?",
            (verdict.review_id or "-")[:10],
            Text(verdict.decision.value, style=DECISION_STYLE[verdict.decision.value]),
            ", ".join(c.value for c in verdict.categories) or "-",
            f"{verdict.confidence:.2f}",
            quote[:90],
        )
    console.print(table)


def print_stored_review(
    stored: StoredReview, console: Console, prices: dict[str, ModelPrice] | None = None
) -> None:
    review = stored.review
    verdict = stored.parsed_verdict()
    console.print(
        f"[bold]review {review.id}[/bold]  merchant={review.merchant_id or '-'}  "
        f"started={review.started_at:%Y-%m-%d %H:%M:%S}  trigger={review.trigger}"
        + (f"  eval_run={review.eval_run_id}" if review.eval_run_id else "")
        + (f"  replay_of={review.replay_of}" if review.replay_of else "")
    )
    if verdict is None:
        console.print("[yellow]no verdict recorded (review interrupted or still running)[/yellow]")
    else:
        print_verdict(verdict, console)
    if stored.overrides:
        print_overrides(stored, console)
    cost = review_cost(stored.events, verdict.model if verdict else None, prices or {})
    if cost.calls or cost.cached_calls:
        console.print(f"[bold]model cost[/bold]  {cost.describe()}")
    events = Table(title="audit trail")
    for column in ("#", "kind", "name", "ms", "tokens", "error"):
        events.add_column(column)
    for event in stored.events:
        tokens = (event.prompt_tokens or 0) + (event.completion_tokens or 0)
        cached = ((event.input or {}).get("value") or {}).get("cached") is True
        events.add_row(
            str(event.seq),
            event.kind,
            event.name + (" (cached)" if cached else ""),
            f"{event.latency_ms:.0f}" if event.latency_ms is not None else "-",
            str(tokens) if tokens else "-",
            Text(event.error or "", style="red"),
        )
    console.print(events)
    pages = Table(title="fetched pages")
    for column in ("url", "status", "bytes", "sha256", "note"):
        pages.add_column(column)
    for page in stored.pages:
        note = page.error or ("truncated" if page.truncated else "")
        pages.add_row(
            page.url, str(page.status or "-"), str(page.bytes), (page.raw_sha256 or "")[:12], note
        )
    console.print(pages)


def print_overrides(stored: StoredReview, console: Console) -> None:
    """The analysts' overrides, oldest first, and the decision that stands."""
    table = Table(title="analyst overrides")
    for column in ("#", "when", "analyst", "decision", "categories", "reason"):
        table.add_column(column)
    for row in stored.overrides:
        decision = row.decision
        categories = "(verdict's)" if row.categories is None else ", ".join(row.categories)
        table.add_row(
            str(row.seq),
            f"{row.created_at:%Y-%m-%d %H:%M}",
            row.analyst,
            Text(decision, style=DECISION_STYLE.get(decision, "")),
            categories or "none",
            row.reason,
        )
    console.print(table)
    final = stored.final_decision()
    if final is not None:
        how = "confirmed" if final.confirmed else f"engine said {final.engine_decision.value}"
        console.print(
            f"decision that stands: [bold]{final.decision.value}[/bold] "
            f"({', '.join(c.value for c in final.categories) or 'no categories'}; "
            f"{how}; by {final.analyst})"
        )


def print_merchants(merchants: list[MerchantRecord], console: Console) -> None:
    table = Table(title=f"merchants ({len(merchants)})")
    for column in ("merchant_id", "name", "country", "mcc", "website"):
        table.add_column(column)
    for m in merchants:
        table.add_row(
            m.merchant_id, m.dba or m.legal_name or "-", m.country or "-", m.mcc or "-", m.website
        )
    console.print(table)
