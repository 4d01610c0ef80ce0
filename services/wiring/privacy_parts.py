"""The privacy parts of the runtime: the master and client keys, the store's payload codec, the
de-identifier, the gatekeeper with its access log, and erasures; and the check that every
configured key loads before anything starts."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta

from domain.break_glass import BreakGlassPolicy
from domain.deidentify import Deidentifier
from services.adapters.access_log import AccessLog
from services.adapters.consumer_registry import ConsumerRegistry
from services.adapters.crypto import ClientKeys, EncryptingCodec, MasterKeys, decode_master_key
from services.adapters.store import Database, EventStore, JsonCodec, PayloadCodec
from services.adapters.tokens import token_keys
from services.app.erasure import Erasures
from services.app.gatekeeper import FactsCache, Gatekeeper
from services.app.privacy import Privacy, PrivacySchema
from services.app.record import CareRecordHandler
from services.settings import Settings, key_bytes


def break_glass_policy(settings: Settings) -> BreakGlassPolicy:
    """Who may break the glass into which program's records (CARE_BREAK_GLASS_ROLES,
    CARE_BREAK_GLASS_ROLES_BY_ORG)."""
    default = frozenset(r.strip() for r in settings.break_glass_roles.split(",") if r.strip())
    by_org = {org: frozenset(roles) for org, roles in settings.break_glass_roles_by_org.items()}
    return BreakGlassPolicy(default_roles=default, by_org=by_org)


def master_keys(settings: Settings) -> MasterKeys:
    previous = [
        decode_master_key(text)
        for text in settings.previous_master_keys.get_secret_value().split(",")
        if text.strip()
    ]
    return MasterKeys(decode_master_key(settings.master_key.get_secret_value()), previous)


def client_keys(settings: Settings, db: Database, schema: PrivacySchema) -> ClientKeys:
    return ClientKeys(
        db,
        master_keys(settings),
        cache_seconds=settings.key_cache_seconds,
        ensure_schema=schema.ensure,
    )


def payload_codec(settings: Settings, keys: ClientKeys | None) -> PayloadCodec:
    """The codec of the event store: encrypting when encryption at rest is on (the default)."""
    if settings.encrypt_at_rest and keys is not None:
        return EncryptingCodec(keys)
    return JsonCodec()


def deidentifier(settings: Settings) -> Deidentifier:
    return Deidentifier(key_bytes(settings.deidentify_key.get_secret_value()))


class KeysRefused(RuntimeError):
    """A configured key or key file does not load: the process must not start."""


def check_keys(settings: Settings) -> None:
    """Load every key and key file the settings name, once, before anything starts: a missing
    or unreadable `CARE_JWT_PUBLIC_KEY` file would otherwise start, answer ready, then fail
    every request. Names the setting, never the key."""
    checks: list[tuple[str, Callable[[], object]]] = [
        ("CARE_JWT_PUBLIC_KEY / CARE_JWT_JWKS_FILE", lambda: token_keys(settings)),
        ("CARE_MASTER_KEY / CARE_PREVIOUS_MASTER_KEYS", lambda: master_keys(settings)),
        ("CARE_DEIDENTIFY_KEY", lambda: deidentifier(settings)),
    ]
    for name, load in checks:
        try:
            load()
        except Exception as error:
            raise KeysRefused(f"{name} does not load ({type(error).__name__})") from None
    keys = token_keys(settings)
    if settings.environment == "production" and not keys.public_keys:
        raise KeysRefused("CARE_JWT_PUBLIC_KEY / CARE_JWT_JWKS_FILE hold no RSA public key")


def build_privacy(
    settings: Settings,
    store: EventStore,
    handler: CareRecordHandler,
    clock: Callable[[], datetime],
    *,
    keys: ClientKeys | None = None,
    schema: PrivacySchema | None = None,
) -> Privacy:
    db = store.database
    schema = schema or PrivacySchema(db)
    access_log = AccessLog(db, ensure_schema=schema.ensure, key=settings.audit_key_bytes())
    gate = Gatekeeper(
        store,
        handler,
        access_log,
        clock,
        cache=FactsCache(size=settings.facts_cache_size),
        erased=keys.known_erased if keys is not None else lambda _client: False,
        break_glass=break_glass_policy(settings),
    )
    handler.sees_client = gate.knows_client  # event_id reuse: 409 only for who may know
    erasures = Erasures(
        db,
        keys,
        gate,
        handler,
        clock,
        confirm_within=timedelta(hours=settings.erasure_confirm_hours),
        ensure_schema=schema.ensure,
    )
    return Privacy(
        settings=settings,
        schema=schema,
        access_log=access_log,
        gate=gate,
        keys=keys,
        erasures=erasures,
        deidentifier=deidentifier(settings),
        consumers=ConsumerRegistry(db, ensure_schema=schema.ensure),
    )
