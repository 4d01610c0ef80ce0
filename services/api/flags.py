"""/v1/flags: the early warnings by client, member, organization, severity and status; a
clinician's acknowledgement of one flag, and a person's resolution of it with a note
(services/app/flags.py)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Annotated, Any, Literal
from uuid import UUID

from fastapi import APIRouter, Body, Query, Response
from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from domain.access_policy import FLAG_DATA_CLASSES, Action
from domain.envelope import Note
from projections.early_warning import flag_by_id, flags_page
from services.api.access import Guard, Guarded, Reader
from services.api.context import ApiContext
from services.api.deps import Context
from services.api.reads import MinPosition, caught_up
from services.app.disclosure import rows_notice, rows_notice_headers
from services.app.flags import acknowledge_flag as acknowledge
from services.app.flags import resolve_flag as resolve
from services.app.record import Outcome

router = APIRouter(prefix="/v1/flags", tags=["flags"])


class Flag(BaseModel):
    flag_id: str
    client_id: UUID
    rule_id: str
    rule_version: int
    severity: str
    status: str
    reason: str
    raised_at: datetime
    evidence_event_ids: list[UUID]
    acknowledged_at: datetime | None
    resolved_at: datetime | None
    cleared_at: datetime | None = Field(
        default=None, description="When the condition stopped holding (status `cleared`)"
    )


class FlagPage(BaseModel):
    items: list[Flag]
    next: int | None
    # 42 CFR 2.32: present when a row is a Part 2 client of another organization
    disclosure: dict[str, Any] | None = None


class Acknowledgement(BaseModel):
    model_config = ConfigDict(extra="forbid", hide_input_in_errors=True)

    event_id: UUID | None = Field(default=None, description="Idempotency key; server assigns")
    note: Note | None = None


ResolutionNote = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=4000)
]


class Resolution(BaseModel):
    model_config = ConfigDict(extra="forbid", hide_input_in_errors=True)

    event_id: UUID | None = Field(default=None, description="Idempotency key; server assigns")
    note: Annotated[
        str, StringConstraints(strip_whitespace=True, min_length=1, max_length=4000)
    ] = Field(description="Why the flag can be closed; required, never blank")


class Acknowledged(BaseModel):
    flag_id: str
    event_id: UUID
    client_id: UUID
    version: int
    position: int
    recorded_at: datetime


@router.get("", summary="Flags, filtered; paged by `after` (the `next` of the previous page)")
def list_flags(
    reader: Reader,
    client_id: UUID | None = None,
    org: str | None = None,
    member_id: str | None = None,
    severity: Literal["low", "moderate", "high", "critical"] | None = None,
    status: Literal["open", "acknowledged", "cleared", "resolved"] | None = None,
    after: Annotated[int, Query(ge=0)] = 0,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    min_position: MinPosition = None,
    *,
    response: Response,
) -> FlagPage:
    guard, who = reader.guard, reader.principal
    if client_id is not None:  # one client: 404 / 403 as for the record
        decision = guard.require(Action.READ_FLAGS, client_id)
    else:  # a clinician's own clients, a supervisor's organization
        guard.require(Action.READ_FLAGS, member_id=member_id, org=org, rows_follow=True)
        member_id = who.sub if who.role != "supervisor" else member_id
        org = who.org if who.role == "supervisor" else org
    with caught_up(reader.context.reads, ["early_warning"], min_position) as (conn, tables):
        page = flags_page(
            conn,
            tables["early_warning"],
            client_id=client_id,
            org=org,
            member_id=member_id,
            severity=severity,
            status=status,
            after=after,
            limit=limit,
        )
    clients = {v.client_id for v in page.items}
    shown = clients if client_id else guard.visible(Action.READ_FLAGS, clients, FLAG_DATA_CLASSES)
    notice = rows_notice({client_id: decision}) if client_id else guard.last_rows_notice
    response.headers.update(rows_notice_headers(notice))
    return FlagPage.model_validate(  # the page validated in one call
        {
            "items": [v for v in page.items if v.client_id in shown],
            "next": page.next,
            "disclosure": notice,
        },
        from_attributes=True,
    )


def _note_on_flag(
    use_case: Callable[..., Outcome],
    flag_id: str,
    context: ApiContext,
    guard: Guard,
    response: Response,
    min_position: int | None,
    *,
    event_id: UUID | None,
    note: str | None,
) -> Acknowledged:
    """Find the flag's client in the read model, record the note by the use case (201, or 200
    for the same event_id again) and answer where it stands in the store."""
    with caught_up(context.reads, ["early_warning"], min_position) as (conn, tables):
        view = flag_by_id(conn, tables["early_warning"], flag_id)
    outcome = use_case(
        guard.privacy.gate,
        context.handler,
        guard.principal,
        flag_id,
        None if view is None else view.client_id,
        event_id=event_id,
        note=note,
        clock=context.clock,
        purpose=guard.purpose,
        correlation_id=guard.correlation_id,
    )
    response.status_code = 201 if outcome.created else 200
    return Acknowledged(
        flag_id=flag_id,
        event_id=outcome.event_id,
        client_id=outcome.client_id,
        version=outcome.version,
        position=outcome.position,
        recorded_at=outcome.recorded_at,
    )


@router.post(
    "/{flag_id}/acknowledge",
    status_code=201,
    summary="A clinician saw the flag and is acting on it",
    responses={200: {"model": Acknowledged, "description": "The same event_id again"}},
)
def acknowledge_flag(
    flag_id: str,
    context: Context,
    response: Response,
    body: Annotated[Acknowledgement | None, Body()] = None,
    min_position: MinPosition = None,
    *,
    guard: Guarded,
) -> Acknowledged:
    body = body or Acknowledgement()
    return _note_on_flag(
        acknowledge,
        flag_id,
        context,
        guard,
        response,
        min_position,
        event_id=body.event_id,
        note=body.note,
    )


@router.post(
    "/{flag_id}/resolve",
    status_code=201,
    summary="A person resolves the flag with a note (high and critical: clinical roles only)",
    responses={200: {"model": Acknowledged, "description": "The same event_id again"}},
)
def resolve_flag(
    flag_id: str,
    context: Context,
    response: Response,
    body: Annotated[Resolution, Body()],
    min_position: MinPosition = None,
    *,
    guard: Guarded,
) -> Acknowledged:
    return _note_on_flag(
        resolve,
        flag_id,
        context,
        guard,
        response,
        min_position,
        event_id=body.event_id,
        note=body.note,
    )
