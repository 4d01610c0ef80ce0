"""What the integration tests put on the wire, recorded for the contract checks that run last.

While the session runs, every HTTP exchange through the app (method, route template, status, and
the body of the event-recording routes) and every Kafka message any producer in this process
sends (topic, key, value) is kept here; tests/integration/test_wire_contracts.py then compares
them with the published documents: the statuses with docs/openapi.json, the bodies and messages
with the JSON Schemas under docs/schemas/.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from kafka import KafkaProducer
from starlette.types import Message, Receive, Scope, Send

from services.api.middleware import CorrelationMiddleware

RECORDING_ROUTES = frozenset({"/v1/clients", "/v1/clients/{client_id}/events"})


@dataclass(frozen=True, slots=True)
class Exchange:
    method: str
    route: str | None  # None when answered before routing (the body limit)
    path: str
    status: int
    body: bytes | None  # the request body of an event-recording route, else None
    answer: bytes | None  # the response body of an event-recording route, else None


@dataclass
class Observed:
    exchanges: list[Exchange] = field(default_factory=list)
    sent: list[tuple[str, bytes | None, bytes | None]] = field(default_factory=list)


OBSERVED = Observed()


@contextmanager
def observing() -> Iterator[Observed]:
    """Wrap the correlation middleware (every app has it) and KafkaProducer.send for the block."""
    original_call = CorrelationMiddleware.__call__
    original_send = KafkaProducer.send

    async def call(self: CorrelationMiddleware, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await original_call(self, scope, receive, send)
            return
        chunks: list[bytes] = []
        answer: list[bytes] = []
        status = 0

        async def tapped_receive() -> Message:
            message = await receive()
            if message["type"] == "http.request":
                chunks.append(message.get("body", b""))
            return message

        async def tapped_send(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            elif getattr(scope.get("route"), "path", None) in RECORDING_ROUTES:
                answer.append(message.get("body", b""))
            await send(message)

        await original_call(self, scope, tapped_receive, tapped_send)
        route = getattr(scope.get("route"), "path", None)
        if status:
            method = str(scope["method"]).lower()
            recording = route in RECORDING_ROUTES and method == "post"
            OBSERVED.exchanges.append(
                Exchange(
                    method,
                    route,
                    str(scope["path"]),
                    status,
                    b"".join(chunks) if recording else None,
                    b"".join(answer) if recording else None,
                )
            )

    def send(self: Any, topic: str, value: Any = None, key: Any = None, **kwargs: Any) -> Any:
        OBSERVED.sent.append((topic, _raw(key), _raw(value)))
        return original_send(self, topic, value=value, key=key, **kwargs)

    CorrelationMiddleware.__call__ = call  # type: ignore[method-assign]
    KafkaProducer.send = send
    try:
        yield OBSERVED
    finally:
        CorrelationMiddleware.__call__ = original_call  # type: ignore[method-assign]
        KafkaProducer.send = original_send


def _raw(value: Any) -> bytes | None:
    if value is None or isinstance(value, bytes):
        return value
    if isinstance(value, str):
        return value.encode()
    return None  # a serializer's input: the tests' producers send bytes
