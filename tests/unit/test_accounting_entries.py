"""The accounting's pure parts: recipients named from the consent form, disclosures recorded
before grants were named still linked to their emergency, and CSV cells a spreadsheet never runs."""

from __future__ import annotations

from datetime import timedelta
from uuid import uuid4

from domain.accounting import emergencies, grant_of, recipient_named
from domain.consent import ConsentData, ConsentRecipient, DisclosureData, DisclosureMade
from services.app.accounting import safe_cell
from tests.unit.builders import CLIENT, OTHER_ORG, T0, a_crisis_clinician, a_service, break_glass


def test_the_recipient_is_named_as_the_consent_form_names_them() -> None:
    form = ConsentData(
        consent_id="c-1",
        data_classes=frozenset({"all"}),
        recipients=(
            ConsentRecipient(kind="person", id="dr-vale", name="Dr. Ines Vale", org=OTHER_ORG),
            ConsentRecipient(kind="organization", id="harbor-peer", name="Harbor Peer Recovery"),
        ),
    )

    assert recipient_named(form, OTHER_ORG, "dr-vale") == ("Dr. Ines Vale", OTHER_ORG)
    assert recipient_named(form, "harbor-peer", "peer-17") == ("peer-17", "Harbor Peer Recovery")
    assert recipient_named(None, "elsewhere", "someone") == ("someone", "elsewhere")


def test_a_disclosure_recorded_before_grants_were_named_links_to_the_readers_grant() -> None:
    # given a grant of the old shape (reason and minutes only) and a disclosure without grant_id
    crisis = a_crisis_clinician("crisis-9", OTHER_ORG)
    grant = break_glass(actor=crisis, occurred_at=T0)
    old = DisclosureMade(
        event_id=uuid4(),
        client_id=CLIENT,
        occurred_at=T0 + timedelta(minutes=5),
        actor=a_service(),
        purpose_of_use="emergency",
        data=DisclosureData(
            recipient_org=OTHER_ORG,
            recipient_id="crisis-9",
            purpose="emergency",
            data_classes=frozenset({"crisis"}),
            break_glass=True,
        ),
    )

    linked = grant_of(old, emergencies([grant, old]))

    assert linked is not None
    assert linked.grant_id == str(grant.event_id)
    assert (linked.disclosed_by, linked.recipient_name) == ("crisis-9", "crisis-9")
    assert linked.data_classes is None  # the old grant opened every class


def test_a_cell_starting_like_a_formula_is_escaped_and_others_are_not() -> None:
    for formula in ("=1+1", "+1", "-1", "@SUM(A1)", "\t=1", "\r=1"):
        assert safe_cell(formula) == "'" + formula
    assert safe_cell("Dr. Vale") == "Dr. Vale"
    assert safe_cell("") == ""
