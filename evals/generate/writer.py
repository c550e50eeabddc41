"""Write generated cases as dataset folders in the contract format."""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterable
from pathlib import Path
from typing import Any


def _write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8", newline="\n")


def jsonl(rows: Iterable[dict[str, Any]]) -> str:
    """One compact JSON object a line, UTF-8 kept readable."""
    return "".join(json.dumps(row, ensure_ascii=False) + "\n" for row in rows)


def reset(folder: Path) -> None:
    """Remove a previously generated dataset folder (only one that looks like a dataset)."""
    if folder.exists():
        if not (folder / "cases.jsonl").is_file():
            raise FileExistsError(
                f"{folder} exists and is not a generated dataset; not removing it"
            )
        shutil.rmtree(folder)


def write_dataset(
    folder: Path,
    cases: list[dict[str, Any]],
    sites: dict[str, dict[str, str]],
    extra: dict[str, str],
) -> None:
    """cases.jsonl, sites/CASE_ID/... and extra top-level files (splits.json, NOISE.md...)."""
    reset(folder)
    _write(folder / "cases.jsonl", jsonl(cases))
    for case_id, files in sites.items():
        for rel, text in files.items():
            _write(folder / "sites" / case_id / rel, text)
    for name, text in extra.items():
        _write(folder / name, text)
