"""PHI at rest: each client's data sealed under its own key, keys wrapped by a rotating master key;
the access log refuses to change and shows any change made behind the application's back."""

from __future__ import annotations

import base64
import os
from uuid import uuid4

import orjson
import psycopg
import pytest
from cryptography.exceptions import InvalidTag

from domain.catalogue import CareEvent
from domain.client import decide, evolve, initial_state
from domain.commands import RecordCareEvent
from domain.errors import DomainError
from services.adapters.access_log import AccessEntry
from services.adapters.crypto import ClientKeys, EncryptingCodec, MasterKeys, UnknownMasterKey
from services.adapters.store import Append, EventStore, open_database
from services.cli.main import build_parser
from services.settings import Settings
from services.wiring import Runtime
from tests.integration.http_support import bearer
from tests.integration.privacy.support import AUDITOR
from tests.stories import COUNSELOR
from tests.unit import builders


def a_history(client_id=None) -> tuple:
    """A whole client's worth of events, as the decider would produce them."""
    client_id = client_id or uuid4()
    state, produced = initial_state(), []
    ids: set = set()
    for event in builders.one_of_each():
        if event.type in ("ErasedEntry", "EpisodeOpened"):
            continue
        event = event.model_copy(update={"client_id": client_id, "event_id": uuid4()})
        try:
            decided = decide(RecordCareEvent(event, now=builders.NOW), state, ids)
        except DomainError:  # steps the workflow refuses in this order are simply left out
            continue
        for one in decided:
            state = evolve(state, one)
            produced.append(one)
            ids.add(one.event_id)
    return client_id, produced


def store_all(store: EventStore, client_id, events: list[CareEvent]) -> None:
    store.append([Append(client_id, 0, events)])


def test_every_event_type_round_trips_sealed_and_the_skeleton_stays_readable(
    runtime: Runtime,
) -> None:
    client_id, events = a_history()
    store_all(runtime.store, client_id, events)

    back = [r.event for r in runtime.store.load(client_id)]
    with runtime.store.connection() as conn:
        states = [
            bytes(r["state"])
            for r in conn.execute(
                "SELECT state FROM care_events WHERE originator_id = %s"
                " ORDER BY originator_version",
                (client_id,),
            ).fetchall()
        ]

    assert back == events
    assert len(events) > 30
    for event, state in zip(events, states, strict=True):
        assert b'"sealed"' in state
        assert event.type.encode() in state  # the skeleton: type, ids, actor, times
        assert str(event.event_id).encode() in state
    assert not [s for s in states if b"Test" in s or b"555-0100" in s]  # the enrolled name/phone


def test_a_sealed_payload_moved_to_another_event_does_not_open(runtime: Runtime) -> None:
    client_id, events = a_history()
    store_all(runtime.store, client_id, events[:3])
    with runtime.store.connection() as conn:
        rows = conn.execute(
            "SELECT originator_version, state FROM care_events WHERE originator_id = %s"
            " ORDER BY originator_version",
            (client_id,),
        ).fetchall()
    store = runtime.store
    first, second = bytes(rows[0]["state"]), bytes(rows[2]["state"])
    swapped = orjson.loads(second)
    swapped["sealed"] = orjson.loads(first)["sealed"]

    with pytest.raises(InvalidTag):
        store.decode(client_id, orjson.dumps(swapped))


def test_keys_rotate_under_a_new_master_key(
    privacy_db_url: str, runtime: Runtime, settings: Settings, capsys
) -> None:
    # given data keys wrapped under the configured (old) master key
    client_id, events = a_history()
    store_all(runtime.store, client_id, events[:4])
    old = settings.master_key.get_secret_value()
    new = base64.b64encode(os.urandom(32)).decode()
    auditor = bearer(settings, AUDITOR.sub, AUDITOR.role, AUDITOR.org)["Authorization"][7:]
    counselor = bearer(settings, COUNSELOR.sub, COUNSELOR.role, COUNSELOR.org)["Authorization"][7:]
    rotated = Settings(
        database_url=privacy_db_url, master_key=new, previous_master_keys=old, key_cache_seconds=0
    )

    # when a counselor tries, then an auditor rotates with the new key current and the old retired
    refused = _cli(rotated, "keys", "rotate", "--token", counselor)
    done = _cli(rotated, "keys", "rotate", "--token", auditor)

    # then every key is wrapped under the new master key: it alone opens the data
    assert refused == 2
    assert done == 0
    assert "re-wrapped" in capsys.readouterr().out
    database = open_database(privacy_db_url, pool_size=1, max_overflow=1)
    try:
        only_new = EventStore(
            database,
            codec=EncryptingCodec(
                ClientKeys(database, MasterKeys(base64.b64decode(new)), cache_seconds=0)
            ),
        )
        assert [r.event for r in only_new.load(client_id)] == events[:4]
        only_old = EncryptingCodec(
            ClientKeys(database, MasterKeys(base64.b64decode(old)), cache_seconds=0)
        )
        with pytest.raises(UnknownMasterKey):
            EventStore(database, codec=only_old).load(client_id)
        counts = ClientKeys(database, MasterKeys(base64.b64decode(new))).counts()
        assert set(counts) - {"erased"} == {MasterKeys(base64.b64decode(new)).current_id}
    finally:
        # put the old key back as current, so the rest of the module reads as before
        back = Settings(
            database_url=privacy_db_url,
            master_key=old,
            previous_master_keys=new,
            key_cache_seconds=0,
        )
        assert _cli(back, "keys", "rotate", "--token", auditor) == 0
        database.close()


