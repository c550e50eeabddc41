"""Offline batch throughput: N merchants with 6-page sites served locally, merchants/s.

    .venv/bin/python -m bench.throughput [--merchants 400] [--concurrency 8] [--processes 2]

The sites are served by a separate process. `--processes P` runs P local runners on the
same batch run (they share the work through claims), so P cores review at once; the
helper processes start and load their engine before the clock starts, as long-running
workers would have. Also prints the CPU time the reviewing processes used per merchant,
and, apart, the site server's.
"""

from __future__ import annotations

import argparse
import resource
import subprocess
import sys
import time

from bench.common import bench
from merchant_review.batch import service
from merchant_review.batch.changes import summarize
from merchant_review.batch.selection import Selection

HELPER = """
import resource, sys
from merchant_review.batch import runs, service
from merchant_review.settings import Settings
settings = Settings.model_validate_json(sys.stdin.readline())
from merchant_review.storage import Store
store = Store(settings.database_url)
run = runs.get_run(store, sys.argv[1])
engine = service.Engine.from_settings(settings)
print("ready", flush=True)
sys.stdin.readline()  # "go": every process starts reviewing at once
used = resource.getrusage(resource.RUSAGE_SELF)
service.run_here(settings, store, run, engine)
done = resource.getrusage(resource.RUSAGE_SELF)
print(done.ru_utime + done.ru_stime - used.ru_utime - used.ru_stime, flush=True)
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--merchants", type=int, default=400)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--processes", type=int, default=1)
    parser.add_argument("--database-url", default=None)
    args = parser.parse_args()
    batch = {"concurrency": args.concurrency}
    with bench(args.merchants, args.database_url, engine="offline", batch=batch) as b:
        engine = service.Engine.from_settings(b.settings)
        run = service.create(b.settings, b.store, Selection(all=True), engine, force=False)
        # Helpers start (interpreter, imports, engine) before the clock, as a long-running
        # worker would have: the measured time is reviewing time in every process.
        helpers = [_helper(run.id, b.settings.model_dump_json()) for _ in range(args.processes - 1)]
        for helper in helpers:
            assert helper.stdout is not None and helper.stdout.readline().strip() == "ready"
        server = b.server.cpu_s()
        started, (user, system) = time.perf_counter(), _cpu_s()
        for helper in helpers:
            assert helper.stdin is not None
            helper.stdin.write("go\n")
            helper.stdin.close()
        service.run_here(b.settings, b.store, run, engine)
        user, system = (end - start for end, start in zip(_cpu_s(), (user, system), strict=True))
        cpu = user + system + sum(_helper_cpu_s(helper) for helper in helpers)
        elapsed = time.perf_counter() - started
        server = b.server.cpu_s() - server
        statuses = summarize(b.store, run.id).statuses
    rate, per = args.merchants / elapsed, 1000 / args.merchants
    print(
        f"offline throughput: {args.merchants} merchants (6-page sites), concurrency "
        f"{args.concurrency} x {args.processes} process(es): {elapsed:.1f} s, "
        f"{rate:.1f} merchants/s; review CPU {per * cpu:.1f} ms per merchant (this process: "
        f"user {per * user:.0f}, system {per * system:.0f}); site server CPU "
        f"{per * server:.1f} ms per merchant ({statuses})"
    )


def _cpu_s() -> tuple[float, float]:
    own = resource.getrusage(resource.RUSAGE_SELF)
    return own.ru_utime, own.ru_stime


def _helper_cpu_s(helper: subprocess.Popen[str]) -> float:
    """A helper's CPU seconds while it reviewed (it prints them when done)."""
    assert helper.stdout is not None
    out = helper.stdout.read()
    if helper.wait() != 0:
        raise SystemExit(f"a helper process failed (exit {helper.returncode})")
    return float(out.strip().splitlines()[-1])


def _helper(run_id: str, settings_json: str) -> subprocess.Popen[str]:
    helper = subprocess.Popen(  # noqa: S603 (this interpreter, our own script)
        [sys.executable, "-c", HELPER, run_id],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert helper.stdin is not None
    helper.stdin.write(settings_json + "\n")
    helper.stdin.flush()
    return helper


if __name__ == "__main__":
    main()
