"""Settings from the environment (prefix CARE_), built once in the entrypoint and passed down."""

from __future__ import annotations

import base64
import hmac
import math
from collections import Counter
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from projections.audit_trail import DEVELOPMENT_KEY_TEXT as DEVELOPMENT_AUDIT_KEY

DEVELOPMENT_SECRET = "carecircle-development-secret-change-me-0123456789"  # noqa: S105 - dev only
# Development defaults of the privacy keys (issue 5); production refuses them.
DEVELOPMENT_MASTER_KEY = "8N2Gqj3OoISHm4VHA3kW6lT9Qki86xcPG7HrheeSS7I="  # dev only
DEVELOPMENT_DEIDENTIFY_KEY = "E9bd1WnumVd4aKfGiTjjPeedvlk3tNa4On/83IGckZs="  # dev only


MIN_KEY_BYTES = 32
MIN_KEY_BITS_PER_BYTE = 3.5


def key_bytes(text: str) -> bytes:
    """A key as the code uses it: base64 decoded when it is base64, else its UTF-8 text; the
    text's surrounding whitespace (a trailing newline from a file or a secret store) dropped."""
    stripped = text.strip()
    try:
        return base64.b64decode(stripped, validate=True)
    except ValueError:
        return stripped.encode()


def same_key(given: str, development: str) -> bool:
    """Whether a configured key is the development key once normalized as the code decodes it
    (whitespace, base64 padding or line breaks must not let the development key through)."""
    return bool(given.strip()) and hmac.compare_digest(key_bytes(given), key_bytes(development))


def key_weakness(key: bytes) -> str | None:
    """Why a secret key is too weak to keep pseudonyms unguessable, or None: at least 32 bytes
    (HMAC-SHA-256's block of security, NIST SP 800-107r1 §5.3.4) and an empirical entropy of at
    least 3.5 bits per byte (a repeated or dictionary-like text has far less; 32 random bytes
    have about 4.8 measured this way)."""
    if len(key) < MIN_KEY_BYTES:
        return f"{len(key)} bytes, at least {MIN_KEY_BYTES} are needed"
    counts = Counter(key)
    bits = -sum(n / len(key) * math.log2(n / len(key)) for n in counts.values())
    if bits < MIN_KEY_BITS_PER_BYTE:
        return f"{bits:.1f} bits of entropy per byte, at least {MIN_KEY_BITS_PER_BYTE} are needed"
    return None


