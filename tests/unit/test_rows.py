"""A read-model row becomes a typed value by its column names (projections/rows.py)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest

from projections.rows import from_row


@dataclass(frozen=True, slots=True)
class Contact:
    client_id: str
    kind: str
    evidence: tuple[str, ...]


def test_each_field_comes_from_the_column_of_its_name_unless_given() -> None:
    row: dict[str, Any] = {
        "client_id": "c-1",
        "kind": "crisis",
        "evidence": ["e-1", "e-2"],
        "extra": 1,
    }
    contact = from_row(Contact, row, evidence=tuple(row["evidence"]))
    assert contact == Contact("c-1", "crisis", ("e-1", "e-2"))


def test_a_missing_column_is_an_error_not_a_default() -> None:
    with pytest.raises(KeyError, match="kind"):
        from_row(Contact, {"client_id": "c-1", "evidence": ()})
