"""Pure upcasters: a payload stored or sent in an older schema version, lifted to the current one.

A published event never changes shape; a new shape gets a new `schema_version` and a function
here that turns the old payload into the new one before validation.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

Payload = dict[str, object]


def _check_in_v1_to_v2(payload: Payload) -> Payload:
    """CheckInRecorded v1 called the hours slept `sleep`; v2 calls it `sleep_hours`."""
    data = payload.get("data")
    if isinstance(data, dict) and "sleep" in data and "sleep_hours" not in data:
        data = {("sleep_hours" if k == "sleep" else k): v for k, v in data.items()}
    return {**payload, "data": data, "schema_version": 2}


UPCASTERS: Mapping[tuple[str, int], Callable[[Payload], Payload]] = {
    ("CheckInRecorded", 1): _check_in_v1_to_v2,
}


def upcast(payload: Payload) -> Payload:
    """Lift a payload through every upcaster from its stated version to the current one."""
    event_type = payload.get("type")
    version = payload.get("schema_version")
    while isinstance(event_type, str) and isinstance(version, int):
        step = UPCASTERS.get((event_type, version))
        if step is None:
            break
        payload = step(payload)
        version = payload.get("schema_version")
    return payload
