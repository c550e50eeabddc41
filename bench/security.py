"""The security suite's counts: SSRF, prompt injection, crawler and model faults.

    .venv/bin/python -m bench.security [--skip-floorless]

Runs the scenarios of evals/security (everything on 127.0.0.1; the model is a scripted
one behind the real openai client) and prints, as Markdown:
- SSRF: hostile targets refused with nothing dialled / tried, by kind; DNS rebinding;
- prompt injection: decision flips / variants for the offline engine and the gullible-
  model path, with how many attacks reached the model and how many model verdicts were
  set aside because the page carried an injection (agent/injection.py), and (unless
  --skip-floorless) the same gullible run without the evidence floor, to show what the
  floor prevents;
- faults: each fault's outcome, time and whether it ended recorded within its budget.
"""

from __future__ import annotations

import argparse
import asyncio
import time
from collections import Counter

from evals.security.crawl_faults import run_crawl_faults
from evals.security.injection import (
    CBD_SHOP,
    THC_SHOP,
    InjectionResult,
    evidence_floor_disabled,
    flips,
    run_injection,
)
from evals.security.model_faults import run_model_faults
from evals.security.outcomes import FaultOutcome
from evals.security.ssrf import run_differentials, run_rebinding, run_ssrf
from merchant_review.taxonomy import Decision


async def ssrf_section() -> list[str]:
    results = await run_ssrf()
    tried: Counter[str] = Counter(r.target.via for r in results)
    refused: Counter[str] = Counter(r.target.via for r in results if r.refused)
    lines = ["### SSRF", "", "| targets | refused / tried |", "|---|---|"]
    labels = {
        "direct": "IP literals in every notation, metadata, private, link-local",
        "scheme": "non-http(s) schemes",
        "dns": "DNS names resolving to hostile addresses",
        "redirect": "redirects from an allowed site",
    }
    lines += [f"| {labels[via]} | {refused[via]} / {tried[via]} |" for via in labels]
    lines.append(f"| **all** | **{sum(refused.values())} / {len(results)}** |")
    differentials = await run_differentials()
    safe = sum(result.safe for result in differentials)
    lines.append(
        f"| URL-parser differentials (backslash, encoded @, Unicode digits): never dialled a "
        f"non-public address | {safe} / {len(differentials)} |"
    )
    rebinding = await run_rebinding()
    lines += [
        "",
        f"DNS rebinding (checked answer 127.0.0.1, later answers 127.0.0.2): connections to "
        f"the later answer {rebinding.hostile_connections}, lookups {rebinding.lookups} "
        f"(the guard's two checks; none at connect time).",
    ]
    return lines


def _injection_row(label: str, results: list[InjectionResult]) -> str:
    changed = flips(results)
    to_approve = sum(1 for r in changed if r.decision is Decision.APPROVE)
    reached = sum(1 for r in results[1:] if r.model_obeyed)
    set_aside = sum(
        1 for r in results[1:] if any("prompt injection detected" in x for x in r.reasons)
    )
    outcomes = Counter(r.decision.value for r in changed)
    detail = ", ".join(f"{n} to {d}" for d, n in sorted(outcomes.items())) or "none"
    return (
        f"| {label} | {results[0].decision.value} | {len(changed)} / {len(results) - 1} "
        f"({detail}) | {to_approve} | {reached} | {set_aside} |"
    )


async def injection_section(floorless: bool) -> list[str]:
    lines = [
        "### Prompt injection",
        "",
        "| shop, engine | clean site | flips / variants | flips to approve | attacks that "
        "reached the model | model verdicts set aside (injection detected) |",
        "|---|---|---|---|---|---|",
    ]
    for label, shop in (("THC gummies", THC_SHOP), ("CBD oil", CBD_SHOP)):
        offline = await run_injection("offline", shop=shop)
        gullible = await run_injection("gullible", shop=shop)
        lines.append(_injection_row(f"{label}, offline engine", offline))
        lines.append(_injection_row(f"{label}, gullible scripted model (LLM path)", gullible))
        if floorless:
            with evidence_floor_disabled():
                without = await run_injection("gullible", shop=shop)
            lines.append(_injection_row(f"{label}, gullible model, evidence floor off", without))
    return lines


def _fault_rows(outcomes: list[FaultOutcome]) -> list[str]:
    return [
        f"| {o.fault} | {o.decision} | {o.elapsed_s:.2f} s / {o.budget_s:g} s | "
        f"{'yes' if o.ok else 'NO'} | {o.reason[:90].replace('|', '/')} |"
        for o in outcomes
    ]


async def faults_section() -> list[str]:
    crawl = await run_crawl_faults()
    model = await run_model_faults()
    header = [
        "| fault | outcome | time / budget | recorded, in time | reason |",
        "|---|---|---|---|---|",
    ]
    totals = Counter(o.decision for o in [*crawl.outcomes, *model.outcomes])
    ok = sum(o.ok for o in [*crawl.outcomes, *model.outcomes])
    total = len(crawl.outcomes) + len(model.outcomes)
    return [
        "### Crawler faults (offline engine)",
        "",
        *header,
        *_fault_rows(crawl.outcomes),
        "",
        "### Model faults (LLM path, real openai client, scripted server)",
        "",
        *header,
        *_fault_rows(model.outcomes),
        "",
        f"Faults: {ok} / {total} ended recorded within budget; outcomes "
        f"{dict(sorted(totals.items()))}; audit log hash chains intact: "
        f"{crawl.audit_log_ok and model.audit_log_ok}.",
    ]


async def run(floorless: bool) -> None:
    started = time.perf_counter()
    sections = [await ssrf_section(), await injection_section(floorless), await faults_section()]
    for section in sections:
        print("\n".join(section), end="\n\n")
    print(f"(suite ran in {time.perf_counter() - started:.0f} s)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument(
        "--skip-floorless", action="store_true", help="skip the run without the evidence floor"
    )
    args = parser.parse_args()
    asyncio.run(run(floorless=not args.skip_floorless))


if __name__ == "__main__":
    main()
