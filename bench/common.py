"""Shared benchmark set-up: synthetic merchants, their sites served by a separate process."""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from bench.synthetic import Merchant, make_merchants
from merchant_review.settings import Settings
from merchant_review.storage import Store

SERVE = """
import json, resource, sys
from pathlib import Path
from merchant_review.sitehost import SiteHost
with SiteHost() as host:
    for root in sorted(Path(sys.argv[1]).iterdir()):
        host.add_site(root.name, root)
    print(json.dumps(host.origin_overrides()), flush=True)
    for _ in sys.stdin:  # each line asks for our CPU seconds; serve until stdin closes
        used = resource.getrusage(resource.RUSAGE_SELF)
        print(used.ru_utime + used.ru_stime, flush=True)
"""


@dataclass
class Server:
    """The site server process: its origin overrides, and its CPU time on request."""

    process: subprocess.Popen[str]
    overrides: dict[str, str]

    def cpu_s(self) -> float:
        """CPU seconds the server has used so far (its share of the 2 cores)."""
        assert self.process.stdin is not None and self.process.stdout is not None
        self.process.stdin.write("cpu\n")
        self.process.stdin.flush()
        return float(self.process.stdout.readline())


@dataclass
class Bench:
    folder: Path
    merchants: list[Merchant]
    store: Store
    settings: Settings
    server: Server


@contextmanager
def served_sites(sites: Path) -> Iterator[Server]:
    """Serve every site under `sites` from a child process."""
    server = subprocess.Popen(  # noqa: S603 (this interpreter, our own script)
        [sys.executable, "-c", SERVE, str(sites)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert server.stdout is not None
        yield Server(server, json.loads(server.stdout.readline()))
    finally:
        assert server.stdin is not None
        server.stdin.close()
        server.wait(timeout=30)


@contextmanager
def bench(count: int, database_url: str | None = None, **settings: object) -> Iterator[Bench]:
    """`count` merchants with 6-page sites, imported into a store, served locally."""
    with tempfile.TemporaryDirectory(prefix="mr-bench-") as tmp:
        folder = Path(tmp)
        merchants = make_merchants(folder, count)
        url = database_url or f"sqlite:///{folder / 'bench.db'}"
        store = Store(url)
        store.import_merchants(m.record for m in merchants)
        with served_sites(folder / "sites") as server:
            base = Settings(database_url=url, **settings)  # type: ignore[arg-type]
            crawl = base.crawl.model_copy(
                update={"origin_overrides": server.overrides, "allow_private": ["127.0.0.1"]}
            )
            yield Bench(folder, merchants, store, base.model_copy(update={"crawl": crawl}), server)
        store.close()
