"""The access log is written without a table lock: concurrent readers' entries are group
committed, and two processes (two pools) append beside each other. The chain stays one order,
its ids grow by one without gaps, and every id handed back is a committed row."""

from __future__ import annotations

import threading
from uuid import uuid4

from services.adapters.access_log import AccessEntry, AccessLog
from services.adapters.store import open_database
from services.wiring import Runtime
from tests.unit import builders


def _read(actor: str) -> AccessEntry:
    return AccessEntry(
        at=builders.NOW,
        actor_id=actor,
        actor_role="counselor",
        actor_org="harbor-counseling",
        client_id=uuid4(),
        action="read_record",
        data_classes=("check_in",),
        purpose="treatment",
        outcome="allowed",
        basis="care_team",
    )


def test_concurrent_reads_of_two_processes_keep_one_gap_free_verifiable_chain(
    runtime: Runtime, privacy_db_url: str
) -> None:
    # given this process's access log and a second process's, on its own pool
    assert runtime.privacy is not None
    ours = runtime.privacy.access_log
    other_db = open_database(privacy_db_url, pool_size=4)
    theirs = AccessLog(other_db, key=runtime.settings.audit_key_bytes())
    ours.append([_read("warm-up")])
    handed_back: list[int] = []
    lock = threading.Lock()

    def reader(log: AccessLog, name: str) -> None:
        for n in range(15):
            ids = log.append([_read(f"{name}-{n}")] * (1 + n % 3))
            with lock:
                handed_back.extend(ids)

    # when 16 readers, 8 in each process, log their reads at once
    threads = [
        threading.Thread(target=reader, args=(ours if i % 2 else theirs, f"reader-{i}"))
        for i in range(16)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    other_db.close()

    # then every id handed back is a row, the ids are consecutive, and the chain verifies
    with runtime.store.connection() as conn:
        stored = [r["entry_id"] for r in conn.execute("SELECT entry_id FROM access_log")]
    assert sorted(handed_back) == sorted(set(handed_back))
    assert set(handed_back) <= set(stored)
    assert sorted(stored) == list(range(min(stored), min(stored) + len(stored)))
    assert ours.verify().ok


def test_a_writer_behind_the_chain_chains_its_rows_after_the_other_process_rows(
    runtime: Runtime, privacy_db_url: str
) -> None:
    # given this process appended once (it remembers the chain's last row) and a second
    # process appended three rows after it
    assert runtime.privacy is not None
    ours = runtime.privacy.access_log
    [first] = ours.append([_read("ours-first")])
    other_db = open_database(privacy_db_url, pool_size=2)
    theirs = AccessLog(other_db, key=runtime.settings.audit_key_bytes())
    their_ids = theirs.append([_read("theirs")] * 3)
    other_db.close()

    # when this process appends again, from its stale view of the chain
    again = ours.append([_read("ours-again")] * 2)

    # then its rows follow the other process's, without a gap, and the chain verifies
    assert their_ids == [first + 1, first + 2, first + 3]
    assert again == [first + 4, first + 5]
    assert [e.entry.actor_id for e in ours.entries(after=first)] == ["theirs"] * 3 + [
        "ours-again"
    ] * 2
    assert ours.verify().ok
