"""The authorization dependency every client route takes: `guard: Guarded`.

It carries the caller, the purpose of use (`X-Purpose-Of-Use`: treatment, operations or
emergency; treatment when absent) and the correlation id to services/app/gatekeeper.py, which
decides, writes the access log and records disclosures; a refusal leaves as a problem (404 for no
relationship exactly as for an unknown client, 403 `forbidden` or `consent_required`).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterable
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Annotated, Any
from uuid import UUID

from fastapi import Depends, Header, Query, Request, Response
from fastapi.concurrency import run_in_threadpool
from fastapi.security import HTTPAuthorizationCredentials

from domain.access_policy import Action, Decision, Principal
from services.api.context import ApiContext
from services.api.deps import Bearer, Context, CurrentPrincipal, authenticated
from services.app.disclosure import disclosure_block, notice_headers, rows_notice
from services.app.gatekeeper import AccessRequest, Deferred
from services.app.privacy import Privacy
from services.app.record import CareRecordHandler


def privacy_of(context: ApiContext) -> Privacy:
    """The privacy parts the wiring built for this process."""
    return context.privacy


async def get_privacy(context: Context) -> Privacy:
    return privacy_of(context)


PrivacyParts = Annotated[Privacy, Depends(get_privacy)]


PurposeOfUse = Annotated[str, Header(description="treatment (default), operations or emergency")]


class Guard:
    """Authorizes this request's accesses to client data."""

    def __init__(
        self, privacy: Privacy, principal: Principal, purpose: str, correlation_id: str | None
    ) -> None:
        self.privacy = privacy
        self.principal = principal
        self.purpose = purpose
        self.correlation_id = correlation_id
        # the 42 CFR 2.32 notice of the rows `visible` last allowed (None: nothing disclosed)
        self.last_rows_notice: dict[str, Any] | None = None
        # a list read's own allowed entry, appended with its rows' entries by `visible`
        self._deferred: Deferred = []

    def request(
        self,
        action: Action,
        client_id: UUID | None = None,
        *,
        data_classes: list[str] | None = None,
        event_type: str | None = None,
    ) -> AccessRequest:
        return AccessRequest(
            principal=self.principal,
            action=action,
            client_id=client_id,
            purpose=self.purpose,
            data_classes=None if data_classes is None else frozenset(data_classes),
            event_type=event_type,
            correlation_id=self.correlation_id,
        )

    async def check(self, request: AccessRequest) -> Decision:
        decision: Decision = await run_in_threadpool(self.privacy.gate.check, request)
        return decision

    async def read(
        self, client_id: UUID, action: Action, data_classes: list[str] | None = None
    ) -> Decision:
        decision: Decision = await run_in_threadpool(self.read_now, client_id, action, data_classes)
        return decision

    async def write(self, client_id: UUID, event_type: object, *, enroll: bool) -> Decision:
        kind = event_type if isinstance(event_type, str) else None
        action = Action.ENROLL if enroll else Action.WRITE_EVENT
        request = self.request(action, client_id, event_type=kind)
        quick = self.privacy.gate.quick_check(request)  # no thread hop, no query when it can
        return quick if quick is not None else await self.check(request)

    async def stream(self, action: Action) -> Decision:
        return await self.check(self.request(action))

    # For sync routes (FastAPI runs them on a worker thread already).

    def read_now(
        self, client_id: UUID, action: Action, data_classes: list[str] | None = None
    ) -> Decision:
        """`read` on this thread: for a route that does the read's I/O in the same hop."""
        return self.privacy.gate.check(self.request(action, client_id, data_classes=data_classes))

    def require(
        self,
        action: Action,
        client_id: UUID | None = None,
        *,
        event_type: str | None = None,
        member_id: str | None = None,
        org: str | None = None,
        actor_id: str | None = None,
        rows_follow: bool = False,
    ) -> Decision:
        """Authorize one request now (a refusal raises AccessRefused, logged at once).
        `rows_follow`: a list read whose rows `visible` decides next; the request's allowed
        entry is appended with theirs, in one append (should the read fail before, the guard
        dependency appends it on its way out)."""
        request = replace(
            self.request(action, client_id, event_type=event_type),
            member_id=member_id,
            org=org,
            actor_id=actor_id,
        )
        return self.privacy.gate.check(request, deferred=self._deferred if rows_follow else None)

    def visible(
        self, action: Action, client_ids: Iterable[UUID], data_classes: frozenset[str]
    ) -> set[UUID]:
        """Which clients of a list the caller may see rows of (each decision logged)."""
        decisions = self.privacy.gate.check_many(
            self.principal,
            action,
            client_ids,
            purpose=self.purpose,
            data_classes=data_classes,
            correlation_id=self.correlation_id,
            also=self._deferred,
        )
        self._deferred = []
        self.last_rows_notice = rows_notice(decisions)
        return {client for client, decision in decisions.items() if decision.allowed}

    def flush(self) -> None:
        """Append a deferred entry that no `visible` took (the read failed in between)."""
        deferred, self._deferred = self._deferred, []
        if deferred:
            self.privacy.gate.access_log.append(deferred)

    @property
    def pending(self) -> bool:
        return bool(self._deferred)


