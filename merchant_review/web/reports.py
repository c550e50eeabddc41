"""Eval reports in the configured reports folder: list them, find one, compare two.

`merchant-review eval --out R.json --html R.html` writes a JSON report (the contract) and a
self-contained HTML page. Only plain file names directly inside the folder are served:
no paths, no hidden files, nothing a symlink leads out of the folder to.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from evals.compare import Comparison, compare_reports
from evals.report import load_report

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,200}$")
KINDS = {".html": "html", ".json": "json"}


class ReportNotFound(LookupError):
    """No report file of that name (or not a name that may be served)."""


@dataclass(frozen=True)
class ReportFile:
    name: str
    kind: str  # html | json
    size: int
    modified: datetime


def report_path(folder: Path, name: str) -> Path:
    """The file `name` in `folder`, if it is a report that may be served."""
    if not _NAME.match(name) or Path(name).suffix not in KINDS:
        raise ReportNotFound(name)
    root = folder.resolve()
    path = (root / name).resolve()
    if path.parent != root or not path.is_file():
        raise ReportNotFound(name)
    return path


def list_reports(folder: Path) -> list[ReportFile]:
    """The report files in `folder`, newest first (empty when the folder does not exist)."""
    if not folder.is_dir():
        return []
    found = []
    for path in folder.iterdir():
        try:
            report_path(folder, path.name)
        except ReportNotFound:
            continue
        stat = path.stat()
        modified = datetime.fromtimestamp(stat.st_mtime, UTC)
        found.append(ReportFile(path.name, KINDS[path.suffix], stat.st_size, modified))
    return sorted(found, key=lambda r: (r.modified, r.name), reverse=True)


def compare_files(folder: Path, a: str, b: str) -> Comparison:
    """Compare two JSON reports (ReportNotFound; ValueError for a file that is not one)."""
    paths = [report_path(folder, name) for name in (a, b)]
    if any(path.suffix != ".json" for path in paths):
        raise ReportNotFound("only JSON reports can be compared")
    return compare_reports(load_report(paths[0]), load_report(paths[1]))
