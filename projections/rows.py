"""Read-model rows as typed values: a dataclass filled from the columns of the same names."""

from __future__ import annotations

import functools
from collections.abc import Mapping
from dataclasses import fields
from typing import TYPE_CHECKING, Any, TypeVar

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