class Settings(BaseSettings):
    """The operating contract (docs/domain.md), plus tuning knobs with safe defaults."""

    model_config = SettingsConfigDict(env_prefix="CARE_", extra="ignore")

    environment: Literal["development", "production"] = "development"
    database_url: str | None = None
    kafka_bootstrap: str | None = None
    jwt_secret: SecretStr = SecretStr(DEVELOPMENT_SECRET)
    # Production tokens: RS256, verified with a PEM public key (text or a file path) or a JWKS
    # file; HS256 with jwt_secret is accepted only when environment is development.
    jwt_public_key: str | None = None
    jwt_jwks_file: Path | None = None
    jwt_issuer: str | None = None
    jwt_audience: str | None = None
    http_host: str = "127.0.0.1"
    http_port: int = 8000
    data_dir: Path = Path(".carecircle")
    pool_size: int = Field(default=8, ge=1, le=200)
    pool_max_overflow: int = Field(default=40, ge=0, le=500)
    pool_timeout_seconds: float = Field(default=5.0, gt=0)
    max_body_bytes: int = Field(default=256 * 1024, ge=1024)
    clock_skew_seconds: int = Field(default=300, ge=0)
    conflict_retries: int = Field(default=20, ge=0)
    read_wait_seconds: float = Field(default=2.0, ge=0)
    # In-process caches, in clients: decided state (writes) and access facts (authorization);
    # hit rates in /metrics (carecircle_cache_hits_total / _misses_total by cache)
    state_cache_size: int = Field(default=100_000, ge=0)
    facts_cache_size: int = Field(default=100_000, ge=0)
    record_cache_size: int = Field(default=100_000, ge=0)  # record snapshots (GET a record)
    log_level: Literal["debug", "info", "warning", "error"] = "info"
    # Projections (docs/projections.md): events per transaction; early-warning threshold
    # overrides by name (domain/early_warning.py Thresholds),
    # e.g. CARE_WARNING_THRESHOLDS='{"craving_high": 8}'
    projection_batch_size: int = Field(default=2000, ge=1, le=50_000)
    # behind the head (a catch-up, a rebuild): events per transaction after a full batch
    projection_backlog_batch_size: int = Field(default=20_000, ge=1, le=200_000)
    # behind the head: backlog batches applied in one transaction, a round (the read models'
    # held writes, the early-warning signs among them, go out once at its end)
    projection_backlog_round: int = Field(default=5, ge=1, le=100)
    warning_thresholds: dict[str, float] = Field(default_factory=dict)
    # Kafka (docs/kafka.md): topic names, the ingest group, and how the workers batch.
    kafka_inbound_topic: str = "care.events.inbound"
    kafka_deadletter_topic: str = "care.events.deadletter"
    kafka_events_topic: str = "care.events"
    kafka_flags_topic: str = "care.flags"
    kafka_ingest_group: str = "carecircle-ingest"
    # static group membership (KIP-345): a restarted worker with the same id takes its partitions
    # back without waiting out the session timeout; unique per ingest process (e.g. the pod name)
    kafka_ingest_instance_id: str | None = None
    kafka_create_topics: bool = True  # create missing topics on worker start (local brokers)
    kafka_topic_partitions: int = Field(default=6, ge=1)
    kafka_max_poll_records: int = Field(default=4000, ge=1)
    kafka_session_timeout_ms: int = Field(default=10_000, ge=6000)  # Tansu joins in half of it
    kafka_publish_batch: int = Field(default=2000, ge=1)
    # What `care.events` and `care.flags` carry as each event's `data` (issue 11): sealed under
    # the client's key (default), de-identified, or clear (refused in production unless
    # CARE_PUBLISH_CLEAR_ALLOWED=true: every consumer of the topic then reads Part 2 data).
    publish_mode: Literal["sealed", "deidentified", "clear"] = "sealed"
    publish_clear_allowed: bool = False
    worker_metrics_port: int | None = None  # a worker's own /metrics (separate processes)

    # Privacy (issue 5): encryption at rest, crypto-shredding, de-identification, break-the-glass.
    encrypt_at_rest: bool = True
    master_key: SecretStr = SecretStr(DEVELOPMENT_MASTER_KEY)  # base64 of 32 bytes
    previous_master_keys: SecretStr = SecretStr("")  # comma-separated, still unwrap (rotation)
    key_cache_seconds: float = Field(default=30.0, ge=0)
    deidentify_key: SecretStr = SecretStr(DEVELOPMENT_DEIDENTIFY_KEY)
    break_glass_max_minutes: int = Field(default=240, ge=1, le=24 * 60)
    break_glass_default_minutes: int = Field(default=60, ge=1, le=24 * 60)
    # Who may break the glass (42 CFR 2.51): the roles of every program organization, comma
    # separated, and (JSON) the roles of the organizations that set their own.
    break_glass_roles: str = "crisis_clinician,prescriber"
    break_glass_roles_by_org: dict[str, list[str]] = Field(default_factory=dict)
    erasure_confirm_hours: float = Field(default=24.0, gt=0)
    # The web console (issue 15): the key of its CSRF tokens (derived from master_key if unset).
    console_secret: SecretStr = SecretStr("")
    # The audit trail and the access log (issue 10): their chains are HMAC-keyed with this key
    # (base64 of at least 32 bytes), kept outside the database; anchors are signed with a key
    # derived from it. Periodic anchors: a JSON-lines file and/or the anchors topic.
    audit_key: SecretStr = SecretStr(DEVELOPMENT_AUDIT_KEY)
    audit_anchor_topic: str = "care.audit.anchors"
    # The running stack anchors both chains every this many seconds (worker role `anchor`, in
    # `carecircle up` too; 0: never): to CARE_AUDIT_ANCHOR_FILE (JSON lines) and/or the topic.
    audit_anchor_every_s: float = Field(default=300.0, ge=0)
    audit_anchor_file: Path | None = None
    audit_anchor_to_topic: bool = True  # where a broker is known (CARE_KAFKA_BOOTSTRAP, `up`)

    def audit_key_bytes(self) -> bytes:
        """CARE_AUDIT_KEY decoded: base64 (surrounding blanks ignored) of at least 32 bytes."""
        try:
            key = base64.b64decode(self.audit_key.get_secret_value().strip(), validate=True)
        except ValueError as error:
            raise ValueError("CARE_AUDIT_KEY must be base64") from error
        if len(key) < 32:
            raise ValueError("CARE_AUDIT_KEY must hold at least 32 bytes")
        return key

    @model_validator(mode="after")
    def _refuse_unsafe_production(self) -> Settings:
        self.audit_key_bytes()
        if self.environment == "production":
            if not (self.jwt_public_key or self.jwt_jwks_file):
                raise ValueError(
                    "CARE_JWT_PUBLIC_KEY or CARE_JWT_JWKS_FILE must be set in production"
                    " (RS256; HS256 tokens are for development only)"
                )
            if same_key(self.master_key.get_secret_value(), DEVELOPMENT_MASTER_KEY):
                raise ValueError("CARE_MASTER_KEY must be set in production")
            for previous in self.previous_master_keys.get_secret_value().split(","):
                if same_key(previous, DEVELOPMENT_MASTER_KEY):
                    raise ValueError("CARE_PREVIOUS_MASTER_KEYS must not hold the development key")
            if same_key(self.deidentify_key.get_secret_value(), DEVELOPMENT_DEIDENTIFY_KEY):
                raise ValueError("CARE_DEIDENTIFY_KEY must be set in production")
            if self.audit_key.get_secret_value().strip() == DEVELOPMENT_AUDIT_KEY:
                raise ValueError("CARE_AUDIT_KEY must be set in production")
            weakness = key_weakness(key_bytes(self.deidentify_key.get_secret_value()))
            if weakness is not None:
                raise ValueError(f"CARE_DEIDENTIFY_KEY is too weak for production: {weakness}")
            if self.database_url is None:
                raise ValueError("CARE_DATABASE_URL must be set in production")
            if self.publish_mode == "clear" and not self.publish_clear_allowed:
                raise ValueError(
                    "CARE_PUBLISH_MODE=clear puts every event's data in clear on care.events;"
                    " set CARE_PUBLISH_CLEAR_ALLOWED=true to allow it in production"
                )
        return self
