"""How often agent/injection.py fires on attacks and on benign text, on public data.

    .venv/bin/python -m bench.injection_detector [--data ../shared/data] [--examples 5]

Prints, as Markdown, detection rates on:
- deepset/prompt-injections: label 1 (injections; recall) and label 0 (legitimate
  prompts; false positives), by split. The patterns were written looking at the train
  split and at the suite's attacks (evals/security/injection.py), not at the test split;
- BIPIA attack texts by family (recall). Most BIPIA text attacks are task hijacks with
  no reviewer-directed wording ("What is the capital of Brazil?"): a pattern detector is
  not meant to catch them, and they cannot make the review approve (evals/security);
- real-websites (website_classification_partial.csv, the pages the eval gate converts
  into the real-websites set): false positives on real shop and service pages. That
  text is lower-cased and stripped of stop words upstream, so it understates what a raw
  page could trip; the role-prefix pattern, which needs capitals, never applies to it;
- the dev eval set (evals/datasets/dev, 262 synthetic merchant sites in EN/ES/DE/FR, raw
  HTML through the crawler's extractor): sites flagged among those without a planted
  injection (false positives), and detected among those with one (its attacks come from
  the same library as the suite's, so that recall is not independent).
"""

from __future__ import annotations

import argparse
import csv
import json
from collections import defaultdict
from collections.abc import Iterator
from pathlib import Path

from agent.injection import detect_pages, detect_text
from merchant_review.pages import PageSnapshot
from tools.extract import extract_page

DEFAULT_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
DEV = Path(__file__).resolve().parents[1] / "evals" / "datasets" / "dev"


def _rows(path: Path) -> Iterator[dict[str, str]]:
    csv.field_size_limit(10_000_000)
    with path.open(encoding="utf-8", newline="") as handle:
        yield from csv.DictReader(handle)


def _rate(hits: int, total: int) -> str:
    return f"{hits} / {total} ({100 * hits / max(total, 1):.1f} %)"


def deepset(data: Path) -> tuple[list[str], list[str]]:
    counts: dict[tuple[str, str], list[int]] = defaultdict(lambda: [0, 0])
    false_positives: list[str] = []
    for row in _rows(data / "deepset-prompt-injections" / "deepset_prompt_injections.csv"):
        fired = bool(detect_text(row["text"]))
        cell = counts[(row["split"], row["label"])]
        cell[0] += fired
        cell[1] += 1
        if fired and row["label"] == "0":
            false_positives.append(row["text"])
    lines = [
        f"| deepset {split} | {_rate(*counts[(split, '1')])} | {_rate(*counts[(split, '0')])} |"
        for split in ("train", "test")
    ]
    return lines, false_positives


def bipia(data: Path) -> list[str]:
    counts: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for row in _rows(data / "bipia-attacks" / "bipia_attacks_flat.csv"):
        cell = counts[f"{row['family']} {row['split']}"]
        cell[0] += bool(detect_text(row["attack_text"]))
        cell[1] += 1
    return [
        f"| BIPIA {name} attacks | {_rate(*cell)} | - |" for name, cell in sorted(counts.items())
    ]


def real_websites(data: Path) -> tuple[str, list[str]]:
    fired: list[str] = []
    total = 0
    for row in _rows(data / "website-classification" / "website_classification_partial.csv"):
        total += 1
        if hits := detect_text(row["cleaned_website_text"], row["website_url"]):
            fired.append(f"{row['website_url']}: {hits[0].pattern}: {hits[0].match!r}")
    return f"| real-websites pages | - | {_rate(len(fired), total)} |", fired


def _site_pages(root: Path) -> list[PageSnapshot]:
    pages = []
    for path in sorted(root.rglob("*.htm*")):
        url = f"https://{root.name}/{path.relative_to(root)}"
        extracted = extract_page(path.read_bytes(), url)
        fields = extracted.model_dump(
            include={"title", "text", "hidden_text", "meta", "image_alts"}
        )
        pages.append(PageSnapshot(url=url, requested_url=url, status=200, **fields))
    return pages


def dev_sites(dev: Path) -> tuple[list[str], list[str]]:
    counts: dict[bool, list[int]] = {True: [0, 0], False: [0, 0]}
    fired: list[str] = []
    for line in (dev / "cases.jsonl").read_text(encoding="utf-8").splitlines():
        case = json.loads(line)
        planted = "prompt injection" in case.get("notes", "")
        hits = detect_pages(_site_pages(dev / "sites" / case["case_id"]))
        counts[planted][0] += bool(hits)
        counts[planted][1] += 1
        if hits and not planted:
            fired.append(f"{case['case_id']}: {hits[0].pattern}: {hits[0].match!r}")
    rows = [f"| dev sites with a planted injection | {_rate(*counts[True])} | - |",
            f"| dev sites without one | - | {_rate(*counts[False])} |"]  # fmt: skip
    return rows, fired


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--examples", type=int, default=5, help="false positives to print")
    args = parser.parse_args()
    deepset_lines, deepset_fp = deepset(args.data)
    real_line, real_fp = real_websites(args.data)
    print("| text | attacks detected | benign text flagged |\n|---|---|---|")
    dev_lines, dev_fp = dev_sites(DEV)
    print("\n".join([*deepset_lines, *bipia(args.data), real_line, *dev_lines]))
    flagged = (("deepset legitimate", deepset_fp), ("real-websites", real_fp), ("dev", dev_fp))
    for label, examples in flagged:
        print(f"\nFlagged {label} examples (first {args.examples}):")
        for text in examples[: args.examples]:
            print(f"- {text[:160]!r}")


if __name__ == "__main__":
    main()
