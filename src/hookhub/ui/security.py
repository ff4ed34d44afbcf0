"""The signed session cookies (the UI's login, the consumer portal's link) that carry the CSRF
token."""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import time
from dataclasses import dataclass
from typing import Any

import orjson

SESSION_MAX_AGE = 7 * 86400  # seconds a login lasts
COOKIE = "hookhub_session"


@dataclass(frozen=True)
class Session:
    """Who is logged in (None before login) and the CSRF token every form must echo."""

    user_id: str | None
    csrf: str
    issued_at: float

    @classmethod
    def fresh(cls, user_id: str | None = None) -> Session:
        """A new session with a new CSRF token."""
        return cls(user_id, secrets.token_urlsafe(24), time.time())

    def accepts(self, token: str | None) -> bool:
        """Whether a submitted form's CSRF token is this session's."""
        return csrf_matches(self.csrf, token)


def csrf_matches(expected: str, token: str | None) -> bool:
    """Whether a submitted form's CSRF `token` is `expected`, compared in constant time."""
    return bool(token) and hmac.compare_digest(expected.encode(), (token or "").encode())


def seal(session: Session, key: bytes) -> str:
    """The cookie value: the session as base64 JSON, then its HMAC-SHA256."""
    return seal_data({"u": session.user_id, "c": session.csrf, "t": session.issued_at}, key)


def unseal(value: str, key: bytes, now: float) -> Session | None:
    """The session in a cookie, or None if it is forged, garbled or expired."""
    data = unseal_data(value, key)
    try:
        session = Session(data["u"], data["c"], float(data["t"])) if data else None
    except (ValueError, KeyError, TypeError):
        return None
    return session if session and now - session.issued_at < SESSION_MAX_AGE else None


def seal_data(data: dict[str, Any], key: bytes) -> str:
    """A cookie value carrying `data`: base64 JSON, then its HMAC-SHA256 under `key`."""
    payload = base64.urlsafe_b64encode(orjson.dumps(data)).decode().rstrip("=")
    return f"{payload}.{_mac(payload, key)}"


def unseal_data(value: str, key: bytes) -> dict[str, Any] | None:
    """The data a cookie value carries, or None if it is forged or garbled."""
    payload, _, mac = value.partition(".")
    if not hmac.compare_digest(mac.encode(), _mac(payload, key).encode()):
        return None
    try:
        data = orjson.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    except ValueError:
        return None
    return data if isinstance(data, dict) else None


def _mac(payload: str, key: bytes) -> str:
    return hmac.new(key, payload.encode(), hashlib.sha256).hexdigest()
