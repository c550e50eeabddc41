"""Eval reports: the list, one report as its self-contained HTML, and a comparison."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Query, Request
from fastapi.responses import FileResponse, HTMLResponse

from merchant_review.web.accounts import LoginSession
from merchant_review.web.auth import page_session
from merchant_review.web.headers import REPORT_CSP
from merchant_review.web.reports import (
    ReportNotFound,
    compare_files,
    list_reports,
    report_path,
)
from merchant_review.web.routes.common import render
from merchant_review.web.state import app_state

router = APIRouter(include_in_schema=False)
Login = Annotated[LoginSession, Depends(page_session)]


@router.get("/reports")
def reports_page(request: Request, login: Login) -> HTMLResponse:
    """The reports in the reports folder, and a form to compare two."""
    folder = app_state(request).web.reports_dir
    reports = list_reports(folder)
    return render(request, "reports.html.j2", login, reports=reports, folder=str(folder))


@router.get("/reports/compare")
def compare_page(
    request: Request,
    login: Login,
    a: Annotated[str, Query(max_length=200)],
    b: Annotated[str, Query(max_length=200)],
) -> HTMLResponse:
    """Report A (baseline) against B: metric deltas, changed cases, significance."""
    try:
        comparison = compare_files(app_state(request).web.reports_dir, a, b)
    except ReportNotFound as exc:
        raise HTTPException(404, detail=f"no comparable report: {exc}") from exc
    except (OSError, ValueError) as exc:
        raise HTTPException(400, detail=str(exc)) from exc
    return render(request, "compare.html.j2", login, comparison=comparison, a=a, b=b)


@router.get("/reports/files/{name}")
def report_file(request: Request, login: Login, name: str) -> FileResponse:
    """One report file; HTML under a CSP that allows no scripts and sandboxes the page."""
    try:
        path = report_path(app_state(request).web.reports_dir, name)
    except ReportNotFound as exc:
        raise HTTPException(404, detail=f"no report {name!r}") from exc
    if path.suffix == ".html":
        return FileResponse(
            path,
            media_type="text/html; charset=utf-8",
            headers={"Content-Security-Policy": REPORT_CSP},
        )
    return FileResponse(path, media_type="application/json", filename=path.name)
