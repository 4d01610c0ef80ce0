"""Who may do what with whose data: the pure decision over the write side's facts."""

from __future__ import annotations

from datetime import timedelta

import pytest

from domain.access import access_facts
from domain.access_policy import Action, Principal, decide_access, decide_stream
from domain.catalogue import CareEvent
from tests.unit.builders import (
    CLIENT,
    HOME_ORG,
    OTHER_ORG,
    PEER_ORG,
    a_counselor,
    a_crisis_clinician,
    after,
    assigned,
    break_glass,
    check_in,
    consent_granted,
    enrolled,
    erased_entry,
    handoff_declined,
    handoff_initiated,
    released,
)

NOW = after(days=3)
COUNSELOR = Principal("counselor-1", "counselor", HOME_ORG)
PEER = Principal("peer-17", "peer_specialist", PEER_ORG)
STRANGER = Principal("counselor-x", "counselor", HOME_ORG)
SUPERVISOR = Principal("sup-1", "supervisor", HOME_ORG)
OTHER_SUPERVISOR = Principal("sup-9", "supervisor", OTHER_ORG)
AUDITOR = Principal("aud-1", "auditor", "privacy-office")
ANALYST = Principal("ana-1", "analyst", "research")
SERVICE = Principal("ehr-bridge", "service", HOME_ORG)
CRISIS = Principal("crisis-9", "crisis_clinician", OTHER_ORG)


def facts_of(*events: CareEvent):
    return access_facts(CLIENT, events)


def a_team(*, part2: bool = False, extra: tuple[CareEvent, ...] = ()):
    labels = frozenset({"42CFRPart2"}) if part2 else frozenset()
    return facts_of(
        enrolled(part2=part2, actor=a_counselor(), security_labels=labels),
        assigned("peer-17", "peer_specialist", PEER_ORG, security_labels=labels),
        check_in(security_labels=labels),
        *extra,
    )


def outcome(principal: Principal, action: Action, facts, **kw) -> tuple[str, str | None]:
    decision = decide_access(principal, action, facts, now=NOW, **kw)
    return decision.outcome, decision.code


@pytest.mark.parametrize(
    ("who", "action", "expected"),
    [
        (COUNSELOR, Action.READ_RECORD, ("allowed", None)),
        (COUNSELOR, Action.WRITE_EVENT, ("allowed", None)),
        (PEER, Action.READ_HISTORY, ("allowed", None)),
        (STRANGER, Action.READ_RECORD, ("not_found", "client_not_enrolled")),
        (STRANGER, Action.WRITE_EVENT, ("not_found", "client_not_enrolled")),
        (SUPERVISOR, Action.READ_RECORD, ("allowed", None)),
        (SUPERVISOR, Action.WRITE_EVENT, ("denied", "forbidden")),
        (OTHER_SUPERVISOR, Action.READ_RECORD, ("not_found", "client_not_enrolled")),
        (AUDITOR, Action.READ_RECORD, ("denied", "forbidden")),
        (AUDITOR, Action.READ_DISCLOSURES, ("allowed", None)),
        (ANALYST, Action.READ_RECORD, ("not_found", "client_not_enrolled")),
        (SERVICE, Action.WRITE_EVENT, ("allowed", None)),
        (SERVICE, Action.READ_RECORD, ("denied", "forbidden")),
        (PEER, Action.READ_DISCLOSURES, ("denied", "forbidden")),
        (COUNSELOR, Action.READ_DISCLOSURES, ("allowed", None)),
        (SUPERVISOR, Action.ERASE, ("allowed", None)),
        (COUNSELOR, Action.ERASE, ("denied", "forbidden")),
    ],
)
def test_each_role_gets_what_its_relationship_allows(who, action, expected) -> None:
    assert outcome(who, action, a_team()) == expected


def test_an_unknown_client_is_not_found_for_every_role() -> None:
    for who in (COUNSELOR, SUPERVISOR, AUDITOR, ANALYST, SERVICE, CRISIS):
        assert outcome(who, Action.READ_RECORD, None) == ("not_found", "client_not_enrolled")


