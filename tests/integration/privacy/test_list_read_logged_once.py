"""A list read (a member's caseload, a page of flags) is logged in ONE append: the request's
own allowed entry, then one entry per row it decided. A list read that fails after it was
authorized still leaves its allowed entry in the access log."""

from __future__ import annotations

import threading
import time
from typing import Any
from unittest.mock import patch
from uuid import UUID

from fastapi.testclient import TestClient

from services.wiring import Runtime, live_runner
from tests.integration.privacy.support import access_rows, enroll, headers
from tests.stories import COUNSELOR, PEER


def test_a_caseload_read_is_logged_with_its_rows_in_one_group(
    api: TestClient, runtime: Runtime
) -> None:
    # given two clients on the peer's caseload, projected
    assert runtime.privacy is not None
    clients = {enroll(api, runtime, by=COUNSELOR, team=(PEER,)) for _ in range(2)}
    live_runner(runtime).catch_up()
    log = runtime.privacy.access_log
    commits_before, entries_before = log.batches
    last_before = max((r.entry_id for r in access_rows(runtime, PEER)), default=0)

    # when the peer reads their caseload
    answer = api.get(f"/v1/caseloads/{PEER.sub}", headers=headers(runtime, PEER))

    # then the request and every row it showed were appended in one commit, the request first
    assert answer.status_code == 200, answer.text
    shown = {UUID(row["client_id"]) for row in answer.json()["clients"]}
    assert clients <= shown
    commits, entries = log.batches
    assert commits - commits_before == 1
    assert entries - entries_before == 1 + len(shown)
    logged = [r for r in access_rows(runtime, PEER) if r.entry_id > last_before]
    assert [(r.entry.action, r.entry.client_id) for r in logged[:1]] == [("read_caseload", None)]
    assert {r.entry.client_id for r in logged[1:]} == shown
    assert all(r.entry.outcome == "allowed" for r in logged)
    assert [r.entry_id for r in logged] == list(range(logged[0].entry_id, logged[-1].entry_id + 1))


def test_a_caseload_read_that_fails_after_its_authorization_is_still_logged(
    api: TestClient, runtime: Runtime
) -> None:
    # given the peer's last logged access
    last_before = max((r.entry_id for r in access_rows(runtime, PEER)), default=0)
    beyond = runtime.store.head() + 1000

    # when the peer asks for their caseload as of a position no write answered (422)
    answer = api.get(
        f"/v1/caseloads/{PEER.sub}",
        params={"min_position": beyond},
        headers=headers(runtime, PEER),
    )

    # then the authorized request is in the access log all the same, without rows
    assert answer.status_code == 422, answer.text
    logged = [r for r in access_rows(runtime, PEER) if r.entry_id > last_before]
    assert [(r.entry.action, r.entry.client_id, r.entry.outcome) for r in logged] == [
        ("read_caseload", None, "allowed")
    ]


def test_list_reads_of_clients_not_cached_yet_fold_their_histories_once(
    api: TestClient, runtime: Runtime
) -> None:
    # given three clients whose access facts this process does not hold (as after a restart)
    assert runtime.privacy is not None
    gate = runtime.privacy.gate
    clients = {enroll(api, runtime, by=COUNSELOR, team=(PEER,)) for _ in range(3)}
    for client in clients:
        gate.cache.forget(client)
    whole_histories: list[UUID] = []
    first_in, go_on = threading.Event(), threading.Event()
    load_many = gate.store.load_many

    def counted(after_versions: dict[UUID, int]) -> Any:
        whole_histories.extend(c for c, v in after_versions.items() if c in clients and v == 0)
        if not first_in.is_set():
            first_in.set()
            go_on.wait(5)  # the first reader folds while the second one arrives
        return load_many(after_versions)

    # when two list reads ask for them at the same time (the second while the first folds)
    decided: list[dict[UUID, Any]] = []
    with patch.object(gate.store, "load_many", counted):
        first = threading.Thread(target=lambda: decided.append(gate.facts_many(clients)))
        first.start()
        assert first_in.wait(5)
        second = threading.Thread(target=lambda: decided.append(gate.facts_many(clients)))
        second.start()
        time.sleep(0.2)
        go_on.set()
        first.join(5)
        second.join(5)

    # then each client's whole history was read once, and both reads have every client's facts
    assert sorted(whole_histories) == sorted(clients)
    assert len(decided) == 2
    assert all(set(facts) == clients and None not in facts.values() for facts in decided)
