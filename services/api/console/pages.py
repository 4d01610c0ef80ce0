"""The console's pages: shift view, caseloads, client timeline, audit and access, search; and
the flag actions. Each page calls the use cases the API calls, through the same guard."""

from __future__ import annotations

from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from domain.access_policy import CASELOAD_DATA_CLASSES, Action, Decision
from domain.instruments import cut_points
from projections.audit_trail import audit_page
from projections.caseload import caseload_of, caseloads_of_org, open_flags_by_member
from services.api.console.base import ConsoleRoute, context_of, guard_of, page, session_of
from services.api.console.charts import Series, Threshold, svg_chart
from services.api.console.session import check_csrf, read_form
from services.app.clients import named, search_clients
from services.app.disclosure import rows_notice
from services.app.errors import AccessRefused
from services.app.flags import acknowledge_flag, resolve_flag
from services.app.shift import flag_client, shift_view
from services.app.timeline import Timeline, client_timeline
from services.app.verification import last_verification, run_verification

router = APIRouter(prefix="/console", route_class=ConsoleRoute, include_in_schema=False)

NOTE_MAX = 2000


@router.get("", response_class=HTMLResponse)
def home(request: Request) -> Response:
    session = session_of(request)
    role = session.principal.role
    target = "/console/audit" if role == "auditor" else "/console/shift"
    return RedirectResponse(target, status_code=303)


@router.get("/shift", response_class=HTMLResponse)
def shift(
    request: Request,
    done: Annotated[str | None, Query(pattern="^[a-z]+$")] = None,
    min_position: Annotated[int | None, Query(ge=0)] = None,
) -> Response:
    session = session_of(request)
    guard = guard_of(request, session)
    context = context_of(request)
    view = shift_view(
        guard.privacy.gate,
        context.store,
        context.reads,
        session.principal,
        now=context.clock(),
        purpose=guard.purpose,
        correlation_id=guard.correlation_id,
        min_position=min_position,
    )
    return page(
        request, "shift.html", session, shift=view, done=done, resolvable=True, notice=view.notice
    )


@router.post("/flags/{flag_id}/{action}")
async def act_on_flag(request: Request, flag_id: str, action: str) -> Response:
    """Acknowledge (note optional) or resolve (note required) one flag, as the API's routes do;
    back on the shift view once the read model holds the new state."""
    session = session_of(request)
    form = await read_form(request)
    context = context_of(request)
    check_csrf(request, context.console_key, form, session.token)
    use_case = {"acknowledge": acknowledge_flag, "resolve": resolve_flag}.get(action)
    if use_case is None:
        raise AccessRefused("not_found", "No such action.")
    guard = guard_of(request, session)
    client_id = await run_in_threadpool(flag_client, context.reads, flag_id)
    note = form.get("note", "").strip()[:NOTE_MAX]
    outcome = await run_in_threadpool(
        lambda: use_case(
            guard.privacy.gate,
            context.handler,
            session.principal,
            flag_id,
            client_id,
            event_id=None,
            note=note if action == "resolve" else note or None,  # type: ignore[arg-type]
            clock=context.clock,
            purpose=guard.purpose,
            correlation_id=guard.correlation_id,
        )
    )
    done = "acknowledged" if action == "acknowledge" else "resolved"
    after = f"/console/shift?done={done}&min_position={outcome.position}"
    return RedirectResponse(after, status_code=303)


@router.get("/caseloads", response_class=HTMLResponse)
def caseloads(request: Request) -> Response:
    session = session_of(request)
    principal = session.principal
    if principal.role != "supervisor":
        return RedirectResponse(f"/console/caseloads/{principal.sub}", status_code=303)
    guard = guard_of(request, session)
    guard.require(Action.READ_ORG_CASELOAD, org=principal.org)
    context = context_of(request)
    with context.reads.reading(["caseload"]) as (conn, tables):
        members = caseloads_of_org(conn, tables["caseload"], principal.org, context.clock())
        flags = open_flags_by_member(conn, tables["caseload"], principal.org)
    return page(request, "caseloads.html", session, members=members, flags=flags)


@router.get("/caseloads/{member_id}", response_class=HTMLResponse)
def member_caseload(request: Request, member_id: str) -> Response:
    session = session_of(request)
    guard = guard_of(request, session)
    guard.require(Action.READ_CASELOAD, member_id=member_id)
    context = context_of(request)
    with context.reads.reading(["caseload"]) as (conn, tables):
        rows = caseload_of(conn, tables["caseload"], member_id)
    decided: dict[UUID, Decision] = {}
    names = named(
        guard.privacy.gate,
        context.store,
        session.principal,
        {r.client_id for r in rows},
        action=Action.READ_CASELOAD,
        purpose=guard.purpose,
        correlation_id=guard.correlation_id,
        data_classes=CASELOAD_DATA_CLASSES,
        decided=decided,
    )
    shown = [(r, names[r.client_id]) for r in rows if r.client_id in names]
    now = context.clock()
    notice = rows_notice(decided)
    return page(
        request, "member.html", session, member_id=member_id, rows=shown, now=now, notice=notice
    )


