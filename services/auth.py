"""Who is calling: a bearer JWT (`sub`, `role`, `org`) becomes a Principal.

Development uses HS256 with CARE_JWT_SECRET (`carecircle token` prints one).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import get_args

import jwt

from domain.envelope import Actor, Role

ROLES: frozenset[str] = frozenset(get_args(Role)) - {"rule"}
HUMAN_ROLES: frozenset[str] = ROLES - {"service"}


class AuthenticationFailed(Exception):
    """The request carries no usable credentials; `code` says which way it failed."""

    def __init__(self, code: str, message: str) -> None:
        self.code = code
        self.message = message
        super().__init__(message)


@dataclass(frozen=True, slots=True)
class Principal:
    """One authenticated caller: a person in a role at an organization, or a service."""

    sub: str
    role: str
    org: str

    @property
    def is_service(self) -> bool:
        return self.role == "service"

    def as_actor(self) -> Actor:
        return Actor(
            id=self.sub,
            role=self.role,
            org=self.org,
            kind="service" if self.is_service else "human",
        )


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
        known = _verified.get((secret, authorization))
        if known is not None and known[1] > time.time():
            return known[0]
    principal, expires = _decode(secret, authorization)
    if len(_verified) >= _VERIFIED_MAX:
        _verified.clear()
    if authorization:
        _verified[(secret, authorization)] = (principal, expires)
    return principal


def _decode(secret: str, authorization: str | None) -> tuple[Principal, float]:
    if not authorization:
        raise AuthenticationFailed("missing_token", "A bearer token is required.")
    scheme, _, token = authorization.partition(" ")
    if scheme.lower() != "bearer" or not token:
        raise AuthenticationFailed("invalid_token", "Use the Bearer scheme.")
    try:
        claims = jwt.decode(
            token.strip(), secret, algorithms=["HS256"], options={"require": ["sub", "exp"]}
        )
    except jwt.ExpiredSignatureError:
        raise AuthenticationFailed("token_expired", "The token has expired.") from None
    except jwt.PyJWTError:
        raise AuthenticationFailed("invalid_token", "The token is not valid.") from None
    role, org, sub = claims.get("role"), claims.get("org"), claims.get("sub")
    if role not in ROLES or not isinstance(org, str) or not org or not isinstance(sub, str):
        raise AuthenticationFailed("invalid_token", "The token lacks a known role or org.")
    return Principal(sub=sub, role=role, org=org), float(claims["exp"])
