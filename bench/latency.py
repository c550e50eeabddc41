"""Model-latency-bound batch: a scripted model that takes a fixed time per call.

    .venv/bin/python -m bench.latency [--merchants 1000] [--concurrency 100] [--delay 1.0]
                                      [--processes 2]

Every review asks the scripted model (agent/scripted.py) once; the ideal time is
ceil(merchants / concurrency) * calls per review * delay. Prints the ratio to it, and
the CPU time the reviewing processes used per review (what keeps the ratio above 1: the
reviews' own CPU work, done on one event loop per process).

`--processes P` splits the concurrency over P local runners on the same batch run (each
with its own scripted model, in-process), so P cores review at once. What a process
loads once (the evidence floor's offline engine, the review graph's modules) is loaded
before the clock starts, as in a long-running worker.
"""

from __future__ import annotations

import argparse
import json
import math
import resource
import subprocess
import sys
import time

from agent.llm import LLMAssessor
from agent.prompts import PromptSet
from agent.scripted import SCRIPTED_BASE_URL, ScriptedModel
from bench.common import bench
from merchant_review.batch import runs, service
from merchant_review.batch.changes import summarize
from merchant_review.batch.ratelimit import limited_http_client, limiter
from merchant_review.batch.selection import Selection
from merchant_review.policy import load_corpus
from merchant_review.settings import EngineChoice, ModelSettings, Settings

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


HELPER = """
import json, sys
from bench.latency import run_part
args = json.loads(sys.stdin.readline())
print(run_part(**args), flush=True)
"""


def _engine(
    settings: Settings, delay: float, rate: str | None
) -> tuple[ScriptedModel, service.Engine]:
    model = ScriptedModel(default=ScriptedModel.always_submit(**VERDICT), delay_s=delay)
    service.warm_model_reviews(settings)
    service.warm_reviews()
    return model, service.Engine(scripted_engine(model, settings.model, rate), load_corpus())


def run_part(settings_json: str, run_id: str, delay: float, rate: str | None, ready: bool) -> str:
    """A helper process's share of the run: its model calls and CPU seconds, as a line."""
    from merchant_review.storage import Store

    settings = Settings.model_validate_json(settings_json)
    store = Store(settings.database_url)
    model, engine = _engine(settings, delay, rate)
    if ready:
        print("ready", flush=True)
        sys.stdin.readline()
    cpu = _cpu_s()
    service.run_here(settings, store, runs.get_run(store, run_id), engine)
    store.close()
    return f"{len(model.requests)} {_cpu_s() - cpu}"


def _helper(
    settings: Settings, run_id: str, delay: float, rate: str | None
) -> subprocess.Popen[str]:
    helper = subprocess.Popen(  # noqa: S603 (this interpreter, our own script)
        [sys.executable, "-c", HELPER], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    assert helper.stdin is not None and helper.stdout is not None
    args = {"settings_json": settings.model_dump_json(), "run_id": run_id, "delay": delay,
            "rate": rate, "ready": True}  # fmt: skip
    helper.stdin.write(json.dumps(args) + "\n")
    helper.stdin.flush()
    return helper


def _cpu_s() -> float:
    own = resource.getrusage(resource.RUSAGE_SELF)
    return own.ru_utime + own.ru_stime


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--merchants", type=int, default=1000)
    parser.add_argument("--concurrency", type=int, default=100)
    parser.add_argument("--delay", type=float, default=1.0)
    parser.add_argument("--rate", default=None, help="e.g. 200/s: also rate-limit model calls")
    parser.add_argument("--processes", type=int, default=1)
    args = parser.parse_args()
    model_settings = ModelSettings(name="scripted", base_url=SCRIPTED_BASE_URL)
    per_process = math.ceil(args.concurrency / args.processes)
    batch = {"concurrency": per_process, "rate": args.rate}
    with bench(args.merchants, engine=EngineChoice.LLM, model=model_settings, batch=batch) as b:
        model, engine = _engine(b.settings, args.delay, args.rate)
        run = service.create(b.settings, b.store, Selection(all=True), engine, force=False)
        helpers = [
            _helper(b.settings, run.id, args.delay, args.rate) for _ in range(args.processes - 1)
        ]
        for helper in helpers:  # loaded and waiting: start everyone together
            assert helper.stdout is not None and helper.stdout.readline().strip() == "ready"
        cpu, started = _cpu_s(), time.perf_counter()
        for helper in helpers:
            assert helper.stdin is not None
            helper.stdin.write("go\n")
            helper.stdin.close()
        service.run_here(b.settings, b.store, run, engine)
        cpu = _cpu_s() - cpu
        shares = [_share(helper) for helper in helpers]
        elapsed = time.perf_counter() - started
        requests = len(model.requests) + sum(calls for calls, _ in shares)
        cpu += sum(used for _, used in shares)
        statuses = summarize(b.store, run.id).statuses
    calls = requests / args.merchants
    ideal = math.ceil(args.merchants / args.concurrency) * calls * args.delay
    print(
        f"scripted model, {args.delay:g} s per call: {args.merchants} reviews at concurrency "
        f"{args.concurrency} ({args.processes} process(es)): {elapsed:.1f} s; ideal {ideal:.1f} s; "
        f"ratio {elapsed / ideal:.2f}; review CPU {1000 * cpu / args.merchants:.0f} ms per "
        f"review ({calls:g} calls per review; {statuses})"
    )


def _share(helper: subprocess.Popen[str]) -> tuple[int, float]:
    """(model calls, CPU seconds) of a helper's part of the run."""
    assert helper.stdout is not None
    out = helper.stdout.read()
    if helper.wait() != 0:
        raise SystemExit(f"a helper process failed (exit {helper.returncode})")
    calls, cpu = out.strip().splitlines()[-1].split()
    return int(calls), float(cpu)


if __name__ == "__main__":
    main()
