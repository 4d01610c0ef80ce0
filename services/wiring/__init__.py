"""The one composition root: every part of a process is built here, once, from settings, and
passed in (cosmicpython's bootstrap, written out). Nothing here runs at import.

What it builds, one module each, in the order a process needs them:

- `runtime`: the **runtime**: the database (configured, or embedded PostgreSQL from infra/), one
  connection pool, the event store with its payload codec (encrypting under per-client keys),
  the command handler and the clock;
- `privacy_parts`: the **privacy** parts: the gatekeeper, the access log, client keys, erasures
  and the de-identifier, and the check that every configured key loads;
- `read_parts`: the **read side**: the read models the API queries, the projection runner and
  the early-warning evaluator of the `projections` worker, rebuilds and audit verification;
- `audit_parts`: the audit's **anchors** outside the database (file, topic) and the `anchor`
  worker role that takes them periodically;
- `kafka_parts`: the **Kafka edges**: the `ingest` and `publish` loops of consumers/, with the
  kafka-python clients of services/adapters/kafka.py and the use cases they call
  (services/app/relay.py);
- `api_parts`: the **API** (services/api/);
- `workers`: the worker roles the CLI starts, and the migration before them.

The CLI (services/cli/) and the API reach adapters and infra only through what this package
builds, and import it by the package's name (`from services.wiring import ...`): the modules
are its rooms, not separate roots. Tests build their runtime here too.
"""

from __future__ import annotations

from services.adapters.crypto import new_master_key
from services.adapters.logging import configure_logging
from services.adapters.positions import Positions
from services.wiring.api_parts import api_from_environment, build_api, development_token
from services.wiring.audit_parts import anchor_sink, run_audit_anchors, topic_anchors
from services.wiring.kafka_parts import (
    consumers_of,
    ensure_topics,
    producer,
    run_ingest,
    run_publish,
    store_positions,
)
from services.wiring.privacy_parts import KeysRefused, break_glass_policy, check_keys
from services.wiring.read_parts import (
    BY_NAME,
    PROJECTIONS,
    anchor_audit,
    evaluator,
    keyed_projections,
    live_runner,
    migrate_read_side,
    parked,
    parked_by_projection,
    pool_of,
    projection_lag,
    read_models,
    rebuild,
    rebuild_outdated,
    retry_parked,
    slowest_projection,
    verify_audit,
)
from services.wiring.runtime import Runtime, build_runtime, database, tune_garbage_collector
from services.wiring.workers import WorkerRole, migrate, roles, run_supervised

__all__ = [
    "BY_NAME",
    "PROJECTIONS",
    "KeysRefused",
    "Positions",
    "Runtime",
    "WorkerRole",
    "anchor_audit",
    "anchor_sink",
    "api_from_environment",
    "break_glass_policy",
    "build_api",
    "build_runtime",
    "check_keys",
    "configure_logging",
    "consumers_of",
    "database",
    "development_token",
    "ensure_topics",
    "evaluator",
    "keyed_projections",
    "live_runner",
    "migrate",
    "migrate_read_side",
    "new_master_key",
    "parked",
    "parked_by_projection",
    "pool_of",
    "producer",
    "projection_lag",
    "read_models",
    "rebuild",
    "rebuild_outdated",
    "retry_parked",
    "roles",
    "run_audit_anchors",
    "run_ingest",
    "run_publish",
    "run_supervised",
    "slowest_projection",
    "store_positions",
    "topic_anchors",
    "tune_garbage_collector",
    "verify_audit",
]