def _charts(timeline: Timeline) -> list[object]:
    t = timeline.thresholds
    signals = timeline.signals
    charts = [
        Series("Mood (0-10)", [(p.at, p.value) for p in signals["mood"]], 0, 10),
        Series(
            "Craving (0-10)",
            [(p.at, p.value) for p in signals["craving"]],
            0,
            10,
            (Threshold(t.craving_high, f"CRV-1 high craving ≥ {t.craving_high:g}"),),
        ),
        Series(
            "Sleep (hours)",
            [(p.at, p.value) for p in signals["sleep_hours"]],
            0,
            12,
            (Threshold(t.sleep_below_hours, f"SLP-1 under {t.sleep_below_hours:g} h"),),
            unit=" h",
        ),
    ]
    for name, points in timeline.instruments.items():
        scale = cut_points(name)
        high = scale[0] if scale else max(p.value for p in points)
        bands = scale[1][1:] if scale else ()
        lines = tuple(Threshold(low, f"{band.replace('_', ' ')} ≥ {low}") for low, band in bands)
        charts.append(Series(f"{name} total", [(p.at, p.value) for p in points], 0, high, lines))
    return [(series.title, svg_chart(series)) for series in charts]


@router.get("/clients/{client_id}", response_class=HTMLResponse)
def client(request: Request, client_id: UUID) -> Response:
    session = session_of(request)
    guard = guard_of(request, session)
    context = context_of(request)
    timeline = client_timeline(
        guard.privacy.gate,
        context.store,
        session.principal,
        client_id,
        thresholds=context.thresholds,
        purpose=guard.purpose,
        correlation_id=guard.correlation_id,
    )
    charts = _charts(timeline)
    return page(request, "client.html", session, t=timeline, charts=charts, notice=timeline.notice)


@router.get("/search", response_class=HTMLResponse)
def search(request: Request, q: Annotated[str, Query(max_length=100)] = "") -> Response:
    session = session_of(request)
    guard = guard_of(request, session)
    context = context_of(request)
    decided: dict[UUID, Decision] = {}
    hits = (
        search_clients(
            guard.privacy.gate,
            context.store,
            context.reads,
            session.principal,
            q,
            limit=50,
            purpose=guard.purpose,
            correlation_id=guard.correlation_id,
            decided=decided,
        )
        if q.strip()
        else []
    )
    notice = rows_notice(decided)
    return page(request, "search.html", session, q=q, hits=hits, notice=notice)


@router.get("/audit", response_class=HTMLResponse)
def audit(
    request: Request,
    client_id: UUID | None = None,
    actor_id: Annotated[str | None, Query(max_length=128)] = None,
) -> Response:
    session = session_of(request)
    principal = session.principal
    guard = guard_of(request, session)
    context = context_of(request)
    actor_id = (actor_id or "").strip() or None
    trail = None
    if client_id is not None or actor_id is not None:
        guard.require(Action.READ_AUDIT, client_id, actor_id=actor_id)
        with context.reads.reading(["audit_trail"]) as (conn, tables):
            trail = audit_page(
                conn, tables["audit_trail"], client_id=client_id, actor_id=actor_id, limit=200
            ).items
        if principal.role == "supervisor" and client_id is None:
            trail = [e for e in trail if e.actor_org == principal.org]
    if client_id is not None:
        guard.require(Action.READ_ACCESS_LOG, client_id)
    else:
        guard.require(Action.READ_ACCESS_LOG)
    own_org = None if principal.role == "auditor" or client_id is not None else principal.org
    access = guard.privacy.access_log.entries(
        client_id=client_id, actor_id=actor_id, actor_org=own_org, limit=200, newest_first=True
    )
    verification = last_verification(context.reads.pool)
    return page(
        request,
        "audit.html",
        session,
        client_id=client_id,
        actor_id=actor_id,
        trail=trail,
        access=access,
        verification=verification,
    )


@router.post("/audit/verify")
async def verify(request: Request) -> Response:
    session = session_of(request)
    form = await read_form(request)
    context = context_of(request)
    check_csrf(request, context.console_key, form, session.token)
    guard = guard_of(request, session)
    await run_in_threadpool(guard.require, Action.VERIFY_AUDIT)
    await run_in_threadpool(
        lambda: run_verification(
            context.reads.pool,
            guard.privacy.access_log,
            key=context.settings.audit_key_bytes(),
            at=context.clock(),
            by=session.principal.sub,
        )
    )
    return RedirectResponse("/console/audit", status_code=303)


__all__ = ["AccessRefused", "router"]
