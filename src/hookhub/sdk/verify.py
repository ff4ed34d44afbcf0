"""Receivers' side: check that a request really comes from hookhub, and is fresh.

VerificationError       the request's signature does not verify (HookhubError, 401)
├── MissingSignature    no webhook-signature or X-Hook-Signature header
├── StaleTimestamp      webhook-timestamp missing, malformed, or outside the tolerance
└── SignatureMismatch   no signature matches the body under this secret or public key
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from typing import Protocol

from hookhub.core.signing import PUBLIC_KEY_PREFIX, verify_netbox, verify_standard
from hookhub.errors import HookhubError

TOLERANCE = 300.0  # seconds a webhook-timestamp may differ from our clock (Standard Webhooks')


class Headers(Protocol):
    """Any header collection: a dict, Starlette's or Werkzeug's Headers, http.client's..."""

    def items(self) -> Iterable[tuple[str, str]]: ...


class VerificationError(HookhubError):
    """The request's signature does not verify."""

    code = "invalid_signature"
    status = 401


class MissingSignature(VerificationError):
    """The request carries no webhook-signature or X-Hook-Signature header."""


class StaleTimestamp(VerificationError):
    """The request's webhook-timestamp is missing, malformed or too far from now."""


class SignatureMismatch(VerificationError):
    """No signature in the request matches its body."""


def verify(headers: Headers, body: bytes, secret: str, *, tolerance: float = TOLERANCE) -> None:
    """Raise a VerificationError unless `body` and `headers` were signed by hookhub with
    `secret` (`whsec_` or plain secret, or the `whpk_` public key of a `whsk_` one).

    Standard Webhooks headers are preferred when present: they also prove freshness (the
    timestamp is signed). Otherwise NetBox's X-Hook-Signature is checked (it has no timestamp).
    """
    lowered = {name.lower(): value for name, value in headers.items()}
    standard = lowered.get("webhook-signature")
    if standard is not None:
        timestamp = lowered.get("webhook-timestamp", "")
        _check_fresh(timestamp, tolerance)
        if not verify_standard(secret, lowered.get("webhook-id", ""), timestamp, body, standard):
            raise SignatureMismatch("webhook-signature does not match the body and this secret")
        return
    netbox = lowered.get("x-hook-signature")
    if netbox is None:
        raise MissingSignature
    if secret.startswith(PUBLIC_KEY_PREFIX):
        raise SignatureMismatch("X-Hook-Signature is an HMAC: a whpk_ public key cannot check it")
    if not verify_netbox(secret, body, netbox):
        raise SignatureMismatch("X-Hook-Signature does not match the body and this secret")


def _check_fresh(timestamp: str, tolerance: float) -> None:
    try:
        sent = int(timestamp)
    except ValueError:
        raise StaleTimestamp(f"webhook-timestamp {timestamp[:40]!r} is not a Unix time") from None
    drift = time.time() - sent
    if abs(drift) > tolerance:
        when = "old" if drift > 0 else "in the future"
        raise StaleTimestamp(
            f"webhook-timestamp is {abs(drift):.0f} s {when}; at most {tolerance:.0f} s allowed"
        )
