"""The warm handoff: initiated, then accepted or declined once by the receiving org, then closed."""

from __future__ import annotations

import pytest

from tests.unit.builders import (
    OTHER_ORG,
    PEER_ORG,
    a_counselor,
    a_peer,
    a_service,
    enrolled,
    handoff_accepted,
    handoff_completed,
    handoff_declined,
    handoff_failed,
    handoff_initiated,
)
from tests.unit.decider_spec import given

INITIATED = (enrolled(), handoff_initiated("h-1", to_org=PEER_ORG))


def test_an_initiated_handoff_is_accepted_by_the_receiving_org() -> None:
    acceptance = handoff_accepted("h-1", actor=a_peer(org=PEER_ORG))
    given(*INITIATED).when(acceptance).then(acceptance)


def test_an_initiated_handoff_is_declined_by_the_receiving_org() -> None:
    decline = handoff_declined("h-1", actor=a_peer(org=PEER_ORG))
    given(*INITIATED).when(decline).then(decline)


def test_a_handoff_is_accepted_once() -> None:
    given(*INITIATED, handoff_accepted("h-1")).when(handoff_accepted("h-1")).then_refused(
        "handoff_already_decided"
    )


def test_a_declined_handoff_is_not_accepted_afterwards() -> None:
    given(*INITIATED, handoff_declined("h-1")).when(handoff_accepted("h-1")).then_refused(
        "handoff_already_decided"
    )


def test_an_accepted_handoff_is_not_declined_afterwards() -> None:
    given(*INITIATED, handoff_accepted("h-1")).when(handoff_declined("h-1")).then_refused(
        "handoff_already_decided"
    )


@pytest.mark.parametrize("decision", [handoff_accepted, handoff_declined])
def test_only_the_receiving_org_decides(decision) -> None:
    by_sender = decision("h-1", actor=a_counselor())
    given(*INITIATED).when(by_sender).then_refused("wrong_handoff_recipient")
    by_stranger = decision("h-1", actor=a_peer(org=OTHER_ORG))
    given(*INITIATED).when(by_stranger).then_refused("wrong_handoff_recipient")


def test_a_service_of_the_receiving_org_relays_its_decision() -> None:
    relayed = handoff_accepted("h-1", actor=a_service(org=PEER_ORG))
    given(*INITIATED).when(relayed).then(relayed)


@pytest.mark.parametrize(
    "step", [handoff_accepted, handoff_declined, handoff_completed, handoff_failed]
)
def test_a_step_of_a_handoff_never_initiated_is_refused(step) -> None:
    given(*INITIATED).when(step("h-2")).then_refused("unknown_handoff")


def test_a_handoff_id_is_initiated_once() -> None:
    given(*INITIATED).when(handoff_initiated("h-1")).then_refused("handoff_already_exists")


def test_a_handoff_is_completed_only_after_it_was_accepted() -> None:
    given(*INITIATED).when(handoff_completed("h-1")).then_refused("handoff_not_accepted")


def test_a_declined_handoff_is_not_completed() -> None:
    given(*INITIATED, handoff_declined("h-1")).when(handoff_completed("h-1")).then_refused(
        "handoff_not_accepted"
    )


def test_an_accepted_handoff_is_completed_warm() -> None:
    completion = handoff_completed("h-1", client_present=True)
    given(*INITIATED, handoff_accepted("h-1")).when(completion).then(completion)


def test_a_completed_handoff_is_not_completed_again() -> None:
    history = (*INITIATED, handoff_accepted("h-1"), handoff_completed("h-1"))
    given(*history).when(handoff_completed("h-1")).then_refused("handoff_not_accepted")


def test_an_initiated_handoff_fails() -> None:
    failure = handoff_failed("h-1")
    given(*INITIATED).when(failure).then(failure)


def test_an_accepted_handoff_fails() -> None:
    failure = handoff_failed("h-1")
    given(*INITIATED, handoff_accepted("h-1")).when(failure).then(failure)


@pytest.mark.parametrize(
    "closed",
    [
        pytest.param((handoff_declined("h-1"),), id="declined"),
        pytest.param((handoff_accepted("h-1"), handoff_completed("h-1")), id="completed"),
        pytest.param((handoff_failed("h-1"),), id="failed"),
    ],
)
def test_a_closed_handoff_does_not_fail_afterwards(closed) -> None:
    given(*INITIATED, *closed).when(handoff_failed("h-1")).then_refused("handoff_not_accepted")


def test_handoffs_of_one_client_run_independently() -> None:
    history = (*INITIATED, handoff_declined("h-1"), handoff_initiated("h-2"))
    acceptance = handoff_accepted("h-2")
    given(*history).when(acceptance).then(acceptance)
