"""Text that PostgreSQL can store: no NUL, no unpaired surrogate.

PostgreSQL's `text` and `jsonb` refuse the NUL character (U+0000, `\\u0000` in JSON), and a
UTF-8 database cannot hold a lone UTF-16 surrogate (U+D800–U+DFFF), which Python strings and
`json.loads` accept. A care event holding either would be stored (the payload is encrypted
bytes) and then stop every read model that copies the text into a column: one such event is a
poison pill. Both edges therefore refuse such text before anything is stored (domain/contract),
and the decider refuses it for every other path (domain/client.decide).

The check walks a validated model by its own field names, so a place it reports is a place of
the schema, never a submitted key (mapping keys are checked, but reported at their field).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from typing import Any
from uuid import UUID

from pydantic import BaseModel

Place = tuple[int | str, ...]

UNSTORABLE_MESSAGE = "Text must not contain NUL or unpaired surrogate characters"


def storable(text: str) -> bool:
    """Whether PostgreSQL can store this text (no NUL, valid UTF-8 once encoded)."""
    if "\x00" in text:
        return False
    if text.isascii():
        return True
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def unstorable_places(value: Any, place: Place = ()) -> Iterator[Place]:
    """Every place in a model (by field names and list indexes) whose text cannot be stored."""
    if isinstance(value, str):
        if not storable(value):
            yield place
    elif isinstance(value, BaseModel):
        for name in type(value).model_fields:
            yield from unstorable_places(getattr(value, name), (*place, name))
    elif isinstance(value, list | tuple):
        for index, item in enumerate(value):
            yield from unstorable_places(item, (*place, index))
    elif isinstance(value, set | frozenset):
        for item in value:
            yield from unstorable_places(item, place)
    elif isinstance(value, Mapping):
        for key, item in value.items():
            if isinstance(key, str) and not storable(key):
                yield place
            yield from unstorable_places(item, place)


# values that hold no text: the walk below answers them at once instead of asking each of its
# kinds (the Mapping check is an ABC's, the slowest of them)
_WITHOUT_TEXT = frozenset(
    {int, float, bool, type(None), datetime, date, time, timedelta, UUID, Decimal, bytes}
)


def holds_unstorable(value: Any) -> bool:
    """Whether `unstorable_places` would report any place: the same walk, stopping at the first
    and building no places. The decider asks it of every event and the edges of every message;
    the generator walk took 34 us a simulated event, 14 % of a bulk fill (docs/benchmarks.md,
    sixth pass)."""
    kind = type(value)
    if kind is str:
        return not storable(value)
    if kind in _WITHOUT_TEXT:
        return False
    if isinstance(value, str):
        return not storable(value)
    if isinstance(value, BaseModel):
        return any(map(holds_unstorable, value.__dict__.values()))  # __dict__: its fields
    if isinstance(value, list | tuple | set | frozenset):
        return any(map(holds_unstorable, value))
    if isinstance(value, Mapping):
        for key, item in value.items():
            if isinstance(key, str) and not storable(key):
                return True
            if holds_unstorable(item):
                return True
    return False
