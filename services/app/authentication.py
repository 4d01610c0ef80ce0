"""Who is asking: a bearer token verified into a Principal (sub, role, org), for the API and
the CLI alike. The keys come from settings (HS256 in development, RS256/JWKS in production) and
are read once (services/adapters/tokens.py)."""

from __future__ import annotations

from collections.abc import Callable

from domain.access_policy import Principal
from services.adapters.tokens import token_keys, verify_token
from services.app.errors import AuthenticationFailed
from services.settings import Settings

Authenticate = Callable[[str | None], Principal]

__all__ = ["Authenticate", "AuthenticationFailed", "authenticate_token", "authenticator"]


def authenticator(settings: Settings) -> Authenticate:
    """Verify an `Authorization` header value into the caller, or raise AuthenticationFailed."""

    def authenticate(authorization: str | None) -> Principal:
        return verify_token(token_keys(settings), authorization)

    return authenticate


def authenticate_token(settings: Settings, token: str | None) -> Principal:
    """A bare token (as the CLI takes it with `--token` or `CARE_TOKEN`)."""
    return verify_token(token_keys(settings), f"Bearer {token}" if token else None)
