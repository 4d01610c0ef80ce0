"""A list read (a member's caseload, a page of flags) is logged in ONE append: the request's
own allowed entry, then one entry per row it decided. A list read that fails after it was
authorized still leaves its allowed entry in the access log."""

from __future__ import annotations

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
