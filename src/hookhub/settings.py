"""Process settings, read once from the environment (`HOOKHUB_*`) and overridable by CLI flags."""

from __future__ import annotations

import os
from dataclasses import dataclass, replace

from hookhub.errors import ConfigError

DEFAULT_DATABASE_URL = "sqlite:///./hookhub.db"


def _env_float(name: str, default: float) -> float:
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    try:
        return float(raw)
    except ValueError:
        raise ConfigError(f"{name} must be a number, got {raw!r}") from None


def _env_int(name: str, default: int) -> int:
    value = _env_float(name, default)
    if value != int(value) or value < 1:
        raise ConfigError(f"{name} must be a positive whole number, got {value!r}")
    return int(value)


@dataclass(frozen=True)
class Settings:
    """Everything a hookhub process can be configured with; each field maps to `HOOKHUB_<NAME>`."""

    # SQLAlchemy-style URL: sqlite:///path or postgresql://user@host/db
    database_url: str = DEFAULT_DATABASE_URL
    # Deliveries sent at once by one worker process, across all webhooks.
    concurrency: int = 100
    # Deliveries claimed from the database per query.
    claim_batch: int = 200
    # seconds: fallback poll when no wake-up arrives (scheduled retries, other processes' work).
    poll_interval: float = 0.5
    # seconds: added to a webhook's timeout to form the lease of a claimed delivery.
    lease_margin: float = 10.0
    # bytes: how much of a receiver's response body is kept in the attempt log.
    response_body_limit: int = 64 * 1024
    # bytes: largest request body the API accepts.
    max_request_body: int = 5 * 1024 * 1024
    # Base URL shown to users (behind a reverse proxy); empty = derived from the request.
    public_url: str = ""

    @classmethod
    def from_env(cls) -> Settings:
        """Read settings from `HOOKHUB_*` environment variables, validating each."""
        return cls(
            database_url=os.environ.get("HOOKHUB_DATABASE_URL") or DEFAULT_DATABASE_URL,
            concurrency=_env_int("HOOKHUB_CONCURRENCY", cls.concurrency),
            claim_batch=_env_int("HOOKHUB_CLAIM_BATCH", cls.claim_batch),
            poll_interval=_env_float("HOOKHUB_POLL_INTERVAL", cls.poll_interval),
            lease_margin=_env_float("HOOKHUB_LEASE_MARGIN", cls.lease_margin),
            response_body_limit=_env_int("HOOKHUB_RESPONSE_BODY_LIMIT", cls.response_body_limit),
            max_request_body=_env_int("HOOKHUB_MAX_REQUEST_BODY", cls.max_request_body),
            public_url=os.environ.get("HOOKHUB_PUBLIC_URL", "").rstrip("/"),
        )

    def with_database(self, url: str | None) -> Settings:
        """These settings with another database URL (the CLI's `--database`), if one is given."""
        return replace(self, database_url=url) if url else self
