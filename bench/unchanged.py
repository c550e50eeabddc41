"""Re-review of an unchanged base: every merchant carried forward, zero model calls.

    .venv/bin/python -m bench.unchanged [--merchants 400] [--concurrency 16]

A first batch reviews every merchant with the scripted LLM engine; a second batch over
the same, unchanged sites and records re-crawls each site, finds the same pages and
carries the previous verdict forward. Prints the second run's time and model calls.
"""

from __future__ import annotations

import argparse
import time

from agent.scripted import SCRIPTED_BASE_URL, ScriptedModel
from bench.common import bench
from bench.latency import VERDICT, scripted_engine
from merchant_review.batch import service
from merchant_review.batch.changes import summarize
from merchant_review.batch.selection import Selection
from merchant_review.policy import load_corpus
from merchant_review.settings import EngineChoice, ModelSettings


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--merchants", type=int, default=400)
    parser.add_argument("--concurrency", type=int, default=16)
    args = parser.parse_args()
    model_settings = ModelSettings(name="scripted", base_url=SCRIPTED_BASE_URL)
    model = ScriptedModel(default=ScriptedModel.always_submit(**VERDICT))
    batch = {"concurrency": args.concurrency}
    with bench(args.merchants, engine=EngineChoice.LLM, model=model_settings, batch=batch) as b:
        engine = service.Engine(scripted_engine(model, model_settings, None), load_corpus())
        first = service.create(b.settings, b.store, Selection(all=True), engine, force=False)
        started = time.perf_counter()
        service.run_here(b.settings, b.store, first, engine)
        reviewed_s = time.perf_counter() - started
        calls = len(model.requests)
        again = service.create(b.settings, b.store, Selection(all=True), engine, force=False)
        started = time.perf_counter()
        service.run_here(b.settings, b.store, again, engine)
        carried_s = time.perf_counter() - started
        statuses = summarize(b.store, again.id).statuses
    print(
        f"unchanged base, {args.merchants} merchants (6-page sites), concurrency "
        f"{args.concurrency}: first review {reviewed_s:.1f} s ({calls} model calls); "
        f"re-review {carried_s:.1f} s, {args.merchants / carried_s:.1f} merchants/s, "
        f"model calls {len(model.requests) - calls} ({statuses})"
    )


if __name__ == "__main__":
    main()