def test_a_supervisor_may_staff_the_team_and_close_flags_but_not_chart() -> None:
    team = a_team()
    allowed = decide_access(
        SUPERVISOR, Action.WRITE_EVENT, team, now=NOW, event_type="CareTeamMemberAssigned"
    )
    refused = decide_access(SUPERVISOR, Action.WRITE_EVENT, team, now=NOW, event_type="SessionHeld")

    assert allowed.allowed
    assert (refused.outcome, refused.code) == ("denied", "forbidden")


def test_the_programs_supervisor_records_the_postvention_review() -> None:
    # given a client of the program, with a peer specialist of another organization on the team
    team = a_team()
    peer_supervisor = Principal("sup-peer", "supervisor", PEER_ORG)

    # when the program's supervisor and the peer organization's supervisor record the review
    program = decide_access(
        SUPERVISOR, Action.WRITE_EVENT, team, now=NOW, event_type="PostventionReviewRecorded"
    )
    elsewhere = decide_access(
        peer_supervisor, Action.WRITE_EVENT, team, now=NOW, event_type="PostventionReviewRecorded"
    )

    # then the program runs its death and crisis reviews; the other organization does not
    assert (program.outcome, program.basis) == ("allowed", "organization")
    assert (elsewhere.outcome, elsewhere.code) == ("denied", "forbidden")


def test_the_enrolling_clinician_is_on_the_team_until_released() -> None:
    team = a_team(extra=(assigned(), released()))

    assert outcome(COUNSELOR, Action.READ_RECORD, team) == ("not_found", "client_not_enrolled")


def test_a_supervisor_of_a_team_members_organization_reads_the_client() -> None:
    other = Principal("sup-peer", "supervisor", PEER_ORG)

    assert outcome(other, Action.READ_RECORD, a_team()) == ("allowed", None)


def test_the_receiving_organization_of_an_open_handoff_may_answer_it_only() -> None:
    receiver = Principal("intake-1", "prescriber", OTHER_ORG)
    team = a_team(extra=(handoff_initiated(to_org=OTHER_ORG),))

    assert decide_access(
        receiver, Action.WRITE_EVENT, team, now=NOW, event_type="HandoffAccepted"
    ).allowed
    assert outcome(receiver, Action.WRITE_EVENT, team, event_type="SessionHeld") == (
        "denied",
        "forbidden",
    )


def test_a_declined_handoff_gives_its_receiver_nothing() -> None:
    receiver = Principal("intake-1", "prescriber", OTHER_ORG)
    open_ = a_team(extra=(handoff_initiated(to_org=OTHER_ORG),))
    declined = a_team(
        extra=(
            handoff_initiated(to_org=OTHER_ORG),
            handoff_declined(actor=a_counselor(org=OTHER_ORG)),
        )
    )

    assert outcome(receiver, Action.READ_RECORD, open_) == ("allowed", None)
    assert outcome(receiver, Action.READ_RECORD, declined) == ("not_found", "client_not_enrolled")


def test_part2_read_from_another_organization_needs_a_covering_consent() -> None:
    without = a_team(part2=True)
    with_consent = a_team(
        part2=True,
        extra=(consent_granted(data_classes=("all",), occurred_at=after(days=1)),),
    )

    assert outcome(PEER, Action.READ_RECORD, without) == ("denied", "consent_required")
    decision = decide_access(PEER, Action.READ_RECORD, with_consent, now=NOW)
    assert decision.allowed
    assert decision.disclosure is not None
    assert decision.disclosure.consent is not None


def test_part2_read_from_the_program_organization_is_no_disclosure() -> None:
    decision = decide_access(COUNSELOR, Action.READ_RECORD, a_team(part2=True), now=NOW)

    assert decision.allowed
    assert decision.disclosure is None


