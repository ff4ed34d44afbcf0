"""The signed session cookie that carries the CSRF token."""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import time
from dataclasses import dataclass

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
        return bool(token) and hmac.compare_digest(self.csrf.encode(), (token or "").encode())


def seal(session: Session, key: bytes) -> str:
    """The cookie value: the session as base64 JSON, then its HMAC-SHA256."""
    data = orjson.dumps({"u": session.user_id, "c": session.csrf, "t": session.issued_at})
    payload = base64.urlsafe_b64encode(data).decode().rstrip("=")
    return f"{payload}.{_mac(payload, key)}"


def unseal(value: str, key: bytes, now: float) -> Session | None:
    """The session in a cookie, or None if it is forged, garbled or expired."""
    payload, _, mac = value.partition(".")
    if not hmac.compare_digest(mac.encode(), _mac(payload, key).encode()):
        return None
    try:
        data = orjson.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
        session = Session(data["u"], data["c"], float(data["t"]))
    except (ValueError, KeyError, TypeError):
        return None
    return session if now - session.issued_at < SESSION_MAX_AGE else None


def _mac(payload: str, key: bytes) -> str:
    return hmac.new(key, payload.encode(), hashlib.sha256).hexdigest()
