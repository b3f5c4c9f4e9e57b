"""GET /dashboard: the monitoring page. Static HTML and JS from api/service/static, plotly.js from the installed
plotly package: nothing is fetched from anywhere but this server. Its data comes from /v1 (stats, alerts, pain
points, flagged reviews, conversation KPIs) with the API key the page asks for when the server wants one."""
import json
from functools import lru_cache
from pathlib import Path

import plotly
from fastapi import APIRouter, Request
from fastapi.responses import FileResponse, HTMLResponse, RedirectResponse

from models.aspects import aspect_names

STATIC = Path(__file__).resolve().parent.parent / "static"
PLOTLY_JS = Path(plotly.__file__).parent / "package_data" / "plotly.min.js"

router = APIRouter(include_in_schema=False)


@lru_cache(maxsize=4)
def _page(taxonomy: Path | None) -> str:
    names = json.dumps(aspect_names(taxonomy), ensure_ascii=False).replace("</", "<\\/")
    return (STATIC / "dashboard.html").read_text(encoding="utf-8").replace("{{ASPECT_NAMES}}", names)


@router.get("/")
async def root(request: Request):
    query = request.url.query  # /?lang=en → /dashboard?lang=en
    return RedirectResponse("/dashboard" + (f"?{query}" if query else ""))


@router.get("/dashboard", response_class=HTMLResponse)
async def dashboard(request: Request):
    return HTMLResponse(_page(request.app.state.service.settings.taxonomy),
                        headers={"Content-Security-Policy": "default-src 'self'; style-src 'self' 'unsafe-inline'; "
                                                            "script-src 'self' 'unsafe-eval'; img-src 'self' data: blob:"})


@router.get("/dashboard/dashboard.js")
async def dashboard_js():
    return FileResponse(STATIC / "dashboard.js", media_type="text/javascript")


@router.get("/dashboard/plotly.min.js")
async def plotly_js():
    return FileResponse(PLOTLY_JS, media_type="text/javascript", headers={"Cache-Control": "max-age=86400"})
