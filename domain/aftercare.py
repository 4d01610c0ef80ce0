"""After discharge and after a death: caring contacts and a client's death.

Caring contacts are brief, non-demanding messages to a person after acute care (Motto &
Bostrom, Psychiatr Serv 2001;52(6):828-33: letters at least four times a year for five years
after discharge lowered suicide deaths). A client's death starts the postvention work the
supervisors lead (PV-1).
"""

from __future__ import annotations

from datetime import date
from typing import ClassVar, Literal

from domain.envelope import Envelope, Frozen, ShortText

CaringChannel = Literal["letter", "text", "email", "call", "card"]
MessageKind = Literal["caring_message", "check_in_invitation", "holiday_card", "other"]
CauseOfDeath = Literal["overdose", "suicide", "other", "unknown"]


class CaringContactData(Frozen):
    channel: CaringChannel
    message_kind: MessageKind


class CaringContactSent(Envelope):
    """A caring contact went out to the client (CC-1 counts them after discharge)."""

    data_class: ClassVar[str] = "session"
    type: Literal["CaringContactSent"] = "CaringContactSent"
    schema_version: Literal[1] = 1
    data: CaringContactData


class DeathData(Frozen):
    died_on: date
    cause: CauseOfDeath
    source: ShortText


class ClientDied(Envelope):
    """The program learned of the client's death: when, the cause as known, and from whom.

    It raises PV-1 (postvention) for the program's supervisors; every other rule stops.
    """

    data_class: ClassVar[str] = "crisis"
    type: Literal["ClientDied"] = "ClientDied"
    schema_version: Literal[1] = 1
    data: DeathData
