"""What is left of an entry once its client's data key was destroyed (crypto-shredding).

The store keeps every event's skeleton in clear — who did what, when, to which client — and the
PHI-bearing `data` under the client's own key. When that key is erased, the data can never be
read again; the store then answers each such event as an `ErasedEntry`: the original envelope
(event id, actor, times, purpose, labels) and the original type, nothing else. It is never
submitted or stored: readers get it in place of the entry, and every fold skips it.
"""

from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import Field

from domain.envelope import Envelope, Frozen, Identifier

ERASED_DATA_CLASS = "erased"


class ErasedData(Frozen):
    original_type: Identifier
    original_schema_version: int = Field(ge=1)


class ErasedEntry(Envelope):
    """An entry whose PHI was crypto-shredded: the skeleton of who did what when survives."""

    data_class: ClassVar[str] = ERASED_DATA_CLASS
    type: Literal["ErasedEntry"] = "ErasedEntry"
    schema_version: Literal[1] = 1
    data: ErasedData
