"""The flag lifecycle a clinician can trust (docs/early-warning.md): a rule resolves a low or
moderate flag by itself, but only clears a high or critical one; a person resolves with a note,
and a high or critical flag only in a clinical role; acknowledging twice stores nothing; a
discharge is a risk moment, not an eraser.
"""

from __future__ import annotations

import pytest

from domain.early_warning import Thresholds, evaluate, flag_events
from domain.flags import RiskFlagCleared, RiskFlagRaised, RiskFlagResolved, may_resolve
from domain.warning_signs import WarningSigns, no_signs, observe
from tests.unit.builders import (
    CLIENT,
    a_counselor,
    a_crisis_clinician,
    a_peer,
    a_prescriber,
    a_rule,
    after,
    assessment,
    check_in,
    check_in_plan_set,
    discharged,
    enrolled,
    entered_in_error,
    flag_acknowledged,
    flag_cleared,
    flag_raised,
    flag_resolved,
    overdose,
    stored,
)
from tests.unit.decider_spec import given

DEFAULTS = Thresholds()
NO, YES = False, True


def signs_of(*events: object) -> WarningSigns:
    signs = no_signs(CLIENT)
    for recorded in stored(enrolled(occurred_at=after(days=-1)), *events):  # type: ignore[arg-type]
        signs = observe(signs, recorded.event)
    return signs


def step(signs: WarningSigns, at_days: float) -> tuple[WarningSigns, list[object]]:
    """Evaluate at the moment, and fold back what the rules record."""
    events = flag_events(signs, evaluate(signs, after(days=at_days), DEFAULTS), after(days=at_days))
    for event in events:
        signs = observe(signs, event)
    return signs, list(events)


# --- the rules: cleared, not resolved ----------------------------------------------------------


def test_a_negative_screen_after_a_high_one_clears_sui_2_and_does_not_resolve_it() -> None:
    high = assessment("C-SSRS-SCREEN", (YES, YES, NO, YES, NO, NO), occurred_at=after(days=1))
    signs, (raised,) = step(signs_of(high), 1)
    assert isinstance(raised, RiskFlagRaised)
    negative = assessment("C-SSRS-SCREEN", (NO,) * 6, occurred_at=after(days=1, minutes=10))
    signs, (closing,) = step(observe(signs, negative), 1.01)
    assert isinstance(closing, RiskFlagCleared)
    assert closing.data.flag_id == raised.data.flag_id
    assert signs.flag(raised.data.flag_id).status == "cleared"  # type: ignore[union-attr]
    later = step(signs, 2)[1]  # cleared stays cleared: waiting for a person
    assert [e for e in later if getattr(e.data, "flag_id", None) == raised.data.flag_id] == []


def test_a_moderate_flag_is_still_resolved_by_its_rule() -> None:
    signs = signs_of(
        check_in(craving=9, occurred_at=after(days=1)),
        check_in(craving=9, occurred_at=after(days=2)),
    )
    signs, _ = step(signs, 2)
    signs, (closing,) = step(observe(signs, check_in(craving=1, occurred_at=after(days=3))), 3)
    assert isinstance(closing, RiskFlagResolved)
    assert closing.actor.kind == "rule"


def test_a_cleared_flag_is_raised_again_with_a_new_event_id_when_its_condition_returns() -> None:
    phq = assessment("PHQ-9", (0, 0, 0, 0, 0, 0, 0, 0, 2), occurred_at=after(days=1))
    signs, (raised,) = step(signs_of(phq), 1)
    screen = assessment("C-SSRS-SCREEN", (NO,) * 6, occurred_at=after(days=1, hours=1))
    signs, (cleared,) = step(observe(signs, screen), 1.1)
    assert isinstance(cleared, RiskFlagCleared)
    signs, (again,) = step(observe(signs, entered_in_error(screen.event_id)), 1.2)
    assert isinstance(again, RiskFlagRaised)
    assert isinstance(raised, RiskFlagRaised)
    assert again.data.flag_id == raised.data.flag_id
    assert again.event_id != raised.event_id
    assert signs.flag(raised.data.flag_id).status == "open"  # type: ignore[union-attr]


# --- a discharge is a risk moment ---------------------------------------------------------------


