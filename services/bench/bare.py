"""The baseline of the HTTP measures: bare FastAPI on the same uvicorn, no dependencies, no
database (`uvicorn services.bench.bare:app`). What the framework and the server cost alone."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request

app = FastAPI()


@app.post("/v1/clients/{client_id}/events", status_code=201)
async def post_event(client_id: str, request: Request) -> dict[str, Any]:
    body = await request.json()
    return {"client_id": client_id, "type": body.get("type"), "version": 1, "position": 1}


@app.get("/{path:path}")
async def read(path: str) -> dict[str, Any]:
    return {"path": path, "items": []}
