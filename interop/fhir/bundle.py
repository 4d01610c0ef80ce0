"""The Bundle: every part in order, the data classes a consent shows, provenance and labels."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from fhir.resources.R4B.bundle import Bundle
from fhir.resources.R4B.patient import Patient

from domain.record import client_record
from domain.recorded import Recorded
from interop import fhir_codes as codes
from interop.fhir.consents import consents
from interop.fhir.context import Builder
from interop.fhir.datatypes import (
    Json,
    build,
    coding,
    security,
)
from interop.fhir.flags import flags
from interop.fhir.handoffs import handoffs
from interop.fhir.notice import notice_extension
from interop.fhir.observations import assessments, check_ins
from interop.fhir.patient import care_team, episodes, patient
from interop.fhir.plans import recovery_plan, safety_plan
from interop.fhir.provenance import provenance

FHIR_RELEASE = "4.3.0"
FHIR_PACKAGE = "fhir.resources.R4B"


def client_bundle(
    history: Sequence[Recorded],
    *,
    now: datetime,
    data_classes: frozenset[str] | None = None,
    notice: Mapping[str, Any] | None = None,
) -> Any | None:
    """The client's Bundle (a `fhir.resources.R4B` Bundle), None when the history holds no
    enrollment. With `data_classes`, only resources of those classes (a consent's scope); the
    Patient then keeps its identifiers only unless `demographics` is among them. With `notice`
    (a disclosure of Part 2 data), the 42 CFR 2.32 notice rides on `Bundle.meta` (notice.py)."""
    record = client_record(history)
    if record is None:
        return None
    builder = Builder(record, history, now)
    patient(builder, data_classes)
    team = care_team(builder)
    episodes(builder, team)
    recovery_plan(builder, team)
    safety_plan(builder)
    assessments(builder)
    check_ins(builder)
    handoffs(builder, consents(builder))
    flags(builder)
    return _bundle(builder, data_classes, notice)


def bundle_json(bundle: Any) -> str:
    """The Bundle as FHIR JSON (`application/fhir+json`)."""
    text: str = bundle.model_dump_json(exclude_none=True)
    return text


def _bundle(
    builder: Builder, data_classes: frozenset[str] | None, notice: Mapping[str, Any] | None
) -> Any:
    """The entries a consent's data classes show (the Patient always), with their provenance."""
    shown = [
        entry
        for entry in builder.entries
        if data_classes is None
        or entry.data_class in data_classes
        or entry.resource.__class__ is Patient
    ]
    shown.extend(provenance(builder, shown))
    bundle_id, _url = builder.url("Bundle", builder.record.version)
    labels = builder.labels | {lab for e in shown for lab in builder.labels_of(e.sources)}
    meta: Json = {
        "lastUpdated": builder.record.last_recorded_at,
        "tag": [
            coding(
                codes.FHIR_VERSION,
                FHIR_RELEASE,
                f"FHIR R4B {FHIR_RELEASE} (the R4 line), built with {FHIR_PACKAGE}",
            )
        ],
    }
    tags = security(labels)
    if tags:
        meta["security"] = tags
    if notice is not None:
        meta["extension"] = [notice_extension(notice)]
    return build(
        Bundle,
        id=bundle_id,
        meta=meta,
        type="collection",
        timestamp=builder.now,
        entry=[{"fullUrl": e.full_url, "resource": e.resource} for e in shown],
    )
