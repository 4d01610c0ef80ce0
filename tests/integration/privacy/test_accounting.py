"""The accounting of disclosures (42 CFR 2.25, 45 CFR 164.528) on the real stack: each entry
names the recipient by name and affiliation, the purpose, the consent or the emergency (with the
2.51 elements of its grant) and the data classes; it comes as CSV too (a header row, one row per
disclosure, no cell a spreadsheet would run); handing it to the patient is recorded."""

from __future__ import annotations

import csv
import hashlib
import io
from typing import Any
from uuid import UUID

from fastapi.testclient import TestClient

from services.app.accounting import CSV_COLUMNS
from services.wiring import Runtime
from tests.integration.privacy.support import (
    AUDITOR,
    CRISIS,
    OTHER_ORG,
    PEER_ORG,
    SUPERVISOR,
    enroll,
    headers,
    record,
)
from tests.stories import COUNSELOR, PEER, consent_terms


def accounting(api: TestClient, runtime: Runtime, client: UUID, **params: Any) -> dict[str, Any]:
    answer = api.get(
        f"/v1/clients/{client}/disclosures", params=params, headers=headers(runtime, AUDITOR)
    )
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"].startswith("application/json")
    body: dict[str, Any] = answer.json()
    return body


def a_part2_client_read_under_consent_and_in_an_emergency(
    api: TestClient, runtime: Runtime, *, recipient_name: str, affiliation: str, reason: str
) -> tuple[UUID, str]:
    """A Part 2 client: the peer (another organization) reads it under a consent naming their
    organization; a crisis clinician breaks the glass and reads it; returns the grant's id."""
    client = enroll(api, runtime, part2=True)
    terms = consent_terms("c-peer", PEER_ORG, classes=("check_in", "session", "care_team"))
    terms["recipients"] = [{"kind": "organization", "id": PEER_ORG, "name": "Harbor Peer Recovery"}]
    record(api, runtime, client, COUNSELOR, "ConsentGranted", **terms)
    read = api.get(
        f"/v1/clients/{client}",
        params={"data_class": "check_in"},
        headers=headers(runtime, PEER),
    )
    assert read.status_code == 200, read.text
    grant = api.post(
        f"/v1/clients/{client}/break-glass",
        json={
            "reason": reason,
            "recipient_name": recipient_name,
            "recipient_affiliation": affiliation,
        },
        headers=headers(runtime, CRISIS),
    )
    assert grant.status_code == 201, grant.text
    assert api.get(f"/v1/clients/{client}", headers=headers(runtime, CRISIS)).status_code == 200
    return client, grant.json()["event_id"]


def test_each_entry_names_recipient_purpose_basis_and_classes(
    api: TestClient, runtime: Runtime
) -> None:
    client, grant_id = a_part2_client_read_under_consent_and_in_an_emergency(
        api, runtime, recipient_name="Dr. Ines Vale", affiliation="Bayside ED", reason="overdose"
    )

    items = accounting(api, runtime, client)["items"]

    # then the consented read names the recipient as the consent form does, the purpose, the
    # consent and the classes
    assert len(items) == 2
    consented, emergency = items
    assert (consented["recipient_name"], consented["recipient_affiliation"]) == (
        PEER.sub,
        "Harbor Peer Recovery",
    )
    assert (consented["purpose_statement"], consented["basis"]) == ("treatment", "consent")
    assert consented["consent_id"] == "c-peer"
    assert consented["data_classes"] == ["check_in"]
    assert consented["emergency"] is None
    # and the emergency names the person making the disclosure, the recipient, its nature
    assert (emergency["recipient_name"], emergency["recipient_affiliation"]) == (
        "Dr. Ines Vale",
        "Bayside ED",
    )
    assert emergency["basis"] == "emergency"
    assert emergency["purpose_statement"] == "medical emergency (42 CFR 2.51)"
    assert emergency["emergency"]["grant_id"] == grant_id
    assert emergency["emergency"]["nature"] == "overdose"
    assert (emergency["emergency"]["disclosed_by"], emergency["emergency"]["disclosed_by_org"]) == (
        CRISIS.sub,
        OTHER_ORG,
    )
    assert set(emergency["data_classes"]) <= {"safety_plan", "medication", "crisis", "care_team"}
    assert emergency["data_classes"]
    # and the grant links to each disclosure it enabled, and its own accounting
    only_grant = accounting(api, runtime, client, grant_id=grant_id)
    assert [i["event_id"] for i in only_grant["items"]] == [emergency["event_id"]]
    assert only_grant["emergencies"][0]["disclosure_event_ids"] == [emergency["event_id"]]


