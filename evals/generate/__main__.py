"""`python -m evals.generate --out evals/datasets [--seed N] [--count N]`."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from evals.generate import DEV_SEED, generate


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m evals.generate", description=__doc__)
    parser.add_argument("--out", type=Path, required=True, help="writes OUT/dev and OUT/dev-noisy")
    parser.add_argument("--seed", type=int, default=DEV_SEED)
    parser.add_argument("--count", type=int, default=None, help="only the first N cases")
    args = parser.parse_args(argv)
    stats = generate(args.out, seed=args.seed, count=args.count)
    print(json.dumps(stats, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
