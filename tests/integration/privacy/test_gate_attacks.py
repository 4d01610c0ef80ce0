"""The gate tried as an attacker would: each test is one hole that was open (issue 11's attacks
list) told as the attack, and the answer the gate now gives."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from typing import Any
from uuid import UUID, uuid4

import pytest
from fastapi.testclient import TestClient

from infra.embedded import create_database, drop_database
from services.settings import Settings
from services.wiring import Runtime, build_api, build_runtime, live_runner
from tests.integration.privacy.support import (
    AUDITOR,
    PEER_ORG,
    PRESCRIBER,
    SUPERVISOR,
    enroll,
    headers,
    record,
    without_request_specifics,
)
from tests.stories import (
    COUNSELOR,
    PEER,
    Clock,
    Person,
    Story,
    body,
    check_in_data,
    consent_terms,
)

PEER_SUPERVISOR = Person("sup-pia", "supervisor", PEER_ORG)
IMPOSTOR_ORG = Person(PEER.sub, PEER.role, "evil-org")  # the peer's sub, another org
IMPOSTOR_ROLE = Person(PEER.sub, "counselor", PEER.org)  # the peer's sub, another role


def consent(consent_id: str, org: str) -> dict[str, Any]:
    return body("ConsentGranted", None, **consent_terms(consent_id, org))


@pytest.fixture
def part2_client(api: TestClient, runtime: Runtime) -> UUID:
    # a Part 2 client of harbor-counseling; the peer of harbor-peer is on the care team
    return enroll(api, runtime, part2=True, program="opioid-treatment")


def unknown_client_answer(api: TestClient, runtime: Runtime, who: Person) -> dict[str, Any]:
    answer = api.get(f"/v1/clients/{uuid4()}", headers=headers(runtime, who))
    assert answer.status_code == 404
    problem: dict[str, Any] = answer.json()
    return without_request_specifics(problem)


def test_a_recipient_cannot_grant_itself_consent(
    api: TestClient, runtime: Runtime, part2_client: UUID
) -> None:
    # given the peer (another organization) is refused the Part 2 record without consent
    refused = api.get(f"/v1/clients/{part2_client}", headers=headers(runtime, PEER))
    assert refused.json()["code"] == "consent_required"

    # when the peer records a consent naming their own organization
    self_grant = consent("c-self", PEER_ORG)
    answer = api.post(
        f"/v1/clients/{part2_client}/events", json=self_grant, headers=headers(runtime, PEER)
    )

    # then it is refused, and the record stays closed to them
    assert answer.status_code == 403, answer.text
    assert answer.json()["code"] == "forbidden"
    again = api.get(f"/v1/clients/{part2_client}/events", headers=headers(runtime, PEER))
    assert again.status_code == 403
    assert again.json()["code"] == "consent_required"


def test_the_program_records_the_patients_consent(
    api: TestClient, runtime: Runtime, part2_client: UUID
) -> None:
    # the program's supervisor takes the consent: allowed
    answer = api.post(
        f"/v1/clients/{part2_client}/events",
        json=consent("c-program", PEER_ORG),
        headers=headers(runtime, SUPERVISOR),
    )
    assert answer.status_code == 201, answer.text
    opened = api.get(f"/v1/clients/{part2_client}", headers=headers(runtime, PEER))
    assert opened.status_code == 200, opened.text


@pytest.mark.parametrize("impostor", [IMPOSTOR_ORG, IMPOSTOR_ROLE], ids=["other org", "other role"])
def test_the_same_sub_with_another_org_or_role_is_not_the_member(
    api: TestClient, runtime: Runtime, impostor: Person
) -> None:
    # given a client (not Part 2) whose team has the peer
    client = enroll(api, runtime)
    unknown = unknown_client_answer(api, runtime, impostor)

    # when a token with the peer's sub but another organization or role reads and writes
    read = api.get(f"/v1/clients/{client}", headers=headers(runtime, impostor))
    write = api.post(
        f"/v1/clients/{client}/events",
        json=body("CheckInRecorded", runtime.clock(), mood=5, craving=2, sleep_hours=7.0),
        headers=headers(runtime, impostor),
    )

    # then both are answered as for a client that does not exist
    assert read.status_code == 404
    assert without_request_specifics(read.json()) == unknown
    assert write.status_code == 404
    # while the real member still reads
    assert api.get(f"/v1/clients/{client}", headers=headers(runtime, PEER)).status_code == 200


@pytest.mark.parametrize(
    "path",
    [
        "/v1/audit?client_id={client}",
        "/v1/clients/{client}/consents",
        "/v1/access-log?client_id={client}",
    ],
    ids=["audit trail", "consents", "access log"],
)
def test_another_organizations_supervisor_needs_a_consent_for_the_logs(
    api: TestClient, runtime: Runtime, part2_client: UUID, path: str
) -> None:
    # given the supervisor of harbor-peer, whose organization has a member on the team
    url = path.format(client=part2_client)

    # when they read the Part 2 client's trail, consents or access log without a consent
    refused = api.get(url, headers=headers(runtime, PEER_SUPERVISOR))

    # then it is refused as it is for their counselor
    assert refused.status_code == 403, refused.text
    assert refused.json()["code"] == "consent_required"

    # and under the program's consent for their organization it opens, as a disclosure
    record(
        api, runtime, part2_client, COUNSELOR, "ConsentGranted", **consent_terms("c-sup", PEER_ORG)
    )
    opened = api.get(url, headers=headers(runtime, PEER_SUPERVISOR))
    assert opened.status_code == 200, opened.text
    accounting = api.get(
        f"/v1/clients/{part2_client}/disclosures", headers=headers(runtime, AUDITOR)
    ).json()["items"]
    assert any(item["recipient_id"] == PEER_SUPERVISOR.sub for item in accounting), accounting


def test_a_peer_specialist_reads_no_clinical_notes_of_any_kind(
    api: TestClient, runtime: Runtime
) -> None:
    # given the prescriber wrote notes on a medication consult
    client = enroll(api, runtime)
    notes = "discussed naltrexone; worried about liver panel"
    record(
        api,
        runtime,
        client,
        PRESCRIBER,
        "MedicationConsultRecorded",
        medication="naltrexone",
        notes=notes,
    )

    # when the peer and the prescriber read the history
    peer = api.get(f"/v1/clients/{client}/events", headers=headers(runtime, PEER))
    prescriber = api.get(f"/v1/clients/{client}/events", headers=headers(runtime, PRESCRIBER))

    # then the peer sees the consult without its notes; the prescriber sees them
    assert peer.status_code == 200
    assert notes not in peer.text
    consult = [i for i in peer.json()["items"] if i["type"] == "MedicationConsultRecorded"]
    assert consult
    assert "notes" not in consult[0]["data"]
    assert notes in prescriber.text


def test_a_person_cannot_probe_whether_a_client_id_exists(
    api: TestClient, runtime: Runtime
) -> None:
    # given a client id held by a program the stranger has nothing to do with
    taken = enroll(api, runtime)
    stranger = Person("counselor-quinn", "counselor", "elsewhere-clinic")
    enrollment = Story(Clock(runtime.clock())).enrolled().last

    # when the stranger enrolls with that id, and with an id nobody holds
    answers = [
        api.post(
            "/v1/clients",
            json={**enrollment, "event_id": str(uuid4()), "client_id": str(client)},
            headers=headers(runtime, stranger),
        )
        for client in (taken, uuid4())
    ]

    # then both answers are the same
    assert [a.status_code for a in answers] == [422, 422]
    assert without_request_specifics(answers[0].json()) == without_request_specifics(
        answers[1].json()
    )
    assert answers[0].json()["code"] == "client_id_not_accepted"


@pytest.fixture
def cached_api(settings: Settings, privacy_db_url: str, clock: Clock) -> Iterator[TestClient]:
    """Another API process, caching keys for 30 s as production does."""
    other = build_runtime(
        settings.model_copy(update={"key_cache_seconds": 30}), privacy_db_url, clock=clock
    )
    try:
        with TestClient(build_api(other), raise_server_exceptions=False) as client:
            client.app_state_runtime = other  # type: ignore[attr-defined]
            yield client
    finally:
        other.close()


def test_erasure_takes_effect_in_every_process_at_once(
    api: TestClient, runtime: Runtime, cached_api: TestClient
) -> None:
    # given a client whose name the other process has read (key and facts now cached there)
    client = enroll(api, runtime, given="Ysolde", family="Brannigan")
    live_runner(runtime).catch_up()
    seen = cached_api.get(f"/v1/clients/{client}", headers=headers(runtime, COUNSELOR))
    assert "Ysolde" in seen.text

    # when this process erases the client (two people)
    erasures = runtime.privacy.erasures
    code = erasures.request(SUPERVISOR.principal, client, "ticket 11-1")
    erasures.confirm(AUDITOR.principal, client, code)
    other: Runtime = cached_api.app_state_runtime  # type: ignore[attr-defined]
    listener = getattr(other, "erasure_listener", None)  # the notice's delivery, not a timer
    assert listener is None or listener.wait_seen(client)

    # then the other process serves no name and takes no new event, with no expiry waited for
    after = cached_api.get(f"/v1/clients/{client}", headers=headers(runtime, COUNSELOR))
    assert after.status_code == 200
    assert "Ysolde" not in after.text
    assert after.json()["status"] == "erased"
    write = cached_api.post(
        f"/v1/clients/{client}/events",
        json=body("CheckInRecorded", runtime.clock(), mood=5, craving=2, sleep_hours=7.0),
        headers=headers(runtime, COUNSELOR),
    )
    assert write.status_code in (404, 409), write.text
    # and no read model keeps a row about the client
    with runtime.store.connection() as conn:
        tables = [
            r["table_name"]
            for r in conn.execute(
                "SELECT table_name FROM information_schema.columns WHERE column_name ="
                " 'client_id' AND table_schema = current_schema()"
                " AND (table_name LIKE 'caseload%' OR table_name LIKE 'warning_signs%'"
                " OR table_name LIKE 'flag%')"
            ).fetchall()
        ]
        assert tables
        for table in tables:
            count = conn.execute(
                f'SELECT count(*) AS n FROM "{table}" WHERE client_id = %s',
                (client,),
            ).fetchone()
            assert count is not None
            assert count["n"] == 0, table
    caseload = api.get(f"/v1/orgs/{SUPERVISOR.org}/caseloads", headers=headers(runtime, SUPERVISOR))
    assert str(client) not in caseload.text


def test_the_programs_supervisor_records_a_death_review(api: TestClient, runtime: Runtime) -> None:
    # given a client of harbor-counseling whose death the counselor recorded
    client = enroll(api, runtime)
    died_on = runtime.clock().date().isoformat()
    record(
        api,
        runtime,
        client,
        COUNSELOR,
        "ClientDied",
        died_on=died_on,
        cause="overdose",
        source="ED",
    )
    review = body(
        "PostventionReviewRecorded",
        runtime.clock(),
        kind="death",
        reviewers=[SUPERVISOR.sub, COUNSELOR.sub],
    )

    # when the program's supervisor and the peer organization's supervisor record the review
    path = f"/v1/clients/{client}/events"
    program = api.post(path, json=review, headers=headers(runtime, SUPERVISOR))
    elsewhere = api.post(
        path, json={**review, "event_id": str(uuid4())}, headers=headers(runtime, PEER_SUPERVISOR)
    )

    # then the program's review is recorded (issue 12: the program's supervisors run it)
    assert program.status_code == 201, program.text
    assert elsewhere.status_code == 403, elsewhere.text
    assert elsewhere.json()["code"] == "forbidden"


def test_a_stranger_reusing_another_clients_event_id_is_answered_as_for_an_unknown_id(
    api: TestClient, runtime: Runtime
) -> None:
    # given two check-ins of a client of harbor-counseling, and a counselor elsewhere with a client
    theirs = enroll(api, runtime)
    held, also_held = (
        record(api, runtime, theirs, PEER, "CheckInRecorded", **check_in_data(5, 2, 7.0))
        for _ in range(2)
    )
    stranger = Person("counselor-quinn", "counselor", "elsewhere-clinic")
    own = enroll(api, runtime, by=stranger, team=())

    # when the stranger records for their own client with that event_id, and with an unused one
    def check_in(event_id: str) -> Any:
        payload = {
            **body("CheckInRecorded", runtime.clock(), **check_in_data(4, 3, 6.0)),
            "event_id": event_id,
        }
        return api.post(
            f"/v1/clients/{own}/events", json=payload, headers=headers(runtime, stranger)
        )

    reused, unused = check_in(held["event_id"]), check_in(str(uuid4()))
    enrolling = api.post(
        "/v1/clients",
        json={**Story(Clock(runtime.clock())).enrolled().last, "event_id": also_held["event_id"]},
        headers=headers(runtime, stranger),
    )

    # then the answers are those of any unused id: recorded for the stranger's own client
    assert (reused.status_code, unused.status_code, enrolling.status_code) == (201, 201, 201)
    assert reused.json().keys() == unused.json().keys()
    assert reused.json()["client_id"] == str(own)
    assert reused.json()["event_id"] == held["event_id"]
    # and the other client's entry is untouched (the same id, another client's record)
    history = api.get(f"/v1/clients/{theirs}/events", headers=headers(runtime, PEER))
    (entry,) = [e for e in history.json()["items"] if e["event_id"] == held["event_id"]]
    assert entry["data"]["mood"] == 5


def test_a_writer_who_knows_the_other_client_is_told_the_event_id_is_theirs(
    api: TestClient, runtime: Runtime
) -> None:
    # given two clients of the counselor, and a check-in of the first
    first, second = enroll(api, runtime), enroll(api, runtime)
    held = record(api, runtime, first, COUNSELOR, "CheckInRecorded", **check_in_data(5, 2, 7.0))

    # when the counselor sends the same event_id for the second client (the wrong record)
    payload = {
        **body("CheckInRecorded", runtime.clock(), **check_in_data(5, 2, 7.0)),
        "event_id": held["event_id"],
    }
    answer = api.post(
        f"/v1/clients/{second}/events", json=payload, headers=headers(runtime, COUNSELOR)
    )

    # then it is refused: the counselor may know the first client, so nothing is revealed
    assert answer.status_code == 409, answer.text
    assert answer.json()["code"] == "event_id_reused"
    # and sent again for the first client it is the first answer, nothing stored twice
    again = api.post(
        f"/v1/clients/{first}/events", json=payload, headers=headers(runtime, COUNSELOR)
    )
    assert again.status_code == 200, again.text
    assert again.json()["version"] == held["version"]


def test_a_store_made_with_global_event_ids_gets_the_per_client_key(
    settings: Settings, postgres_server_url: str, clock: Clock
) -> None:
    name = f"carecircle_keys_{secrets.token_hex(4)}"
    url = create_database(postgres_server_url, name)
    runtime = build_runtime(settings.model_copy(update={"database_url": url}), url, clock=clock)
    try:
        # given the event index as it was made before (event_id alone the primary key)
        runtime.store.migrate()
        with runtime.store.connection() as conn:
            conn.execute(
                "ALTER TABLE care_event_index DROP CONSTRAINT care_event_index_pkey,"
                " ADD CONSTRAINT care_event_index_pkey PRIMARY KEY (event_id)"
            )

        # when the store is migrated
        runtime.store.migrate()

        # then the key is the client and the event_id
        with runtime.store.connection() as conn:
            row = conn.execute(
                "SELECT array_agg(a.attname::text ORDER BY a.attname) AS columns"
                " FROM pg_constraint c JOIN pg_attribute a"
                " ON a.attrelid = c.conrelid AND a.attnum = ANY(c.conkey)"
                " WHERE c.conname = 'care_event_index_pkey'"
            ).fetchone()
        assert row is not None
        assert row["columns"] == ["client_id", "event_id"]
    finally:
        runtime.close()
        drop_database(postgres_server_url, name)