def noticed(response: Response, decision: Decision | None) -> dict[str, Any] | None:
    """A one-client answer's 42 CFR 2.32 notice: its headers set on `response`, and the body's
    `disclosure` block returned (None when the read discloses nothing)."""
    if decision is None:
        return None
    response.headers.update(notice_headers(decision))
    return disclosure_block(decision)


async def guard(
    request: Request,
    principal: CurrentPrincipal,
    privacy: PrivacyParts,
    x_purpose_of_use: PurposeOfUse = "treatment",
) -> AsyncIterator[Guard]:
    correlation_id = getattr(request.state, "correlation_id", None)
    checker = Guard(privacy, principal, x_purpose_of_use.strip().lower(), correlation_id)
    try:
        yield checker
    finally:
        await _flush_pending(checker)


async def _flush_pending(checker: Guard) -> None:
    """Log what the request's guard still holds: an allowed list read that failed before its
    rows is logged all the same."""
    if checker.pending:
        await run_in_threadpool(checker.flush)


Guarded = Annotated[Guard, Depends(guard)]


@dataclass(frozen=True, slots=True)
class Recording:
    """What a recording route needs, from ONE dependency: the authenticated caller, the guard
    that authorizes the write from the gatekeeper's cached facts, the clock and the command
    handler. FastAPI solves each dependency of a route per request (its solving was a fifth of
    a write's CPU with the principal, clock, handler, privacy parts and guard each apart)."""

    principal: Principal
    guard: Guard
    clock: Callable[[], datetime]
    handle: CareRecordHandler


def _guard_for(
    request: Request, credentials: HTTPAuthorizationCredentials | None, purpose: str
) -> tuple[ApiContext, Guard]:
    """The process's parts and a guard for this request's authenticated caller."""
    context: ApiContext = request.app.state.context
    principal = authenticated(request, context, credentials)
    correlation_id = getattr(request.state, "correlation_id", None)
    return context, Guard(privacy_of(context), principal, purpose.strip().lower(), correlation_id)


async def recording(
    request: Request, credentials: Bearer, x_purpose_of_use: PurposeOfUse = "treatment"
) -> Recording:
    context, checker = _guard_for(request, credentials, x_purpose_of_use)
    return Recording(checker.principal, checker, context.clock, context.handler)


Recorder = Annotated[Recording, Depends(recording)]


@dataclass(frozen=True, slots=True)
class Reading:
    """What a read route needs, from ONE dependency: the authenticated caller, the guard that
    authorizes and logs the read, and the process's parts (its read models, clock, record
    snapshots, store). Solving the principal, the read models, the clock, the privacy parts and
    the guard each apart was a sixth of a read's CPU."""

    guard: Guard
    context: ApiContext

    @property
    def principal(self) -> Principal:
        return self.guard.principal


async def reading(
    request: Request, credentials: Bearer, x_purpose_of_use: PurposeOfUse = "treatment"
) -> AsyncIterator[Reading]:
    context, checker = _guard_for(request, credentials, x_purpose_of_use)
    try:
        yield Reading(checker, context)
    finally:
        await _flush_pending(checker)


Reader = Annotated[Reading, Depends(reading)]
DataClasses = Annotated[
    list[str] | None,
    Query(
        alias="data_class",
        description="Read only these data classes (e.g. check_in, assessment); all when absent",
    ),
]
