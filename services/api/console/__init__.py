"""The web console for supervisors and auditors (issue 15): server-rendered pages served by the
API process, working without JavaScript, under the API's authorization (services/api/console)."""

from __future__ import annotations

from fastapi import APIRouter

from services.api.console.pages import router as pages_router
from services.api.console.sign_in import router as sign_in_router

ROUTERS: list[APIRouter] = [sign_in_router, pages_router]

__all__ = ["ROUTERS"]
