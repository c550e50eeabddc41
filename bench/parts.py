"""CPU of two parts of a review alone: the crawl, and the offline engine over its pages.

    .venv/bin/python -m bench.parts [--merchants 300] [--concurrency 100]

The same synthetic 6-page sites as bench.latency and bench.throughput, served by a
separate process. First every site is crawled (tools.crawler.crawl_site, one shared
client as in a batch, `--concurrency` crawls in flight), then the shipped offline engine
assesses each crawl's pages in turn. Each line gives the reviewing process's CPU per
merchant: with `bench.auditwrites` (the audit log's part) it shows how much of a review's
CPU in `bench.latency` these fixed parts take, and so how far cutting the rest can go.
"""

from __future__ import annotations

import argparse
import asyncio
import time
from dataclasses import replace

from agent.assessor import AssessmentRequest
from agent.engines import offline_assessor
from agent.offline import OfflineAssessor
from agent.offline.snippets import SnippetMemo
from bench.common import bench
from bench.synthetic import Merchant
from merchant_review.pages import CrawlReport
from merchant_review.policy import load_corpus
from merchant_review.settings import CrawlSettings
from tools.crawler import crawl_site, make_client


async def crawl_all(
    merchants: list[Merchant], settings: CrawlSettings, concurrency: int
) -> list[CrawlReport]:
    """Crawl every merchant's site through one client, `concurrency` at a time."""
    slots = asyncio.Semaphore(concurrency)
    async with make_client(settings) as client:

        async def one(merchant: Merchant) -> CrawlReport:
            async with slots:
                return await crawl_site(merchant.record.website, settings, client=client)

        return await asyncio.gather(*(one(m) for m in merchants))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--merchants", type=int, default=300)
    parser.add_argument("--concurrency", type=int, default=100)
    args = parser.parse_args()
    with bench(args.merchants) as setup:
        engine = offline_assessor(setup.settings)
        assert isinstance(engine, OfflineAssessor)  # the shipped engine, run synchronously
        corpus = load_corpus()
        cpu, wall = time.process_time(), time.perf_counter()
        crawls = asyncio.run(crawl_all(setup.merchants, setup.settings.crawl, args.concurrency))
        cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
        pages = sum(len(crawl.pages) for crawl in crawls) / len(crawls)
        print(
            f"crawl of {len(crawls)} sites ({pages:.1f} pages each, concurrency "
            f"{args.concurrency}): {1000 * cpu / len(crawls):.1f} ms CPU per merchant, "
            f"wall {wall:.1f} s"
        )
        requests = [
            AssessmentRequest(
                merchant=merchant.record,
                website=merchant.record.website,
                crawl=crawl,
                pages=list(crawl.pages),
                rules=[],
                corpus=corpus,
            )
            for merchant, crawl in zip(setup.merchants, crawls, strict=True)
        ]
        # Loads the artefact and compiles the rules, on a copy: a request keeps its snippets
        # and matches (snippet_memo), which the timed pass must not find ready.
        engine.assess_pages(replace(requests[0], snippet_memo=SnippetMemo()))
        cpu = time.process_time()
        for request in requests:
            engine.assess_pages(request)
        cpu = time.process_time() - cpu
        print(
            f"offline engine ({engine.engine}) over those pages: "
            f"{1000 * cpu / len(requests):.1f} ms CPU per merchant"
        )


if __name__ == "__main__":
    main()
