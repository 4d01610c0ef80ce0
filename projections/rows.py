"""Read-model rows as typed values (a dataclass filled from the columns of the same names), and
the conditions of a filtered page."""

from __future__ import annotations

import functools
from collections.abc import Mapping
from dataclasses import fields
from typing import TYPE_CHECKING, Any, TypeVar

from psycopg.sql import SQL, Composable

if TYPE_CHECKING:
    from _typeshed import DataclassInstance

T = TypeVar("T", bound="DataclassInstance")


@functools.cache
def _names(cls: type[DataclassInstance]) -> tuple[str, ...]:
    return tuple(f.name for f in fields(cls))


def from_row(cls: type[T], row: Mapping[str, Any], **given: Any) -> T:
    """`cls` with each field taken from the row's column of the same name, except the fields
    `given` (a renamed column, a conversion)."""
    taken = {name: row[name] for name in _names(cls) if name not in given}
    return cls(**taken, **given)


class Where:
    """The conditions of a filtered page and their parameters, in the order they are added;
    a filter left out (None) adds nothing."""

    def __init__(self, condition: str, *params: Any) -> None:
        self.parts: list[Composable] = [SQL(condition)]
        self.params: list[Any] = list(params)

    def add(self, condition: Composable, *params: Any) -> None:
        self.parts.append(condition)
        self.params.extend(params)

    def given(self, condition: str, value: object | None) -> None:
        if value is not None:
            self.add(SQL(condition), value)

    def sql(self) -> Composable:
        return SQL(" AND ").join(self.parts)