def test_the_accounting_as_csv_has_a_header_a_row_per_disclosure_and_no_formula(
    api: TestClient, runtime: Runtime
) -> None:
    # given disclosures whose free text starts like spreadsheet formulas
    client, _ = a_part2_client_read_under_consent_and_in_an_emergency(
        api,
        runtime,
        recipient_name='=HYPERLINK("http://evil.example","click")',
        affiliation="@SUM(A1:A9)",
        reason="+cmd|' /C calc'!A0",
    )
    json_items = accounting(api, runtime, client)["items"]

    # when the accounting is asked for as CSV, by Accept and by ?format=
    by_accept = api.get(
        f"/v1/clients/{client}/disclosures",
        headers=headers(runtime, AUDITOR, Accept="text/csv"),
    )
    by_format = api.get(
        f"/v1/clients/{client}/disclosures",
        params={"format": "csv"},
        headers=headers(runtime, SUPERVISOR),
    )

    # then it is text/csv: a header row, then one row per disclosure
    assert by_accept.status_code == 200, by_accept.text
    assert by_accept.headers["content-type"].startswith("text/csv")
    assert by_format.headers["content-type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(by_accept.text)))
    assert rows[0] == list(CSV_COLUMNS)
    assert len(rows) == 1 + len(json_items)
    assert [r[CSV_COLUMNS.index("event_id")] for r in rows[1:]] == [
        i["event_id"] for i in json_items
    ]
    # and no cell starts with = + - @ (each such cell is escaped with a leading quote)
    for row in rows[1:]:
        for cell in row:
            assert not cell.startswith(("=", "+", "-", "@")), cell
    emergency = rows[2]
    assert emergency[CSV_COLUMNS.index("recipient_name")] == (
        '\'=HYPERLINK("http://evil.example","click")'
    )
    assert emergency[CSV_COLUMNS.index("recipient_affiliation")] == "'@SUM(A1:A9)"
    assert emergency[CSV_COLUMNS.index("emergency")] == "'+cmd|' /C calc'!A0"


def test_handing_the_accounting_to_the_patient_is_recorded(
    api: TestClient, runtime: Runtime
) -> None:
    client, _ = a_part2_client_read_under_consent_and_in_an_emergency(
        api, runtime, recipient_name="Dr. Vale", affiliation="Bayside ED", reason="overdose"
    )
    listed = [i["event_id"] for i in accounting(api, runtime, client)["items"]]

    # when the program's supervisor hands the patient the accounting as CSV
    handed = api.post(
        f"/v1/clients/{client}/disclosures/provided",
        json={"provided_to": "patient", "format": "csv"},
        headers=headers(runtime, SUPERVISOR),
    )

    # then the patient gets the CSV, and the record holds what was handed over, to whom, when
    assert handed.status_code == 201, handed.text
    assert handed.headers["content-type"].startswith("text/csv")
    history = api.get(f"/v1/clients/{client}/events", headers=headers(runtime, SUPERVISOR))
    provided = [e for e in history.json()["items"] if e["type"] == "AccountingProvided"]
    assert len(provided) == 1
    assert provided[0]["event_id"] == handed.headers["X-Accounting-Provided-Event"]
    assert provided[0]["actor"]["id"] == SUPERVISOR.sub
    data = provided[0]["data"]
    assert (data["provided_to"], data["format"], data["entries"]) == ("patient", "csv", 2)
    assert data["disclosure_event_ids"] == listed
    assert data["digest"] == "sha256:" + hashlib.sha256(handed.content).hexdigest()
    # and a member of another organization may not hand it over
    refused = api.post(
        f"/v1/clients/{client}/disclosures/provided",
        json={"provided_to": "patient"},
        headers=headers(runtime, PEER),
    )
    assert refused.status_code in (403, 404)
