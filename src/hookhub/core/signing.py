"""Request signatures: NetBox's X-Hook-Signature and Standard Webhooks (webhook-signature).

A rotated secret keeps signing beside the new one until it expires, so receivers can switch
over at their own pace.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import secrets
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

STANDARD_SECRET_PREFIX = "whsec_"  # noqa: S105 (a prefix, not a secret)
SECRET_BYTES = 24  # random bytes in a generated secret (Standard Webhooks: 24 to 64)


def netbox_signature(secret: str, body: bytes) -> str:
    """NetBox's X-Hook-Signature: hex HMAC-SHA512 of the body keyed by the secret's UTF-8 bytes."""
    return hmac.new(secret.encode("utf-8"), body, hashlib.sha512).hexdigest()


def standard_webhooks_key(secret: str) -> bytes:
    """The HMAC key of a secret: base64 after `whsec_`, else the secret's UTF-8 bytes."""
    if secret.startswith(STANDARD_SECRET_PREFIX):
        try:
            encoded = secret[len(STANDARD_SECRET_PREFIX) :]
            # Padding is optional in the wild; the reference library adds it back too.
            return base64.b64decode(encoded + "=" * (-len(encoded) % 4), validate=True)
        except binascii.Error:
            pass  # not valid base64 after all: treat it as a plain string secret
    return secret.encode("utf-8")


def standard_signature(secret: str, msg_id: str, timestamp: int, body: bytes) -> str:
    """One `v1,<base64>` Standard Webhooks signature of `id.timestamp.body`."""
    signed = f"{msg_id}.{timestamp}.".encode() + body
    digest = hmac.new(standard_webhooks_key(secret), signed, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode()


def verify_netbox(secret: str, body: bytes, header: str) -> bool:
    """Whether an X-Hook-Signature header matches the body, compared in constant time."""
    return hmac.compare_digest(netbox_signature(secret, body), header.strip().lower())


def verify_standard(secret: str, msg_id: str, timestamp: str, body: bytes, header: str) -> bool:
    """Whether any `v1,` signature in a webhook-signature header matches, in constant time."""
    try:
        expected = standard_signature(secret, msg_id, int(timestamp), body)
    except ValueError:
        return False
    return any(hmac.compare_digest(expected, candidate) for candidate in header.split())


def standard_signatures(keys: Sequence[str], msg_id: str, timestamp: int, body: bytes) -> str:
    """A webhook-signature header: one `v1,` signature per secret in `keys`, space-separated."""
    return " ".join(standard_signature(key, msg_id, timestamp, body) for key in keys)


def generate_secret() -> str:
    """A new Standard Webhooks secret: `whsec_` and the base64 of 24 random bytes."""
    return STANDARD_SECRET_PREFIX + base64.b64encode(secrets.token_bytes(SECRET_BYTES)).decode()


def live_secrets(previous: Iterable[Mapping[str, Any]] | None, now: float) -> list[dict[str, Any]]:
    """The entries of `previous_secrets` ([{"secret", "expires_at"}]) still signing at `now`."""
    return [dict(entry) for entry in previous or () if entry["expires_at"] > now]


def rotate(
    old: str | None,
    new: str,
    previous: Iterable[Mapping[str, Any]] | None,
    grace: float,
    now: float,
) -> list[dict[str, Any]]:
    """`previous_secrets` once `old` (if any) is replaced by `new`: `old` signs on for `grace` s.

    Expired entries are dropped, and so is `new` if it comes back from the list.
    """
    kept = [entry for entry in live_secrets(previous, now) if entry["secret"] != new]
    if old and grace > 0:
        # Newest first, like the signatures: a receiver tries the likeliest match first.
        kept.insert(0, {"secret": old, "expires_at": now + grace})
    return kept