def test_a_read_names_every_class_of_care_the_history_holds_by_default() -> None:
    partial = a_team(
        part2=True,
        extra=(consent_granted(data_classes=("check_in",), occurred_at=after(days=1)),),
    )

    assert outcome(PEER, Action.READ_RECORD, partial) == ("denied", "consent_required")
    assert outcome(PEER, Action.READ_HISTORY, partial, data_classes={"check_in"}) == (
        "allowed",
        None,
    )


def test_break_the_glass_opens_for_a_crisis_clinician_until_it_expires() -> None:
    grant = break_glass(actor=a_crisis_clinician("crisis-9", OTHER_ORG), occurred_at=NOW)
    team = a_team(extra=(grant,))
    later = NOW + timedelta(minutes=61)

    assert outcome(CRISIS, Action.READ_RECORD, a_team()) == ("not_found", "client_not_enrolled")
    assert outcome(CRISIS, Action.BREAK_GLASS, a_team()) == ("allowed", None)
    assert decide_access(CRISIS, Action.READ_RECORD, team, now=NOW + timedelta(minutes=59)).allowed
    assert decide_access(CRISIS, Action.READ_RECORD, team, now=later).outcome == "not_found"


def test_break_the_glass_is_refused_to_a_role_no_program_allows_whoever_the_client() -> None:
    # a role the policy names nowhere is refused before the client is looked at (no oracle)
    assert outcome(STRANGER, Action.BREAK_GLASS, a_team()) == ("denied", "forbidden")
    assert outcome(COUNSELOR, Action.BREAK_GLASS, a_team()) == ("denied", "forbidden")
    assert decide_access(STRANGER, Action.BREAK_GLASS, None, now=NOW).code == "forbidden"


def test_a_part2_break_the_glass_read_from_another_org_is_an_emergency_disclosure() -> None:
    grant = break_glass(actor=a_crisis_clinician("crisis-9", OTHER_ORG), occurred_at=NOW)
    decision = decide_access(
        CRISIS, Action.READ_RECORD, a_team(part2=True, extra=(grant,)), now=NOW
    )

    assert decision.allowed
    assert decision.disclosure is not None
    assert decision.disclosure.break_glass


def test_nothing_more_is_written_for_an_erased_client_but_its_skeleton_is_readable() -> None:
    erased = facts_of(
        erased_entry("ClientEnrolled", actor=a_counselor()),
        erased_entry("CareTeamMemberAssigned"),
    )

    assert outcome(COUNSELOR, Action.WRITE_EVENT, erased) == ("not_found", "client_not_enrolled")
    assert outcome(SUPERVISOR, Action.READ_RECORD, erased) == ("allowed", None)
    assert outcome(PEER, Action.READ_RECORD, erased) == ("not_found", "client_not_enrolled")


@pytest.mark.parametrize(
    ("who", "action", "allowed"),
    [
        (ANALYST, Action.REPLAY, True),
        (AUDITOR, Action.REPLAY, True),
        (COUNSELOR, Action.REPLAY, False),
        (SERVICE, Action.REPLAY, False),
        (SUPERVISOR, Action.READ_ACCESS_LOG, True),
        (AUDITOR, Action.READ_ACCESS_LOG, True),
        (ANALYST, Action.READ_ACCESS_LOG, False),
        (AUDITOR, Action.ROTATE_KEYS, True),
        (SUPERVISOR, Action.ROTATE_KEYS, False),
    ],
)
def test_streams_belong_to_their_roles(who, action, allowed) -> None:
    decision = decide_stream(who, action)

    assert decision.allowed is allowed
    assert decision.code == (None if allowed else "forbidden")


@pytest.mark.parametrize("role", ["counselor", "supervisor", "service", "crisis_clinician"])
def test_clinicians_supervisors_and_services_enroll(role) -> None:
    assert decide_access(Principal("x", role, HOME_ORG), Action.ENROLL, None, now=NOW).allowed


@pytest.mark.parametrize("role", ["auditor", "analyst"])
def test_auditors_and_analysts_do_not_enroll(role) -> None:
    assert outcome(Principal("x", role, HOME_ORG), Action.ENROLL, None) == ("denied", "forbidden")