def _cli(settings: Settings, *argv: str) -> int:
    args = build_parser().parse_args(list(argv))
    code: int = args.run(args, settings)
    return code


@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE access_log SET outcome = 'allowed'",
        "DELETE FROM access_log",
        "TRUNCATE access_log",
    ],
)
def test_the_access_log_refuses_update_delete_and_truncate(
    runtime: Runtime, statement: str
) -> None:
    assert runtime.privacy is not None
    runtime.privacy.access_log.append([_entry()])

    with runtime.store.connection() as conn, pytest.raises(psycopg.errors.InsufficientPrivilege):
        conn.execute(statement)


def test_the_access_log_chain_shows_a_row_changed_behind_the_applications_back(
    runtime: Runtime, settings: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    assert runtime.privacy is not None
    log = runtime.privacy.access_log
    ids = log.append([_entry(), _entry(), _entry()])
    assert log.verify().ok

    with runtime.store.connection() as conn:
        conn.execute("ALTER TABLE access_log DISABLE TRIGGER access_log_append_only")
        conn.execute("UPDATE access_log SET outcome = 'allowed' WHERE entry_id = %s", (ids[1],))
        conn.execute("ALTER TABLE access_log ENABLE TRIGGER access_log_append_only")
    broken = log.verify()
    verdict = _cli(settings, "audit", "verify")

    assert not broken.ok
    assert broken.first_bad_entry_id == ids[1]
    assert verdict == 1
    assert f"access log broken at entry {ids[1]}" in capsys.readouterr().out
    with runtime.store.connection() as conn:  # repair, so the module's later checks still hold
        conn.execute("ALTER TABLE access_log DISABLE TRIGGER access_log_append_only")
        conn.execute("UPDATE access_log SET outcome = 'denied' WHERE entry_id = %s", (ids[1],))
        conn.execute("ALTER TABLE access_log ENABLE TRIGGER access_log_append_only")
    assert log.verify().ok


def _entry() -> AccessEntry:
    return AccessEntry(
        at=builders.NOW,
        actor_id="probe",
        actor_role="auditor",
        actor_org="privacy-office",
        client_id=uuid4(),
        action="read_record",
        data_classes=("check_in",),
        purpose="treatment",
        outcome="denied",
        code="forbidden",
    )


def test_a_writer_deciding_on_state_from_before_an_erasure_refuses_only_that_command(
    runtime: Runtime,
) -> None:
    # given two clients in care, both known to the handler's state cache
    erased, other = uuid4(), uuid4()
    for client in (erased, other):
        enrolled = builders.enrolled(client_id=client, event_id=uuid4())
        runtime.handler.record(RecordCareEvent(enrolled, now=runtime.clock()))
        runtime.handler.state_of(client)
    # and one of them erased behind this process's back (its key gone, its cache not told)
    assert runtime.privacy is not None
    assert runtime.privacy.keys is not None
    with runtime.store.connection() as conn:
        conn.execute(runtime.privacy.keys.erase_sql, (erased,))

    # when one batch records a check-in for each
    commands = [
        RecordCareEvent(builders.check_in(client_id=c, event_id=uuid4()), now=runtime.clock())
        for c in (erased, other)
    ]
    recorded, refused = runtime.handler.record_batch(commands)

    # then the erased client's is refused as for a client not enrolled, the other is stored
    assert [r.event.client_id for r in recorded] == [other]
    assert [(r.index, r.error.code) for r in refused] == [(0, "client_not_enrolled")]
