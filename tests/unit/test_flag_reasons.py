"""A flag's reason tells the clinician the time the rule waited, as the program configured it
(`CARE_WARNING_THRESHOLDS`), not the default: a program that wants a death review within 24 h
must not read "within 72 h" on the flag. At the defaults the reasons read as before.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta

import pytest

from domain.early_warning import Thresholds, evaluate
from domain.warning_signs import WarningSigns, no_signs, observe
from tests.unit.builders import (
    CLIENT,
    T0,
    appointment_missed,
    assessment,
    check_in,
    client_died,
    crisis,
    discharged,
    enrolled,
    handoff_initiated,
    postvention,
    transition,
)


def at(days: float = 0, hours: float = 0) -> datetime:
    return T0 + timedelta(days=days, hours=hours)


def signs(*events: object) -> WarningSigns:
    folded = no_signs(CLIENT)
    for event in (enrolled(occurred_at=T0 - timedelta(days=1)), *events):
        folded = observe(folded, event)  # type: ignore[arg-type]
    return folded


def reasons(s: WarningSigns, now: datetime, t: Thresholds, rule_id: str) -> list[str]:
    return sorted(f.reason for f in evaluate(s, now, t) if f.rule.id == rule_id)


MODERATE_SCREEN = (True, True, True, False, False, False)
CASES = [
    pytest.param(
        "SUI-3",
        {"safety_plan_within_hours": 12},
        (assessment("C-SSRS-SCREEN", MODERATE_SCREEN, occurred_at=at()),),
        at(hours=12),
        "within 12 h",
        "within 24 h",
        id="SUI-3",
    ),
    pytest.param(
        "CRS-1",
        {"postvention_within_hours": 48},
        (crisis(suicidality=False, occurred_at=at()),),
        at(hours=48),
        "within 48 h",
        "within 72 h",
        id="CRS-1",
    ),
    pytest.param(
        "SPR-1",
        {"plan_revision_within_hours": 36},
        (crisis(suicidality=False, occurred_at=at()),),
        at(hours=36),
        "within 36 h",
        "within 72 h",
        id="SPR-1",
    ),
    pytest.param(
        "DIS-2",
        {"discharge_follow_up_hours": 24},
        (transition("inpatient_discharge", occurred_at=at()),),
        at(hours=24),
        "within 24 h",
        "within 48 h",
        id="DIS-2",
    ),
    pytest.param(
        "CC-1",
        {"caring_contact_every_days": 3},
        (discharged(occurred_at=at()),),
        at(days=3),
        "for 3 days",
        "for 7 days",
        id="CC-1",
    ),
    pytest.param(
        "PV-1",
        {"death_review_within_hours": 24},
        (client_died("suicide", occurred_at=at()),),
        at(),
        "within 24 h",
        "within 72 h",
        id="PV-1 review",
    ),
    pytest.param(
        "PV-1",
        {"root_cause_within_days": 30},
        (
            client_died("suicide", occurred_at=at()),
            postvention(None, kind="death", occurred_at=at(1)),
        ),
        at(days=30),
        "within 30 days",
        "within 45 days",
        id="PV-1 root cause",
    ),
    pytest.param(
        "USE-1",
        {"abstinent_days": 10},
        (check_in(used_since_last=True, substances=("alcohol",), occurred_at=at(days=11)),),
        at(days=11),
        "after 10 days",
        "after 30 days",
        id="USE-1",
    ),
    pytest.param(
        "HND-1",
        {"handoff_accept_within_hours": 24},
        (handoff_initiated(occurred_at=at()),),
        at(hours=24),
        "within 24 h",
        "within 48 h",
        id="HND-1",
    ),
    pytest.param(
        "ENG-2",
        {"missed_window_hours": 7 * 24},
        tuple(
            appointment_missed(f"appt-{day}", scheduled_for=at(days=day), occurred_at=at(days=day))
            for day in (0, 1)
        ),
        at(days=1),
        "in 7 days",
        "in 14 days",
        id="ENG-2",
    ),
]


@pytest.mark.parametrize(("rule_id", "configured", "events", "now", "says", "default"), CASES)
def test_a_flags_reason_names_the_time_the_program_configured(
    rule_id: str,
    configured: dict[str, float],
    events: tuple[object, ...],
    now: datetime,
    says: str,
    default: str,
) -> None:
    # given a program whose threshold differs from the default
    thresholds = replace(Thresholds(), **configured)  # type: ignore[arg-type]
    # when the rule fires at that threshold, then its reason names it
    (reason, *_) = reasons(signs(*events), now, thresholds, rule_id)
    assert says in reason
    assert default not in reason


def test_at_the_defaults_the_reasons_read_as_before() -> None:
    died = signs(client_died("suicide", occurred_at=at()))
    assert reasons(died, at(), Thresholds(), "PV-1") == [
        "Client died: postvention review due within 72 h"
    ]
    unreviewed = signs(crisis(suicidality=False, occurred_at=at()))
    assert "Crisis contact without a postvention review within 72 h" in reasons(
        unreviewed, at(hours=72), Thresholds(), "CRS-1"
    )
