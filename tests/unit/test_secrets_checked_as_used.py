"""Secrets checked as used (issue 10): production refuses the development keys however they are
written, refuses a weak de-identification key, and a key or key file that does not load stops
the process before it starts instead of failing every request later."""

from __future__ import annotations

import base64
import os
import secrets
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from pydantic import SecretStr, ValidationError

from services.settings import (
    DEVELOPMENT_DEIDENTIFY_KEY,
    DEVELOPMENT_MASTER_KEY,
    Settings,
    key_weakness,
)
from services.wiring import KeysRefused, check_keys

ROOT = Path(__file__).resolve().parents[2]


def strong_key() -> str:
    return base64.b64encode(secrets.token_bytes(32)).decode()


@pytest.fixture
def public_key_pem(tmp_path: Path) -> str:
    private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = private.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    path = tmp_path / "jwt.pub"
    path.write_bytes(pem)
    return str(path)


def production(public_key: str, **changes: Any) -> Settings:
    values: dict[str, Any] = {
        "environment": "production",
        "database_url": "postgresql://db.example/care",
        "jwt_public_key": public_key,
        "master_key": SecretStr(strong_key()),
        "deidentify_key": SecretStr(strong_key()),
        "audit_key": SecretStr(strong_key()),
        **changes,
    }
    return Settings(**values)


def test_production_with_strong_keys_starts(public_key_pem: str) -> None:
    check_keys(production(public_key_pem))


@pytest.mark.parametrize("written", ["{}\n", " {} ", "{}\r\n", "\t{}"])
@pytest.mark.parametrize(
    ("setting", "development"),
    [("master_key", DEVELOPMENT_MASTER_KEY), ("deidentify_key", DEVELOPMENT_DEIDENTIFY_KEY)],
)
def test_production_refuses_a_development_key_however_it_is_written(
    public_key_pem: str, setting: str, development: str, written: str
) -> None:
    with pytest.raises(ValidationError, match=setting.upper()):
        production(public_key_pem, **{setting: SecretStr(written.format(development))})


@pytest.mark.parametrize(
    "weak",
    ["secret", "a" * 64, "passwordpasswordpasswordpassword1", base64.b64encode(b"\x00" * 32)],
)
def test_production_refuses_a_weak_deidentification_key(public_key_pem: str, weak: Any) -> None:
    text = weak.decode() if isinstance(weak, bytes) else weak

    with pytest.raises(ValidationError, match="CARE_DEIDENTIFY_KEY is too weak"):
        production(public_key_pem, deidentify_key=SecretStr(text))


def test_random_keys_are_not_weak() -> None:
    assert all(key_weakness(secrets.token_bytes(32)) is None for _ in range(200))


def test_a_public_key_file_that_is_missing_refuses_to_start(tmp_path: Path) -> None:
    settings = production(str(tmp_path / "no-such-key.pem"))

    with pytest.raises(KeysRefused, match="CARE_JWT_PUBLIC_KEY"):
        check_keys(settings)


def test_a_master_key_that_does_not_decode_refuses_to_start_even_in_development() -> None:
    with pytest.raises(KeysRefused, match="CARE_MASTER_KEY"):
        check_keys(Settings(master_key=SecretStr("not base64 of 32 bytes")))


def test_the_command_refuses_to_start_and_says_which_setting(tmp_path: Path) -> None:
    # given production settings whose public key file is missing
    env = {
        **os.environ,
        "CARE_ENVIRONMENT": "production",
        "CARE_DATABASE_URL": "postgresql://127.0.0.1:1/none",
        "CARE_JWT_PUBLIC_KEY": str(tmp_path / "missing.pem"),
        "CARE_MASTER_KEY": strong_key(),
        "CARE_DEIDENTIFY_KEY": strong_key(),
        "CARE_AUDIT_KEY": strong_key(),
    }
    # when the API is started
    done = subprocess.run(
        [sys.executable, "-m", "services.cli.main", "serve"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    # then it refuses before listening, naming the setting
    assert done.returncode == 2
    assert "CARE_JWT_PUBLIC_KEY" in done.stderr
