"""The registry of downstream consumers of `care.events` (issue 11): `carecircle consumers
grant|list|revoke` records who receives what, by whom and when; publishing a Part 2 client's
sealed events to a granted consumer of another organization is in the client's accounting of
disclosures like any other disclosure (one entry per consumer, client and batch); the program's
own consumer, a revoked one and a re-sent batch record nothing."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any
from uuid import UUID, uuid4

import pytest
from fastapi.testclient import TestClient

from consumers.publish import checkpoint_name
from domain.catalogue import parse_event
from domain.commands import RecordCareEvent
from infra.embedded import create_database, drop_database
from services.cli.main import main
from services.wiring import (
    Runtime,
    build_api,
    build_runtime,
    consumers_of,
    migrate,
    run_publish,
)
from tests.integration.kafka_support import in_thread, kafka_settings, read_topic, wait_until
from tests.integration.privacy.support import AUDITOR
from tests.stories import COUNSELOR, Clock, Story, parent_after_surgery

ANALYTICS = "bayside-analytics"  # a downstream system of another organization
OTHER_ORG = "bayside-crisis"


@pytest.fixture
def fresh_database(postgres_server_url: str) -> Iterator[str]:
    name = f"carecircle_consumers_{uuid4().hex[:12]}"
    yield create_database(postgres_server_url, name)
    drop_database(postgres_server_url, name)


def carecircle(runtime: Runtime, database: str, monkeypatch: pytest.MonkeyPatch, *args: str) -> int:
    """The CLI in this process, against this database, as the privacy office (an auditor)."""
    monkeypatch.setenv("CARE_DATABASE_URL", database)
    monkeypatch.setattr("services.cli.main.configure_logging", lambda *_a, **_k: None)
    token = AUDITOR.headers(runtime.settings)["Authorization"].removeprefix("Bearer ")
    return main([*args, "--token", token])


def publish_all(runtime: Runtime, bootstrap: str) -> list[Any]:
    name = checkpoint_name(runtime.settings.kafka_events_topic)
    head = runtime.store.head()
    with in_thread(lambda stop: run_publish(runtime, bootstrap, stop)):
        wait_until(lambda: (runtime.store.tracked(name) or 0) >= head, "the publisher at head")
    return read_topic(bootstrap, runtime.settings.kafka_events_topic, expected=head)


def kafka_entries(runtime: Runtime, client: UUID) -> list[dict[str, Any]]:
    with TestClient(build_api(runtime)) as api:
        answer = api.get(
            f"/v1/clients/{client}/disclosures", headers=AUDITOR.headers(runtime.settings)
        )
    assert answer.status_code == 200, answer.text
    return [i for i in answer.json()["items"] if i["channel"] == "kafka"]


def test_a_publish_to_a_granted_consumer_of_another_organization_is_accounted(
    fresh_database: str,
    kafka_bootstrap: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    runtime = build_runtime(kafka_settings(fresh_database, kafka_bootstrap), fresh_database)
    try:
        migrate(runtime)
        cli = (runtime, fresh_database, monkeypatch)
        # given consumers granted by the privacy office: one of another organization, the
        # program's own warehouse, and one granted then revoked
        assert (
            carecircle(
                *cli, "consumers", "grant", ANALYTICS, "--org", OTHER_ORG, "--purpose", "operations"
            )
            == 0
        )
        assert (
            carecircle(
                *cli,
                "consumers",
                "grant",
                "harbor-warehouse",
                "--org",
                COUNSELOR.org,
                "--purpose",
                "operations",
            )
            == 0
        )
        assert (
            carecircle(
                *cli,
                "consumers",
                "grant",
                "old-feed",
                "--org",
                "elsewhere",
                "--purpose",
                "treatment",
            )
            == 0
        )
        assert carecircle(*cli, "consumers", "revoke", "old-feed") == 0
        capsys.readouterr()
        assert carecircle(*cli, "consumers", "list") == 0
        listed = capsys.readouterr().out.splitlines()
        assert [line.split("\t")[:3] for line in listed] == [
            [ANALYTICS, OTHER_ORG, "operations"],
            ["harbor-warehouse", COUNSELOR.org, "operations"],
        ]
        assert all(f"granted by {AUDITOR.sub}" in line for line in listed)
        # and a counselor may not grant one
        monkeypatch.setenv("CARE_DATABASE_URL", fresh_database)
        counselor = COUNSELOR.headers(runtime.settings)["Authorization"].removeprefix("Bearer ")
        assert (
            main(
                [
                    "consumers",
                    "grant",
                    "x",
                    "--org",
                    "y",
                    "--purpose",
                    "treatment",
                    "--token",
                    counselor,
                ]
            )
            == 2
        )

        # and a Part 2 client of harbor-counseling
        story = parent_after_surgery(Story(Clock()))
        commands = [RecordCareEvent(parse_event(b), now=runtime.clock()) for b in story.on_kafka()]
        _, refused = runtime.handler.record_batch(commands)
        assert refused == []
        client = story.client_id
        assert client is not None
        care_events = [r for r in runtime.store.load(client) if r.event.data_class != "access"]

        # when the publisher sends the client's events to care.events
        publish_all(runtime, kafka_bootstrap)

        # then the accounting holds one entry: to the consumer of the other organization, by
        # name and affiliation, its purpose, the classes and the number of events it received
        entries = kafka_entries(runtime, client)
        assert len(entries) == 1
        entry = entries[0]
        assert (entry["recipient_name"], entry["recipient_org"]) == (ANALYTICS, OTHER_ORG)
        assert entry["recipient_affiliation"] == OTHER_ORG
        assert entry["purpose"] == "operations"
        assert entry["event_count"] == len(care_events)
        assert set(entry["data_classes"]) == {r.event.data_class for r in care_events}
        assert entry["program_org"] == COUNSELOR.org

        # and a batch sent again (after a failure) records nothing twice, nor does publishing
        # the disclosure records themselves
        consumers = consumers_of(runtime)
        assert consumers is not None
        consumers.after_publish(runtime.store.read(after=0, limit=10_000))
        publish_all(runtime, kafka_bootstrap)
        assert len(kafka_entries(runtime, client)) == 1
    finally:
        runtime.close()
