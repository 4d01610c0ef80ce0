"""A client whose data key was destroyed: the record is closed for good, every fold skips it."""

from __future__ import annotations

import pytest

from domain.access import access_facts
from domain.catalogue import CareEvent
from domain.client import Erased, fold
from domain.record import client_record
from tests.unit.builders import (
    CLIENT,
    a_counselor,
    assigned,
    check_in,
    enrolled,
    erased_entry,
    readmitted,
    stored,
)
from tests.unit.decider_spec import given

ERASED_HISTORY = (
    erased_entry("ClientEnrolled", actor=a_counselor(), security_labels=frozenset({"42CFRPart2"})),
    erased_entry("EpisodeOpened"),
    erased_entry("CareTeamMemberAssigned"),
)


@pytest.mark.parametrize(
    "event", [check_in(), enrolled(), readmitted(), assigned()], ids=lambda e: e.type
)
def test_nothing_more_is_recorded_for_an_erased_client(event: CareEvent) -> None:
    given(*ERASED_HISTORY).when(event).then_refused("client_not_enrolled")


def test_a_client_cached_in_care_is_closed_by_its_erased_entries() -> None:
    assert isinstance(fold([enrolled(), check_in(), erased_entry()]), Erased)


def test_an_erased_entry_is_never_recorded() -> None:
    given(enrolled()).when(erased_entry()).then_refused("event_not_recordable")


def test_the_record_fold_skips_erased_entries() -> None:
    history = stored(enrolled(), check_in())
    placeholder = erased_entry("SessionHeld")
    with_erased = [*history, type(history[0])(placeholder, 3, 1003, history[-1].recorded_at)]

    assert client_record(with_erased) is not None
    assert client_record(with_erased).last_check_in == client_record(history).last_check_in


def test_an_erased_client_keeps_its_program_org_part2_label_and_enroller_not_its_team() -> None:
    facts = access_facts(CLIENT, ERASED_HISTORY)

    assert facts.erased
    assert facts.enrolled
    assert facts.program_org == a_counselor().org
    assert facts.part2
    # the enrolling clinician is an envelope fact; the assigned member is erased
    assert [(m.member_id, m.role, m.org) for m in facts.care_team] == [
        (a_counselor().id, a_counselor().role, a_counselor().org)
    ]
