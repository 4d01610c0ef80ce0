"""Who is calling: a bearer JWT (`sub`, `role`, `org`) becomes a Principal.

Development uses HS256 with CARE_JWT_SECRET (`carecircle token` prints one). Production uses
RS256, verified with CARE_JWT_PUBLIC_KEY or the keys of CARE_JWT_JWKS_FILE (`verify_token`);
an HS256 token is refused unless CARE_ENVIRONMENT is development.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, get_args

import jwt
from cryptography.hazmat.primitives.serialization import load_pem_public_key

from domain.access_policy import Principal as Principal  # re-exported: callers ask here
from domain.envelope import Role
from domain.storable import storable
from services.app.errors import AuthenticationFailed
from services.settings import Settings

ROLES: frozenset[str] = frozenset(get_args(Role)) - {"rule"}
HUMAN_ROLES: frozenset[str] = ROLES - {"service"}


EXPIRED_DEVELOPMENT = (
    "The token has expired: request a new one (in development: carecircle token --sub ID "
    "--role ROLE --org ORG) and send it as Authorization: Bearer <token>."
)
EXPIRED_ISSUED = "The token has expired: request a new one from your identity provider."


def issue_token(secret: str, *, sub: str, role: str, org: str, ttl: timedelta) -> str:
    """A development token (HS256)."""
    if role not in ROLES:
        raise ValueError(f"role must be one of {sorted(ROLES)}")
    now = datetime.now(UTC)
    claims = {"sub": sub, "role": role, "org": org, "iat": now, "exp": now + ttl}
    return jwt.encode(claims, secret, algorithm="HS256")


_verified: dict[tuple[str, str], tuple[Principal, float]] = {}
_VERIFIED_MAX = 4096


def decode_token(secret: str, authorization: str | None) -> Principal:
    """The principal of an `Authorization: Bearer …` header, or AuthenticationFailed.

    A token verified once is remembered until it expires (callers send the same token on
    every request; verifying the signature each time is most of an event's CPU).
    """
    if authorization:
        known = _remembered((secret, authorization))
        if known is not None:
            return known
    principal, expires = _decode(secret, authorization)
    if len(_verified) >= _VERIFIED_MAX:
        _verified.clear()
    if authorization:
        _verified[(secret, authorization)] = (principal, expires)
    return principal


def _remembered(cache_key: tuple[str, str]) -> Principal | None:
    """The principal of a token verified before and not yet expired."""
    known = _verified.get(cache_key)
    return known[0] if known is not None and known[1] > time.time() else None


def _bearer_token(authorization: str | None) -> str:
    """The token of an `Authorization: Bearer …` header, or AuthenticationFailed."""
    if not authorization:
        raise AuthenticationFailed("missing_token", "A bearer token is required.")
    scheme, _, token = authorization.partition(" ")
    if scheme.lower() != "bearer" or not token:
        raise AuthenticationFailed("invalid_token", "Use the Bearer scheme.")
    return token.strip()


def _refusal(error: jwt.PyJWTError, expired: str) -> AuthenticationFailed:
    """What a failed verification tells the caller: expired (and how to get a new token), or
    simply not valid."""
    if isinstance(error, jwt.ExpiredSignatureError):
        return AuthenticationFailed("token_expired", expired)
    return AuthenticationFailed("invalid_token", "The token is not valid.")


def _decode(secret: str, authorization: str | None) -> tuple[Principal, float]:
    token = _bearer_token(authorization)
    try:
        claims = jwt.decode(
            token, secret, algorithms=["HS256"], options={"require": ["sub", "exp"]}
        )
    except jwt.PyJWTError as error:
        raise _refusal(error, EXPIRED_DEVELOPMENT) from None
    return principal_of(claims), float(claims["exp"])


MAX_CLAIM = 128  # an actor's id and org in a care event (domain/envelope.Identifier)


def principal_of(claims: dict[str, Any]) -> Principal:
    """The caller a verified token's claims name, or AuthenticationFailed: `role` one of the
    known roles (a string, not a list), `sub` and `org` non-empty text that fits an actor and
    that PostgreSQL can store (a NUL in a claim would reach the access log and the events). The
    issuer (`iss`), when present, comes along: care-team membership is matched on it too
    (domain/access.py)."""
    role, org, sub = claims.get("role"), claims.get("org"), claims.get("sub")
    if not isinstance(role, str) or role not in ROLES:
        raise AuthenticationFailed("invalid_token", "The token lacks a known role or org.")
    for claim in (sub, org):
        if not isinstance(claim, str) or not claim.strip() or len(claim) > MAX_CLAIM:
            raise AuthenticationFailed("invalid_token", "The token lacks a known role or org.")
        if not storable(claim):
            raise AuthenticationFailed("invalid_token", "The token's claims hold unusable text.")
    assert isinstance(sub, str)
    assert isinstance(org, str)
    issuer = claims.get("iss")
    usable = isinstance(issuer, str) and 0 < len(issuer) <= MAX_CLAIM and storable(issuer)
    return Principal(sub=sub, role=role, org=org, issuer=issuer if usable else None)


# --- production keys: RS256 (issue 5) -------------------------------------------------------


@dataclass(frozen=True, slots=True)
class TokenKeys:
    """What verifies a token: RS256 public keys and, in development only, the HS256 secret."""

    development_secret: str | None
    public_keys: tuple[tuple[str | None, Any], ...] = ()  # (kid, public key)
    issuer: str | None = None
    audience: str | None = None


def load_public_keys(pem: str | None, jwks_file: Path | None) -> tuple[tuple[str | None, Any], ...]:
    """RSA public keys from a PEM (its text, or a path to it) and from a JWKS file."""
    keys: list[tuple[str | None, Any]] = []
    if pem:
        text = pem if "-----BEGIN" in pem else Path(pem).read_text()
        keys.append((None, load_pem_public_key(text.encode())))
    if jwks_file is not None:
        for jwk in jwt.PyJWKSet.from_dict(json.loads(jwks_file.read_text())).keys:
            if jwk.key_type == "RSA":
                keys.append((jwk.key_id, jwk.key))
    return tuple(keys)


_token_keys: dict[tuple[object, ...], TokenKeys] = {}


def token_keys(settings: Settings) -> TokenKeys:
    """The verification keys the settings name (read once; a changed JWKS file is re-read)."""
    jwks = settings.jwt_jwks_file
    marker = (
        settings.environment,
        settings.jwt_secret.get_secret_value(),
        settings.jwt_public_key,
        jwks,
        jwks.stat().st_mtime_ns if jwks is not None and jwks.exists() else None,
        settings.jwt_issuer,
        settings.jwt_audience,
    )
    known = _token_keys.get(marker)
    if known is None:
        development = settings.environment == "development"
        known = TokenKeys(
            development_secret=settings.jwt_secret.get_secret_value() if development else None,
            public_keys=load_public_keys(settings.jwt_public_key, jwks),
            issuer=settings.jwt_issuer,
            audience=settings.jwt_audience,
        )
        _token_keys[marker] = known
    return known


def verify_token(keys: TokenKeys, authorization: str | None) -> Principal:
    """The principal of a bearer token: RS256 against the public keys, HS256 in development."""
    if authorization and keys.development_secret is not None:
        known = _remembered((keys.development_secret, authorization))  # decode_token's cache
        if known is not None:
            return known
    if authorization:
        known = _remembered(("rs256", authorization))
        if known is not None:
            return known
    if not authorization:
        raise AuthenticationFailed("missing_token", "A bearer token is required.")
    token = _bearer_token(authorization)
    try:
        algorithm = jwt.get_unverified_header(token).get("alg")
    except jwt.PyJWTError:
        raise AuthenticationFailed("invalid_token", "The token is not valid.") from None
    if algorithm == "HS256" and keys.development_secret is not None:
        return decode_token(keys.development_secret, authorization)
    if algorithm != "RS256" or not keys.public_keys:
        raise AuthenticationFailed("invalid_token", "The token is not valid.")
    principal, expires = _decode_rs256(keys, token)
    if len(_verified) >= _VERIFIED_MAX:
        _verified.clear()
    _verified[("rs256", authorization)] = (principal, expires)
    return principal


def _decode_rs256(keys: TokenKeys, token: str) -> tuple[Principal, float]:
    kid = jwt.get_unverified_header(token).get("kid")
    candidates = [key for key_id, key in keys.public_keys if key_id in (None, kid)]
    required = ["sub", "exp"]
    required += ["iss"] if keys.issuer else []
    required += ["aud"] if keys.audience else []
    for key in candidates:
        try:
            claims = jwt.decode(
                token,
                key,
                algorithms=["RS256"],
                issuer=keys.issuer,
                audience=keys.audience,
                options={"require": required},
            )
        except jwt.InvalidSignatureError:
            continue
        except jwt.PyJWTError as error:
            raise _refusal(error, EXPIRED_ISSUED) from None
        return principal_of(claims), float(claims["exp"])
    raise AuthenticationFailed("invalid_token", "The token is not valid.")
