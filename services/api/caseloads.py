"""/v1/caseloads/{member_id} and /v1/orgs/{org}/caseloads: who is on whose caseload (§7b)."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

from fastapi import APIRouter, Response
from pydantic import BaseModel, Field

from domain.access_policy import CASELOAD_DATA_CLASSES, Action
from projections.caseload import caseload_of, caseloads_of_org
from services.api.access import Reader
from services.api.reads import MinPosition, caught_up
from services.app.disclosure import rows_notice_headers

router = APIRouter(tags=["caseloads"])


class CaseloadClient(BaseModel):
    client_id: UUID
    role: str
    last_contact_at: datetime | None
    last_contact_by_member_at: datetime | None
    next_due_at: datetime | None = Field(description="None once the client is out of care")
    open_flags: int = Field(
        description="Flags not resolved yet (open, acknowledged or cleared): a cleared flag"
        " still waits for a person to resolve it"
    )
    highest_severity: str | None
    open_handoffs: int
    open_handoffs_in: int
    open_handoffs_out: int
    in_care: bool = Field(
        default=True,
        description="False: discharged, kept on the caseload while a flag is not resolved",
    )
    unacknowledged_flags: int = Field(
        default=0, description="Of the open flags, those nobody has acknowledged yet"
    )
    cleared_flags: int = Field(
        default=0,
        description="Of the open flags, those whose condition cleared; a person resolves them",
    )


class Caseload(BaseModel):
    member_id: str
    clients: list[CaseloadClient]
    # 42 CFR 2.32: present when a row is a Part 2 client of another organization
    disclosure: dict[str, Any] | None = None


class MemberCaseload(BaseModel):
    member_id: str
    role: str
    client_count: int
    overdue_count: int


class OrgCaseloads(BaseModel):
    org: str
    members: list[MemberCaseload]


@router.get(
    "/v1/caseloads/{member_id}",
    summary="A member's clients in care, and discharged ones with flags not resolved; most urgent"
    " first",
)
def member_caseload(
    member_id: str, reader: Reader, response: Response, min_position: MinPosition = None
) -> Caseload:
    guard = reader.guard
    # one's own, or one's org's; logged with the rows shown, in one append
    guard.require(Action.READ_CASELOAD, member_id=member_id, rows_follow=True)
    with caught_up(reader.context.reads, ["caseload"], min_position) as (conn, tables):
        rows = caseload_of(conn, tables["caseload"], member_id)
    shown = guard.visible(Action.READ_CASELOAD, {r.client_id for r in rows}, CASELOAD_DATA_CLASSES)
    response.headers.update(rows_notice_headers(guard.last_rows_notice))
    # each row shown a logged read (consent: Part 2); the page validated in one call
    return Caseload.model_validate(
        {
            "member_id": member_id,
            "disclosure": guard.last_rows_notice,
            "clients": [r for r in rows if r.client_id in shown],
        },
        from_attributes=True,
    )


@router.get("/v1/orgs/{org}/caseloads", summary="Caseload size and overdue touchpoints per member")
def org_caseloads(org: str, reader: Reader, min_position: MinPosition = None) -> OrgCaseloads:
    reader.guard.require(Action.READ_ORG_CASELOAD, org=org)  # a supervisor of that organization
    context = reader.context
    with caught_up(context.reads, ["caseload"], min_position) as (conn, tables):
        rows = caseloads_of_org(conn, tables["caseload"], org, context.clock())
    return OrgCaseloads.model_validate({"org": org, "members": rows}, from_attributes=True)
