"""A batch's statements run per client in event order, set-wise; statements that only raise a
timestamp (a contact, a check-in) are merged per client, so a client with many check-ins in one
batch costs one row of one statement, not one round each; a derived column is settled once per
client at the batch's end."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import uuid4

import pytest
from psycopg.sql import SQL

from projections.engine import Statements

RAISE = SQL("UPDATE t SET at = GREATEST(at, v.at) FROM unnest(%b::timestamptz[], %b::uuid[])")
INSERT = SQL("INSERT INTO t SELECT * FROM unnest(%b::uuid[])")
OTHER_COLUMN = SQL("UPDATE t SET in_care = v.in_care FROM unnest(%b::bool[], %b::uuid[])")
BOOK = SQL("INSERT INTO a SELECT * FROM unnest(%b::uuid[], %b::text[])")
NEXT_DUE = SQL("UPDATE t SET next_at = (SELECT min(at) FROM a) FROM unnest(%b::uuid[])")


class Recording:
    def __init__(self) -> None:
        self.executed: list[tuple[str, list[list[Any]]]] = []

    def execute(self, query: Any, params: list[list[Any]]) -> None:
        self.executed.append((repr(query), params))


def test_twenty_check_ins_of_a_client_are_one_row_with_the_latest_time() -> None:
    # given one client's twenty raising statements in a batch, after its insert
    client = uuid4()
    start = datetime(2026, 1, 1, tzinfo=UTC)
    statements = Statements()
    statements.about(client)
    statements.execute(INSERT, (client,), reshapes=True)
    for hour in (3, 1, 19, 7, *range(8, 18), 0, 2, 4, 5, 6, 18):
        statements.execute(RAISE, (start + timedelta(hours=hour), client), greatest=0)
    # when the batch runs
    cursor = Recording()
    statements.run(cursor, {})  # type: ignore[arg-type]
    # then the insert runs first, then ONE raising row carrying the latest time
    assert len(cursor.executed) == 2
    assert cursor.executed[1][1] == [[start + timedelta(hours=19)], [client]]


def test_raising_rows_of_different_members_stay_apart() -> None:
    client = uuid4()
    at = datetime(2026, 1, 1, tzinfo=UTC)
    member_raise = SQL("UPDATE m SET at = GREATEST(at, v.at) FROM unnest(%b, %b, %b)")
    statements = Statements()
    statements.about(client)
    statements.execute(member_raise, (at, "counselor-1", client), greatest=0)
    statements.execute(member_raise, (at, "peer-1", client), greatest=0)
    cursor = Recording()
    statements.run(cursor, {})  # type: ignore[arg-type]
    # two rounds: each member's row kept
    assert [params[1] for _q, params in cursor.executed] == [["counselor-1"], ["peer-1"]]


AT = datetime(2026, 1, 1, tzinfo=UTC)
LATER = AT + timedelta(hours=2)


@pytest.mark.parametrize(
    ("between", "values", "reshapes", "expected"),
    [
        # an insert may bring the row the raise needs: all three run, in order
        (INSERT, ("client",), True, [[[AT], ["client"]], [["client"]], [[LATER], ["client"]]]),
        # a discharge changes another column: the two contacts are one raise to the later time
        (OTHER_COLUMN, (False, "client"), False, [[[LATER], ["client"]], [[False], ["client"]]]),
    ],
    ids=["across-an-insert", "across-another-column"],
)
def test_raising_statements_merge_across_statements_that_neither_insert_nor_delete_rows(
    between: SQL, values: tuple[Any, ...], reshapes: bool, expected: list[Any]
) -> None:
    # given a contact, another statement of the same client, then a later contact
    statements = Statements()
    statements.about("client")
    statements.execute(RAISE, (AT, "client"), greatest=0)
    statements.execute(between, values, reshapes=reshapes)
    statements.execute(RAISE, (LATER, "client"), greatest=0)
    # when the batch runs
    cursor = Recording()
    statements.run(cursor, {})  # type: ignore[arg-type]
    # then the contacts merged only where the statement between them could not move their row
    assert [params for _q, params in cursor.executed] == expected


def test_the_next_appointment_is_settled_once_per_client_after_every_booking() -> None:
    # given two clients, one booking three appointments and one booking one, each booking
    # asking for the next appointment to be recomputed
    first, second = uuid4(), uuid4()
    statements = Statements()
    for client, appointments in ((first, ("a1", "a2", "a3")), (second, ("b1",))):
        statements.about(client)
        for appointment in appointments:
            statements.execute(BOOK, (client, appointment))
            statements.settle(NEXT_DUE, (client,))
    cursor = Recording()
    statements.run(cursor, {})  # type: ignore[arg-type]
    # then every booking runs in its round, and the next appointment runs last, once, for both
    assert [params for _q, params in cursor.executed] == [
        [[first, second], ["a1", "b1"]],
        [[first], ["a2"]],
        [[first], ["a3"]],
        [[first, second]],
    ]
