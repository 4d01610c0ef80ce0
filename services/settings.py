"""Settings from the environment (prefix CARE_), built once in the entrypoint and passed down."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

DEVELOPMENT_SECRET = "carecircle-development-secret-change-me-0123456789"  # noqa: S105 - dev only


class Settings(BaseSettings):
    """The operating contract of DESIGN.md §3, plus tuning knobs with safe defaults."""

    model_config = SettingsConfigDict(env_prefix="CARE_", extra="ignore")

    environment: Literal["development", "production"] = "development"
    database_url: str | None = None
    kafka_bootstrap: str | None = None
    jwt_secret: SecretStr = SecretStr(DEVELOPMENT_SECRET)
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
    log_level: Literal["debug", "info", "warning", "error"] = "info"
    # Projections (DESIGN.md §5-6): events per transaction; early-warning threshold overrides by
    # name (domain/early_warning.py Thresholds), e.g. CARE_WARNING_THRESHOLDS='{"craving_high": 8}'
    projection_batch_size: int = Field(default=2000, ge=1, le=50_000)
    warning_thresholds: dict[str, float] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _refuse_unsafe_production(self) -> Settings:
        if self.environment == "production":
            if self.jwt_secret.get_secret_value() == DEVELOPMENT_SECRET:
                raise ValueError("CARE_JWT_SECRET must be set in production")
            if self.database_url is None:
                raise ValueError("CARE_DATABASE_URL must be set in production")
        return self
