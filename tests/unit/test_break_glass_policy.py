"""Break the glass as 42 CFR 2.51 has it, the pure decisions: who may invoke (a program's
setting), what a grant opens (the emergency's data classes), and a repeated emergency."""

from __future__ import annotations

from datetime import timedelta

from domain.access import access_facts
from domain.access_policy import Action, Principal, decide_access
from domain.break_glass import (
    EMERGENCY_DATA_CLASSES,
    BreakGlassPolicy,
    repeated,
)
from domain.catalogue import CareEvent, parse_event
from domain.consent import BreakGlassData, BreakGlassInvoked, EmergencyRecipient
from tests.unit.builders import (
    CLIENT,
    HOME_ORG,
    OTHER_ORG,
    T0,
    a_counselor,
    a_crisis_clinician,
    after,
    break_glass,
    enrolled,
)

NOW = after(days=3)
CRISIS = Principal("crisis-9", "crisis_clinician", OTHER_ORG)
PRESCRIBER = Principal("rx-4", "prescriber", OTHER_ORG)
CASE_MANAGER = Principal("cm-2", "case_manager", OTHER_ORG)
EVERY_CLASS = frozenset({"check_in", "session", "safety_plan", "medication", "crisis"})


def a_client(*extra: CareEvent, part2: bool = True):
    labels = frozenset({"42CFRPart2"}) if part2 else frozenset()
    events = (enrolled(part2=part2, actor=a_counselor(), security_labels=labels), *extra)
    return access_facts(CLIENT, events)


def scoped_grant(classes: frozenset[str] | None, reason: str = "overdose in lobby"):
    return BreakGlassInvoked(
        event_id=break_glass().event_id,
        client_id=CLIENT,
        occurred_at=NOW,
        actor=a_crisis_clinician("crisis-9", OTHER_ORG),
        purpose_of_use="emergency",
        data=BreakGlassData(
            reason=reason,
            minutes=60,
            disclosed_by=a_crisis_clinician("crisis-9", OTHER_ORG),
            disclosed_to=EmergencyRecipient(name="Dr. Noor", affiliation="Bayside ED"),
            data_classes=classes,
        ),
    )


def test_crisis_clinicians_and_prescribers_break_the_glass_by_default() -> None:
    client = a_client()
    assert decide_access(CRISIS, Action.BREAK_GLASS, client, now=NOW).allowed
    assert decide_access(PRESCRIBER, Action.BREAK_GLASS, client, now=NOW).allowed
    refused = decide_access(CASE_MANAGER, Action.BREAK_GLASS, client, now=NOW)
    assert (refused.outcome, refused.code) == ("denied", "forbidden")


def test_a_program_organization_names_its_own_roles() -> None:
    # given the program allows crisis clinicians only, and another organization counselors
    policy = BreakGlassPolicy(
        default_roles=frozenset({"crisis_clinician"}),
        by_org={HOME_ORG: frozenset({"crisis_clinician"}), "elsewhere": frozenset({"counselor"})},
    )
    client = a_client()
    own_counselor = Principal("counselor-1", "counselor", HOME_ORG)

    def asks(who: Principal) -> tuple[str, str | None]:
        decision = decide_access(who, Action.BREAK_GLASS, client, now=NOW, break_glass=policy)
        return decision.outcome, decision.code

    # then its crisis clinician may; its own counselor is refused; a prescriber (named by no
    # organization) is refused whoever the client; a stranger counselor meets the unknown client
    assert asks(CRISIS) == ("allowed", None)
    assert asks(own_counselor) == ("denied", "forbidden")
    assert asks(PRESCRIBER) == ("denied", "forbidden")
    assert asks(Principal("counselor-z", "counselor", OTHER_ORG)) == (
        "not_found",
        "client_not_enrolled",
    )


def test_a_service_never_breaks_the_glass_even_if_named() -> None:
    policy = BreakGlassPolicy(default_roles=frozenset({"service", "crisis_clinician"}))
    service = Principal("bridge", "service", HOME_ORG)
    decision = decide_access(service, Action.BREAK_GLASS, a_client(), now=NOW, break_glass=policy)
    assert decision.code == "forbidden"


def test_a_grant_opens_the_emergency_classes_and_masks_the_rest() -> None:
    client = a_client(scoped_grant(EMERGENCY_DATA_CLASSES))

    decision = decide_access(CRISIS, Action.READ_RECORD, client, now=NOW, data_classes=EVERY_CLASS)

    assert decision.allowed
    assert decision.scoped
    assert decision.data_classes == frozenset({"safety_plan", "medication", "crisis"})
    assert decision.disclosure is not None
    assert decision.disclosure.break_glass


def test_a_grant_recorded_before_scopes_keeps_opening_every_class() -> None:
    # given a BreakGlassInvoked as it was stored before the 2.51 elements (reason, minutes)
    old = parse_event(
        {
            "event_id": "7d1c2a6e-2b3c-4d5e-8f90-1a2b3c4d5e6f",
            "type": "BreakGlassInvoked",
            "schema_version": 1,
            "client_id": str(CLIENT),
            "occurred_at": NOW.isoformat(),
            "actor": {"id": "crisis-9", "role": "crisis_clinician", "org": OTHER_ORG},
            "purpose_of_use": "emergency",
            "data": {"reason": "unresponsive", "minutes": 60},
        }
    )
    assert isinstance(old, BreakGlassInvoked)
    assert old.data.disclosed_by is None
    assert old.data.disclosed_to is None
    assert old.data.data_classes is None

    decision = decide_access(
        CRISIS, Action.READ_RECORD, a_client(old), now=NOW, data_classes=EVERY_CLASS
    )

    assert decision.data_classes == EVERY_CLASS


def test_the_same_emergency_again_is_a_repeat_and_a_new_one_is_not() -> None:
    client = a_client(scoped_grant(EMERGENCY_DATA_CLASSES, reason="Overdose in lobby"))
    running = client.grants_of("crisis-9", OTHER_ORG, NOW + timedelta(minutes=10))

    assert repeated(running, "  overdose   IN lobby ") is not None
    assert repeated(running, "second overdose, car park") is None
    assert client.grants_of("crisis-9", OTHER_ORG, NOW + timedelta(minutes=61)) == ()
    assert T0 < NOW
