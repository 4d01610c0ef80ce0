"""Production tokens are RS256, checked against a configured public key or JWKS; HS256 only in
development; production refuses development keys."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from pydantic import ValidationError

from services.adapters.tokens import issue_token, token_keys, verify_token
from services.app.errors import AuthenticationFailed
from services.settings import DEVELOPMENT_AUDIT_KEY, DEVELOPMENT_SECRET, Settings

PRODUCTION_KEYS = {
    "master_key": "q0m9G3o1h8Ew3sV1r3n5jSxUeZ0yQ2bJ4Kc7Lx9Wd1A=",
    "deidentify_key": "Zk3x9LmQp2Rt7Vw0Yb4Nc6Hd8Jf1Gs5Ua3Ei7Oo9Pq2=",
    "audit_key": "c2l4dHktZm91ci1ieXRlcy1vZi1hLWdlbnVpbmUtYXVkaXQta2V5LWZvci10ZXN0",
    "database_url": "postgresql://db.example/carecircle",
}


@pytest.fixture(scope="module")
def rsa_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.fixture(scope="module")
def other_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def rs256(key: rsa.RSAPrivateKey, *, kid: str = "k1", ttl: float = 3600, **claims: Any) -> str:
    now = datetime.now(UTC)
    body = {
        "sub": "counselor-1",
        "role": "counselor",
        "org": "harbor",
        "iat": now,
        "exp": now + timedelta(seconds=ttl),
        **claims,
    }
    return jwt.encode(body, key, algorithm="RS256", headers={"kid": kid})


def jwks_file(tmp_path: Path, key: rsa.RSAPrivateKey, kid: str = "k1") -> Path:
    jwk = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(key.public_key()))
    path = tmp_path / "jwks.json"
    path.write_text(json.dumps({"keys": [{**jwk, "kid": kid, "use": "sig", "alg": "RS256"}]}))
    return path


def production(**kw: Any) -> Settings:
    return Settings(environment="production", **PRODUCTION_KEYS, **kw)


def test_a_production_token_is_verified_against_the_jwks(tmp_path: Path, rsa_key) -> None:
    settings = production(jwt_jwks_file=jwks_file(tmp_path, rsa_key))

    principal = verify_token(token_keys(settings), f"Bearer {rs256(rsa_key)}")

    assert (principal.sub, principal.role, principal.org) == ("counselor-1", "counselor", "harbor")


def test_a_production_token_is_verified_against_a_pem_public_key(tmp_path: Path, rsa_key) -> None:
    pem = rsa_key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    path = tmp_path / "public.pem"
    path.write_bytes(pem)

    for configured in (pem.decode(), str(path)):
        keys = token_keys(production(jwt_public_key=configured))
        assert verify_token(keys, f"Bearer {rs256(rsa_key)}").sub == "counselor-1"


def test_a_token_signed_by_another_key_is_refused(tmp_path: Path, rsa_key, other_key) -> None:
    keys = token_keys(production(jwt_jwks_file=jwks_file(tmp_path, rsa_key)))

    with pytest.raises(AuthenticationFailed) as refused:
        verify_token(keys, f"Bearer {rs256(other_key)}")

    assert refused.value.code == "invalid_token"


def test_an_expired_production_token_is_refused(tmp_path: Path, rsa_key) -> None:
    keys = token_keys(production(jwt_jwks_file=jwks_file(tmp_path, rsa_key)))

    with pytest.raises(AuthenticationFailed) as refused:
        verify_token(keys, f"Bearer {rs256(rsa_key, ttl=-60)}")

    assert refused.value.code == "token_expired"


def test_issuer_and_audience_are_checked_when_configured(tmp_path: Path, rsa_key) -> None:
    keys = token_keys(
        production(
            jwt_jwks_file=jwks_file(tmp_path, rsa_key),
            jwt_issuer="https://idp.example",
            jwt_audience="carecircle",
        )
    )
    good = rs256(rsa_key, iss="https://idp.example", aud="carecircle")
    wrong = rs256(rsa_key, iss="https://idp.example", aud="someone-else")

    assert verify_token(keys, f"Bearer {good}").sub == "counselor-1"
    with pytest.raises(AuthenticationFailed):
        verify_token(keys, f"Bearer {wrong}")


def test_hs256_is_refused_in_production_and_accepted_in_development(
    tmp_path: Path, rsa_key
) -> None:
    development = Settings()
    hs256 = issue_token(
        development.jwt_secret.get_secret_value(),
        sub="s",
        role="auditor",
        org="o",
        ttl=timedelta(minutes=5),
    )
    in_production = token_keys(production(jwt_jwks_file=jwks_file(tmp_path, rsa_key)))

    assert verify_token(token_keys(development), f"Bearer {hs256}").role == "auditor"
    with pytest.raises(AuthenticationFailed) as refused:
        verify_token(in_production, f"Bearer {hs256}")
    assert refused.value.code == "invalid_token"


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({}, "CARE_JWT_PUBLIC_KEY or CARE_JWT_JWKS_FILE"),
        ({"jwt_public_key": "x", "master_key": None}, "CARE_MASTER_KEY"),
        ({"jwt_public_key": "x", "deidentify_key": None}, "CARE_DEIDENTIFY_KEY"),
        ({"jwt_public_key": "x", "audit_key": None}, "CARE_AUDIT_KEY"),
        ({"jwt_public_key": "x", "audit_key": DEVELOPMENT_AUDIT_KEY + "\n"}, "CARE_AUDIT_KEY"),
        ({"jwt_public_key": "x", "audit_key": "c2hvcnQ="}, "CARE_AUDIT_KEY must hold"),
    ],
)
def test_production_refuses_development_keys(overrides: dict[str, Any], message: str) -> None:
    values = {**PRODUCTION_KEYS, **overrides}
    values = {k: v for k, v in values.items() if v is not None}

    with pytest.raises(ValidationError, match=message):
        Settings(environment="production", jwt_secret=DEVELOPMENT_SECRET + "x", **values)
