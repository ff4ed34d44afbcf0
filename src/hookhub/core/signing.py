"""Request signatures: NetBox's X-Hook-Signature and Standard Webhooks (webhook-signature)."""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac

STANDARD_SECRET_PREFIX = "whsec_"  # noqa: S105 (a prefix, not a secret)


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
