"""/docs (Swagger UI) and /redoc (ReDoc) served whole by the app, so they render on a network
with no internet: the assets come from the `fastapi-offline` wheel (Swagger UI, Apache-2.0;
ReDoc, MIT; see services/api/static/LICENSES.md) and our own start-up scripts, no CDN and no
inline script (the pages send a Content-Security-Policy like the console's)."""

from __future__ import annotations

from pathlib import Path

import fastapi_offline
from fastapi import APIRouter, FastAPI
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles

STATIC = Path(__file__).parent / "static"
VENDOR = Path(fastapi_offline.__file__).parent / "static"

router = APIRouter(include_in_schema=False)

_SWAGGER = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>CareCircle API</title>
<link rel="icon" href="/static/vendor/favicon.png">
<link rel="stylesheet" href="/static/vendor/swagger-ui.css"></head>
<body><div id="swagger-ui"></div>
<script src="/static/vendor/swagger-ui-bundle.js"></script>
<script src="/static/docs/swagger-init.js"></script></body></html>
"""

_REDOC = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>CareCircle API</title>
<link rel="icon" href="/static/vendor/favicon.png"></head>
<body><div id="redoc"></div>
<script src="/static/vendor/redoc.standalone.js"></script>
<script src="/static/docs/redoc-init.js"></script></body></html>
"""


@router.get("/docs", response_class=HTMLResponse)
def swagger_ui() -> HTMLResponse:
    return HTMLResponse(_SWAGGER)


@router.get("/redoc", response_class=HTMLResponse)
def redoc() -> HTMLResponse:
    return HTMLResponse(_REDOC)


def install_static(app: FastAPI) -> None:
    """The console's and the docs' assets: ours under /static, the vendored under /static/vendor."""
    app.mount("/static/vendor", StaticFiles(directory=VENDOR), name="vendor")
    app.mount("/static", StaticFiles(directory=STATIC), name="static")
