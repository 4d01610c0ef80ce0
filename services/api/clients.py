"""/v1/clients: enroll, find, record care events, read the record (also as of a past time),
history."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any
from uuid import UUID, uuid4

from fastapi import APIRouter, Header, Query, Request, Response
from fastapi.concurrency import run_in_threadpool
from pydantic import AwareDatetime, BaseModel

from domain.access_policy import Action, Decision, Principal, may_name_client_id
from domain.catalogue import event_json_schema
from domain.commands import RecordCareEvent
from domain.record import ClientRecord, client_record
from domain.recorded import Recorded as StoredEvent
from services.api.access import DataClasses, Guarded, Reader, Reading, Recorder, Recording
from services.api.deps import Context, CurrentPrincipal, Store
from services.api.examples import ENROLL_EXAMPLES, EVENT_EXAMPLES
from services.api.problems import Problem
from services.api.wire import read_json_object, to_event
from services.app.clients import MAX_QUERY, search_clients
from services.app.disclosure import (
    disclosure_block,
    erased_record,
    history_item,
    notice_headers,
    record_view,
    rows_notice,
    rows_notice_headers,
)
from services.app.record import Outcome

router = APIRouter(prefix="/v1/clients", tags=["clients"])


class Enrolled(BaseModel):
    client_id: UUID
    event_id: UUID
    version: int
    position: int
    recorded_at: datetime


class RecordedAnswer(BaseModel):
    event_id: UUID
    client_id: UUID
    type: str
    version: int
    position: int
    recorded_at: datetime


class ClientHit(BaseModel):
    client_id: UUID
    display_name: str
    given_name: str
    family_name: str
    program: str
    program_org: str
    enrolled_at: datetime


class ClientHits(BaseModel):
    items: list[ClientHit]
    disclosure: dict[str, Any] | None = None  # the 42 CFR 2.32 notice when a hit discloses


class HistoryPage(BaseModel):
    items: list[dict[str, Any]]
    next: int | None
    disclosure: dict[str, Any] | None = None  # the 42 CFR 2.32 notice when this read discloses


def _body_doc(examples: dict[str, Any]) -> dict[str, Any]:
    return {
        "requestBody": {
            "required": True,
            "content": {
                "application/json": {
                    "schema": {"$ref": "#/components/schemas/CareEvent"},
                    "examples": examples,
                }
            },
        }
    }


MAX_VERSION_DIGITS = 18  # a PostgreSQL bigint


def _if_match(value: str | None) -> int | None:
    if value is None:
        return None
    text = value.strip().strip('"').removeprefix("W/").strip('"')
    # ASCII digits only (str.isdigit accepts "²" and "٣", which int() refuses), and no more than
    # a version can have (int() refuses 4,301 digits): a 400, never a 500
    if not (text.isascii() and text.isdigit() and len(text) <= MAX_VERSION_DIGITS):
        raise Problem("invalid_if_match", 'If-Match takes the client\'s version, e.g. "7".')
    return int(text)


async def _record(
    request: Request,
    response: Response,
    body: dict[str, Any],
    *,
    client_id: UUID,
    recorder: Recording,
    if_match: str | None,
    expected_type: str | None = None,
) -> Outcome:
    event_type = body.get("type", expected_type)
    await recorder.guard.write(client_id, event_type, enroll=bool(expected_type))
    event = to_event(
        body,
        client_id=client_id,
        principal=recorder.principal,
        correlation_id=getattr(request.state, "correlation_id", None),
        expected_type=expected_type,
    )
    command = RecordCareEvent(event, now=recorder.clock())
    expected_version = _if_match(if_match)
    outcome = await recorder.handle.record_async(command, expected_version=expected_version)
    response.status_code = 201 if outcome.created else 200
    response.headers["ETag"] = f'"{outcome.version}"'
    return outcome


@router.post(
    "",
    status_code=201,
    response_model=Enrolled,
    summary="Enroll a client (the body is a ClientEnrolled event; client_id optional)",
    openapi_extra=_body_doc(ENROLL_EXAMPLES),
    responses={200: {"model": Enrolled, "description": "The same event_id again: first answer"}},
)
async def enroll_client(request: Request, response: Response, recorder: Recorder) -> Enrolled:
    body = read_json_object(await request.body())
    outcome = await _record(
        request,
        response,
        body,
        client_id=_client_id_of(body, recorder.principal),
        recorder=recorder,
        if_match=None,
        expected_type="ClientEnrolled",
    )
    return Enrolled.model_validate(outcome, from_attributes=True)


def _client_id_of(body: dict[str, Any], principal: Principal) -> UUID:
    """The new client's id: minted here, or named by a service (an integration that mints ids
    in its own system). A person naming one is refused the same way whatever the id, so the
    answer never tells whether some other program already holds a client with it
    (42 CFR 2.13(c))."""
    given = body.get("client_id")
    if given is None:
        return uuid4()
    if not may_name_client_id(principal):
        raise Problem(
            "client_id_not_accepted",
            "A new client's id is chosen by the service; leave client_id out.",
            errors=[{"loc": ["client_id"], "msg": "Only services name a new client's id"}],
        )
    try:
        return UUID(str(given))
    except ValueError:
        raise Problem(
            "validation_error",
            "client_id must be a UUID.",
            errors=[{"loc": ["client_id"], "msg": "Input should be a valid UUID"}],
        ) from None


@router.post(
    "/{client_id}/events",
    status_code=201,
    response_model=RecordedAnswer,
    summary="Record a care event for a client",
    openapi_extra=_body_doc(EVENT_EXAMPLES),
    responses={
        200: {"model": RecordedAnswer, "description": "The same event_id again: first answer"}
    },
)
async def record_event(
    client_id: UUID,
    request: Request,
    response: Response,
    recorder: Recorder,
    if_match: Annotated[str | None, Header(description="Expected client version")] = None,
) -> RecordedAnswer:
    outcome = await _record(
        request,
        response,
        read_json_object(await request.body()),
        client_id=client_id,
        recorder=recorder,
        if_match=if_match,
    )
    return RecordedAnswer.model_validate(outcome, from_attributes=True)


@router.get(
    "",
    response_model=ClientHits,
    summary="Find clients by name or id among those you have a relationship with",
    description=(
        "Staff (care-team roles and supervisors) search by words of the name or by client id. "
        "Only clients the caller has a relationship with appear (others, existing or not, "
        "never do); each client shown is authorized and logged as a read of its record."
    ),
)
async def search(
    guard: Guarded,
    context: Context,
    response: Response,
    q: Annotated[str, Query(max_length=MAX_QUERY, description="Name words or a client id")] = "",
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
) -> ClientHits:
    decided: dict[UUID, Decision] = {}
    hits = await run_in_threadpool(
        search_clients,
        guard.privacy.gate,
        context.store,
        context.reads,
        guard.principal,
        q,
        limit=limit,
        purpose=guard.purpose,
        correlation_id=guard.correlation_id,
        decided=decided,
    )
    notice = rows_notice(decided)
    response.headers.update(rows_notice_headers(notice))
    return ClientHits(
        items=[ClientHit.model_validate(h, from_attributes=True) for h in hits], disclosure=notice
    )


@router.get("/{client_id}", summary="The client's record, now or as of a past recorded time")
async def read_client(
    client_id: UUID,
    reader: Reader,
    response: Response,
    as_of: Annotated[AwareDatetime | None, Query(description="A past recorded time")] = None,
    data_class: DataClasses = None,
) -> dict[str, Any]:
    action = Action.READ_RECORD if as_of is None else Action.READ_RECORD_AS_OF
    if as_of is None:  # authorized, then from this process's snapshot: one thread hop
        decision, (record, history) = await run_in_threadpool(
            _current_record, reader, client_id, data_class
        )
    else:
        decision = await reader.guard.read(client_id, action, data_class)
        history = await run_in_threadpool(reader.context.store.load, client_id)
        history = [r for r in history if r.recorded_at <= as_of]
        record = client_record(history)
    if record is None:
        if history is None:
            history = await run_in_threadpool(reader.context.store.load, client_id)
        erased = erased_record(history)  # crypto-shredded: the skeleton only
        if erased is None:
            raise Problem("client_not_enrolled", "No such client.")
        return erased
    response.headers["ETag"] = f'"{record.version}"'
    response.headers.update(notice_headers(decision))
    return record_view(record.to_dict(), decision, named=data_class is not None)


def _current_record(
    reader: Reading, client_id: UUID, data_class: list[str] | None
) -> tuple[Decision, tuple[ClientRecord | None, list[StoredEvent] | None]]:
    """The read authorized (and logged), then the record now, caught up with the store."""
    decision = reader.guard.read_now(client_id, Action.READ_RECORD, data_class)
    return decision, reader.context.records.current(client_id)


@router.get("/{client_id}/events", response_model=HistoryPage, summary="The client's history")
async def client_history(
    client_id: UUID,
    principal: CurrentPrincipal,
    store: Store,
    response: Response,
    guard: Guarded,
    after_version: Annotated[int, Query(ge=0)] = 0,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    data_class: DataClasses = None,
) -> HistoryPage:
    decision = await guard.read(client_id, Action.READ_HISTORY, data_class)
    page: list[StoredEvent] = await run_in_threadpool(
        store.load, client_id, after_version=after_version, limit=limit + 1
    )
    if not page and after_version == 0:
        raise Problem("client_not_enrolled", "No such client.")
    more = len(page) > limit
    page = page[:limit]
    shown = (history_item(r, principal, decision, named=data_class is not None) for r in page)
    items = [item for item in shown if item is not None]
    response.headers.update(notice_headers(decision))
    return HistoryPage(
        items=items,
        next=page[-1].version if more and page else None,
        disclosure=disclosure_block(decision),
    )


def care_event_schema() -> dict[str, Any]:
    """The event union's JSON Schema, added to the OpenAPI components as `CareEvent`."""
    return event_json_schema()
