"""Model-latency-bound batch: a scripted model that takes a fixed time per call.

    .venv/bin/python -m bench.latency [--merchants 1000] [--concurrency 100] [--delay 1.0]

Every review asks the scripted model (agent/scripted.py) once; the ideal time is
ceil(merchants / concurrency) * calls per review * delay. Prints the ratio to it.
"""

from __future__ import annotations

import argparse
import math
import time

from agent.llm import LLMAssessor
from agent.prompts import PromptSet
from agent.scripted import SCRIPTED_BASE_URL, ScriptedModel
from bench.common import bench
from merchant_review.batch import service
from merchant_review.batch.changes import summarize
from merchant_review.batch.ratelimit import limited_http_client, limiter
from merchant_review.batch.selection import Selection
from merchant_review.policy import load_corpus
from merchant_review.settings import EngineChoice, ModelSettings

VERDICT = {
    "findings": [],
    "site_status": "operating",
    "business_summary": "a shop",
    "confidence": 0.9,
}


def scripted_engine(model: ScriptedModel, settings: ModelSettings, rate: str | None) -> LLMAssessor:
    """The LLM assessor on the scripted model, behind the batch's rate limiter if any."""
    bucket = limiter(rate)
    client = model.client()
    if bucket is not None:
        import openai

        http = limited_http_client(bucket, inner=model.transport())
        client = openai.AsyncOpenAI(
            api_key="scripted", base_url=SCRIPTED_BASE_URL, max_retries=0, http_client=http
        )
    return LLMAssessor(client, settings, PromptSet.load())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--merchants", type=int, default=1000)
    parser.add_argument("--concurrency", type=int, default=100)
    parser.add_argument("--delay", type=float, default=1.0)
    parser.add_argument("--rate", default=None, help="e.g. 200/s: also rate-limit model calls")
    args = parser.parse_args()
    model_settings = ModelSettings(name="scripted", base_url=SCRIPTED_BASE_URL)
    model = ScriptedModel(default=ScriptedModel.always_submit(**VERDICT), delay_s=args.delay)
    batch = {"concurrency": args.concurrency, "rate": args.rate}
    with bench(args.merchants, engine=EngineChoice.LLM, model=model_settings, batch=batch) as b:
        engine = service.Engine(scripted_engine(model, model_settings, args.rate), load_corpus())
        run = service.create(b.settings, b.store, Selection(all=True), engine, force=False)
        started = time.perf_counter()
        service.run_here(b.settings, b.store, run, engine)
        elapsed = time.perf_counter() - started
        statuses = summarize(b.store, run.id).statuses
    calls = len(model.requests) / args.merchants
    ideal = math.ceil(args.merchants / args.concurrency) * calls * args.delay
    print(
        f"scripted model, {args.delay:g} s per call: {args.merchants} reviews at concurrency "
        f"{args.concurrency}: {elapsed:.1f} s; ideal {ideal:.1f} s; ratio {elapsed / ideal:.2f} "
        f"({calls:g} calls per review; {statuses})"
    )


if __name__ == "__main__":
    main()