def test_a_discharge_keeps_every_flag_and_raises_dis_1_while_a_high_flag_is_open() -> None:
    phq = assessment("PHQ-9", (0, 0, 0, 0, 0, 0, 0, 0, 1), occurred_at=after(days=1))
    signs, (raised,) = step(signs_of(phq), 1)
    assert isinstance(raised, RiskFlagRaised)
    signs, (dis_1,) = step(observe(signs, discharged(occurred_at=after(days=1, hours=2))), 1.1)
    assert isinstance(dis_1, RiskFlagRaised)
    assert dis_1.data.rule_id == "DIS-1"
    assert signs.flag(raised.data.flag_id).status == "open"  # type: ignore[union-attr]
    resolved = flag_resolved(raised.data.flag_id, occurred_at=after(days=2))
    signs, (cleared,) = step(observe(signs, resolved), 2)
    assert isinstance(cleared, RiskFlagCleared)
    assert cleared.data.flag_id == dis_1.data.flag_id


def test_a_discharge_with_only_low_flags_raises_no_dis_1() -> None:
    signs = signs_of(
        *(check_in(sleep_hours=3, occurred_at=after(days=d)) for d in (1, 2, 3)),
    )
    signs, _ = step(signs, 3)
    assert step(observe(signs, discharged(occurred_at=after(days=4))), 4)[1] == []


def test_an_overdose_after_discharge_still_opens_the_overdose_window() -> None:
    signs = signs_of(discharged(occurred_at=after(days=1)), overdose(occurred_at=after(days=3)))
    assert {f.rule.id for f in evaluate(signs, after(days=3), DEFAULTS)} == {"OD-1"}


def test_engagement_rules_answer_as_at_the_discharge() -> None:
    signs = signs_of(
        check_in_plan_set(24, occurred_at=after(days=1)),
        discharged(occurred_at=after(days=1, hours=1)),
    )
    assert [f for f in evaluate(signs, after(days=30), DEFAULTS) if f.rule.id == "ENG-1"] == []
    assert [f.rule.id for f in evaluate(signs, after(days=1), DEFAULTS)] == []


# --- the decider: who closes a flag ---------------------------------------------------------------


@pytest.mark.parametrize("severity", ["high", "critical"])
def test_a_peer_specialist_or_case_manager_may_not_resolve_a_serious_flag(severity: str) -> None:
    history = (enrolled(), flag_raised("f-1", severity=severity))
    given(*history).when(flag_resolved("f-1", actor=a_peer())).then_refused("forbidden")
    assert not may_resolve("case_manager", severity)
    for actor in (a_counselor(), a_prescriber(), a_crisis_clinician()):
        resolution = flag_resolved("f-1", actor=actor)
        given(*history).when(resolution).then(resolution)
    assert may_resolve("supervisor", severity)


def test_a_peer_specialist_may_resolve_a_moderate_flag_with_a_note() -> None:
    resolution = flag_resolved("f-1", actor=a_peer())
    given(enrolled(), flag_raised("f-1")).when(resolution).then(resolution)


@pytest.mark.parametrize("note", [None, "", "   "])
def test_a_person_resolves_only_with_a_note(note: str | None) -> None:
    history = (enrolled(), flag_raised("f-1"))
    given(*history).when(flag_resolved("f-1", note=note)).then_refused("note_required")


def test_a_rule_resolves_a_moderate_flag_without_a_note_but_never_a_high_one() -> None:
    by_rule = flag_resolved("f-1", actor=a_rule(), note=None)
    given(enrolled(), flag_raised("f-1")).when(by_rule).then(by_rule)
    high = (enrolled(), flag_raised("f-1", severity="high"))
    given(*high).when(by_rule).then_refused("event_not_recordable")


def test_acknowledging_twice_is_refused_naming_the_first_acknowledgement() -> None:
    first = flag_acknowledged("f-1")
    history = (enrolled(), flag_raised("f-1"), first)
    given(*history).when(flag_acknowledged("f-1")).then_refused("flag_already_acknowledged")


def test_a_cleared_flag_is_acknowledged_and_resolved_by_a_person() -> None:
    history = (enrolled(), flag_raised("f-1", severity="high"), flag_cleared("f-1"))
    ack = flag_acknowledged("f-1")
    given(*history).when(ack).then(ack)
    resolution = flag_resolved("f-1")
    given(*history, ack).when(resolution).then(resolution)


def test_only_a_rule_clears_a_flag() -> None:
    history = (enrolled(), flag_raised("f-1", severity="high"))
    by_person = flag_cleared("f-1", actor=a_counselor())
    given(*history).when(by_person).then_refused("event_not_recordable")
