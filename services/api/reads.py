"""What the read routes share: the read models, and `min_position` for read-your-writes."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Annotated

from fastapi import Query
from psycopg import Connection
from psycopg.rows import DictRow

from projections.engine import Tables
from projections.reading import NotCaughtUp, PositionNotIssued, ReadModels
from services.api.problems import Problem

MinPosition = Annotated[
    int | None,
    Query(ge=0, description="Answer once the read models include this position (from a write)"),
]


@contextmanager
def caught_up(
    reads: ReadModels, names: Sequence[str], min_position: int | None
) -> Iterator[tuple[Connection[DictRow], dict[str, Tables]]]:
    """The live tables once caught up with `min_position`, else 503 `not_caught_up`."""
    try:
        with reads.reading(names, min_position) as found:
            yield found
    except PositionNotIssued:
        raise Problem(
            "validation_error", "min_position is beyond the store's head: no write answered it."
        ) from None
    except NotCaughtUp:
        raise Problem(
            "not_caught_up",
            f"The read models have not reached position {min_position} yet.",
            headers={"Retry-After": "1"},
        ) from None
