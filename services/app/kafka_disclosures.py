"""Downstream consumers of `care.events` and the disclosures a publish makes to them.

`Consumers.grant` / `revoke` record, in the registry (services/adapters/consumer_registry.py),
which downstream system of which organization receives the topic and for what purpose, with who
recorded it and when (the privacy office: auditors). `Consumers.after_publish` is the
publisher's hook (consumers/publish.py): once the broker acknowledged a batch, every granted
consumer of another organization than a Part 2 client's program has received that client's
events (sealed `data`, which its grant entitles it to open), so one `DisclosureMade` per
consumer, client and batch is recorded (channel `kafka`, `event_count`, the data classes, the
consent that covers it if any), for the accounting of disclosures (42 CFR 2.25; 45 CFR
164.528). Its event id is derived from the consumer, the client and the batch's first position
of that client, so a batch sent again after a failure records nothing twice.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from uuid import NAMESPACE_URL, UUID, uuid5

import structlog

from domain.access import AccessFacts
from domain.access_policy import Action, Principal
from domain.accounting import recipient_named
from domain.commands import RecordCareEvent
from domain.consent import DisclosureData, DisclosureMade
from domain.consent_policy import check_consent, consents_in_force
from domain.consumers import (
    CONSUMER_PURPOSES,
    ConsumerGrant,
    KafkaDisclosure,
    RegistryRecord,
    disclosed,
    part2_clients,
)
from domain.envelope import Actor, PurposeOfUse
from domain.recorded import Recorded
from services.adapters.consumer_registry import ConsumerRegistry
from services.app.errors import AccessRefused
from services.app.gatekeeper import DISCLOSURE_ACTOR_ID, AccessRequest, Gatekeeper
from services.app.record import CareRecordHandler

log = structlog.get_logger(__name__)
DISCLOSURE_NAMESPACE = uuid5(NAMESPACE_URL, "urn:carecircle:kafka-disclosure")


class Consumers:
    """The registry's use cases and the publisher's accounting hook."""

    def __init__(
        self,
        gate: Gatekeeper,
        handler: CareRecordHandler,
        registry: ConsumerRegistry,
        clock: Callable[[], datetime],
    ) -> None:
        self.gate = gate
        self.handler = handler
        self.registry = registry
        self.clock = clock

    def _authorize(self, principal: Principal) -> None:
        self.gate.check(AccessRequest(principal, Action.MANAGE_CONSUMERS, purpose="operations"))

    def grant(self, principal: Principal, name: str, org: str, purpose: str) -> ConsumerGrant:
        """Record that `name` (of `org`) receives care.events for `purpose`."""
        self._authorize(principal)
        if purpose not in CONSUMER_PURPOSES or not name.strip() or not org.strip():
            raise AccessRefused(
                "validation_error",
                f"A consumer has a name, an organization and a purpose of {CONSUMER_PURPOSES}.",
            )
        self.registry.append(
            RegistryRecord(
                "grant",
                name.strip(),
                org.strip(),
                purpose,
                principal.sub,
                principal.role,
                self.clock(),
            )
        )
        return self.registry.granted()[name.strip()]

    def revoke(self, principal: Principal, name: str) -> None:
        """Record that `name` receives the topic no more."""
        self._authorize(principal)
        current = self.registry.granted().get(name)
        if current is None:
            raise AccessRefused("not_found", "No such consumer is granted.")
        self.registry.append(
            RegistryRecord(
                "revoke",
                name,
                current.org,
                current.purpose,
                principal.sub,
                principal.role,
                self.clock(),
            )
        )

    def listing(self, principal: Principal) -> list[ConsumerGrant]:
        self._authorize(principal)
        return sorted(self.registry.granted().values(), key=lambda g: g.name)

    def after_publish(self, batch: Sequence[Recorded]) -> None:
        """Record the disclosures a published batch made to granted consumers."""
        clients = part2_clients(batch)
        if not clients:
            return
        consumers = list(self.registry.granted().values())
        if not consumers:
            return
        facts = self.gate.facts_many(c.client_id for c in clients)
        program_orgs = {
            client: None if known is None or known.erased else known.program_org
            for client, known in facts.items()
        }
        now = self.clock()
        made = disclosed(clients, consumers, program_orgs)
        commands = [
            RecordCareEvent(self._disclosure(d, facts[d.client.client_id], now), now=now)
            for d in made
        ]
        if commands:
            self.handler.record_batch(commands)  # a re-sent batch stores nothing twice
            log.info("disclosure.kafka", count=len(commands))

    def _disclosure(
        self, made: KafkaDisclosure, facts: AccessFacts | None, now: datetime
    ) -> DisclosureMade:
        consumer, client = made.consumer, made.client
        purpose: PurposeOfUse = "operations" if consumer.purpose == "operations" else "treatment"
        consent_events = () if facts is None else facts.consent_events
        check = check_consent(
            consents_in_force(consent_events, now),
            recipient_org=consumer.org,
            recipient_id=consumer.name,
            purpose=purpose,
            data_classes=client.data_classes,
            treating=False,
        )
        form = None if check.consent is None else check.consent.form
        _, affiliation = recipient_named(form, consumer.org, consumer.name)
        return DisclosureMade(
            event_id=_event_id(consumer.name, client.client_id, client.first_position),
            client_id=client.client_id,
            occurred_at=now,
            actor=Actor(
                id=DISCLOSURE_ACTOR_ID, role="service", org=made.program_org, kind="service"
            ),
            purpose_of_use=purpose,
            data=DisclosureData(
                recipient_org=consumer.org,
                recipient_id=consumer.name,
                purpose=purpose,
                data_classes=client.data_classes,
                consent_id=None if check.consent is None else check.consent.consent_id,
                recipient_name=consumer.name,
                recipient_affiliation=affiliation,
                channel="kafka",
                event_count=client.count,
            ),
        )


def _event_id(consumer: str, client_id: UUID, first_position: int) -> UUID:
    return uuid5(DISCLOSURE_NAMESPACE, f"{consumer}:{client_id}:{first_position}")
