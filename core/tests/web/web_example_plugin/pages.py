"""The example plugin's pages, under ``/tools/aws/example``."""

from __future__ import annotations

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import HTMLResponse, RedirectResponse

from pcm_ops.security import require
from pcm_ops.web import flash, render
from web_example_plugin import REPORTS, VIEW

router = APIRouter(dependencies=[require(VIEW)])


@router.get("/", response_class=HTMLResponse)
async def overview(request: Request) -> HTMLResponse:
    return render(request, "example-tool/overview.html", {"items": ["alpha", "<beta>"]})


@router.get("/reports", response_class=HTMLResponse, dependencies=[require(REPORTS)])
async def reports(request: Request) -> HTMLResponse:
    return render(request, "example-tool/reports.html")


@router.get("/reports/{report_id}", response_class=HTMLResponse, dependencies=[require(REPORTS)])
async def report(request: Request, report_id: int) -> HTMLResponse:
    if report_id != 1:
        raise HTTPException(status_code=404, detail=f"Report {report_id} does not exist.")
    return render(request, "example-tool/reports.html")


@router.post("/save")
async def save(request: Request) -> RedirectResponse:
    flash(request, "Saved <everything>.", "success")
    return RedirectResponse("/tools/aws/example/", status_code=303)


@router.post("/save-on-response")
async def save_on_response() -> RedirectResponse:
    response = RedirectResponse("/tools/aws/example/", status_code=303)
    flash(response, "First.")
    flash(response, "Second.", "warning")
    return response


@router.post("/save-and-show", response_class=HTMLResponse)
async def save_and_show(request: Request) -> HTMLResponse:
    flash(request, "Shown at once.")
    return render(request, "example-tool/reports.html")


@router.get("/boom", response_class=HTMLResponse)
async def boom() -> HTMLResponse:
    raise RuntimeError("secret internals of the page")
