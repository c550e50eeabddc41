"""scam-blocklist: verbatim text fragments that the Scam-Blocklist project searches for to
find scam and fake-shop sites (config/search_terms.csv).

The source says only "this copy appears on scam sites": no taxonomy category per fragment,
and a fake shop is fraud, which the taxonomy has no category for. A one-page site holding a
single boilerplate paragraph shows no real business and supports no category, so every case
is `escalate` with no categories (see evals/DATASETS.md, "real-scam"). Read results on this
set as flag recall (not approve); decision accuracy only measures escalate vs the rest.
"""

from __future__ import annotations

import csv
from pathlib import Path

from evals.realdata.common import RealCase, one_line
from merchant_review.taxonomy import Decision

FILE = "scam_site_search_terms.csv"


def convert(folder: Path) -> tuple[list[RealCase], list[str]]:
    """(cases, nothing left out): one escalate case per search-term fragment."""
    with (folder / FILE).open(encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle))
    cases = []
    for n, row in enumerate(rows, start=1):
        text = row["Search term"].strip()
        status = "retired" if row["Ignore (y/N)"].strip().lower() == "y" else "active"
        why = (
            f"Scam-site copy ({status} search term): no business shown and no category "
            "the source can support; a human decides."
        )
        cases.append(
            RealCase(
                f"scam-blocklist:search_terms row {n}",
                one_line(text, 60),
                [text],
                Decision.ESCALATE,
                [],
                why,
            )
        )
    return cases, []
