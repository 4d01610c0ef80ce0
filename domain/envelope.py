"""The envelope every care event carries: who did it, in which role and organization, and when.

docs/domain.md (the envelope): the idempotency key, the stream (client), business time, the actor
with role, org and kind, the purpose of use, causal links, the Kafka source where it came that way,
and the security labels that 42 CFR Part 2 and counseling-note rules hang on."""

from __future__ import annotations

from typing import Annotated, Literal
from uuid import UUID

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, StringConstraints

Role = Literal[
    "counselor",
    "peer_specialist",
    "case_manager",
    "prescriber",
    "crisis_clinician",
    "supervisor",
    "auditor",
    "analyst",
    "service",
    "rule",
]
CARE_TEAM_ROLES: frozenset[str] = frozenset(
    {"counselor", "peer_specialist", "case_manager", "prescriber", "crisis_clinician"}
)
ActorKind = Literal["human", "service", "rule"]
PurposeOfUse = Literal["treatment", "operations", "emergency"]

Identifier = Annotated[str, StringConstraints(min_length=1, max_length=128, strip_whitespace=True)]
ShortText = Annotated[str, StringConstraints(min_length=1, max_length=500, strip_whitespace=True)]
Note = Annotated[str, StringConstraints(max_length=4000)]
Label = Annotated[str, StringConstraints(min_length=1, max_length=64)]

PART2_LABEL = "42CFRPart2"


class Frozen(BaseModel):
    """Immutable, closed to unknown fields, and silent about submitted values in its errors."""

    model_config = ConfigDict(frozen=True, extra="forbid", hide_input_in_errors=True)


class Actor(Frozen):
    """The person, service or rule that did the clinical action."""

    id: Identifier
    role: Role
    org: Identifier
    kind: ActorKind = "human"


class Source(Frozen):
    """Where an event came in through Kafka: transport facts, never business meaning."""

    service: Identifier | None = None
    topic: Identifier
    partition: int = Field(ge=0)
    offset: int = Field(ge=0)


class Envelope(Frozen):
    """The fields every care event carries (docs/domain.md: the envelope, the wire contract)."""

    event_id: UUID
    client_id: UUID
    occurred_at: AwareDatetime
    actor: Actor
    purpose_of_use: PurposeOfUse = "treatment"
    correlation_id: Identifier | None = None
    causation_id: Identifier | None = None
    source: Source | None = None
    security_labels: frozenset[Label] = frozenset()
