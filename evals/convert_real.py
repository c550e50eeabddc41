"""`python -m evals.convert_real --out evals/datasets [--data DIR]`: the real public data in
shared/data as eval datasets (real-websites, real-darknet, real-scam). See evals/DATASETS.md.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from evals.realdata import darknet, scam, websites
from evals.realdata.common import REAL_SEED, RealCase, capped, write_real

DEFAULT_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
Converter = Callable[[Path], tuple[list[RealCase], list[str]]]
# dataset folder → (source folder, case-id prefix, converter)
SOURCES: dict[str, tuple[str, str, Converter]] = {
    "real-websites": ("website-classification", "rw", websites.convert),
    "real-darknet": ("darknet-drugs-huji", "dn", darknet.convert),
    "real-scam": ("scam-blocklist", "sc", scam.convert),
}


LICENCES = {
    "website-classification": "Licence unknown (public Kaggle dataset, GitHub mirrors without a "
    "LICENSE file): internal evaluation only, do not redistribute.",
    "darknet-drugs-huji": "No licence stated (research data of Choshen et al. 2019; labels from "
    "DUTA-10K): internal evaluation only, do not republish.",
    "scam-blocklist": "GNU GPL v3 (jarelllama/Scam-Blocklist): keep as separate data under the "
    "GPL; "
    "do not mix into GPL-incompatible code.",
}


def _notice(name: str, source: str, converter: Converter, left_out: list[str]) -> str:
    """SOURCE.md of a converted dataset: where it comes from, its licence, its labelling."""
    module = sys.modules[converter.__module__]
    lines = [
        f"# {name}",
        "",
        f"Converted by `python -m evals.convert_real` from `shared/data/{source}` "
        "(read its SOURCE.md). Labelling rules: evals/DATASETS.md and the converter's docstring:",
        "",
        "```",
        (module.__doc__ or "").strip(),
        "```",
        "",
        f"Licence: {LICENCES[source]}",
        "",
        f"Left out ({len(left_out)}):",
        "",
        *[f"- {item}" for item in left_out],
    ]
    return "\n".join(lines) + "\n"


def convert_all(out: Path, data: Path, seed: int = REAL_SEED) -> dict[str, Any]:
    """Write every real dataset under OUT; returns their statistics and left-out ids."""
    report: dict[str, Any] = {}
    for name, (source, prefix, converter) in SOURCES.items():
        cases, left_out = converter(data / source)
        notice = _notice(name, source, converter, left_out)
        stats = write_real(out / name, prefix, capped(cases, seed), notice)
        report[name] = stats | {"available": len(cases), "left_out": left_out}
    return report


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m evals.convert_real", description=__doc__)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA, help="the shared/data folder")
    parser.add_argument("--seed", type=int, default=REAL_SEED)
    args = parser.parse_args(argv)
    print(json.dumps(convert_all(args.out, args.data, args.seed), indent=1, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
