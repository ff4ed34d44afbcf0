"""Request signatures: NetBox's X-Hook-Signature and Standard Webhooks (webhook-signature).

Standard Webhooks signatures are symmetric (`v1`, HMAC-SHA256, `whsec_` or plain secrets) or
asymmetric (`v1a`, ed25519: hookhub signs with a `whsk_` private key, receivers verify with
its `whpk_` public key). A rotated secret keeps signing beside the new one until it expires,
so receivers can switch over at their own pace.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import functools
import hmac
import secrets
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

STANDARD_SECRET_PREFIX = "whsec_"  # noqa: S105 (a prefix, not a secret)
PRIVATE_KEY_PREFIX = "whsk_"  # an ed25519 private key (32-byte seed, or 64-byte seed + public)
PUBLIC_KEY_PREFIX = "whpk_"  # its public key (32 bytes), what receivers verify v1a with
SEED_BYTES, PUBLIC_BYTES = 32, 32
SECRET_BYTES = 24  # random bytes in a generated secret (Standard Webhooks: 24 to 64)


def netbox_signature(secret: str, body: bytes) -> str:
    """NetBox's X-Hook-Signature: hex HMAC-SHA512 of the body keyed by the secret's UTF-8 bytes."""
    signer = _keyed(secret.encode("utf-8"), "sha512").copy()
    signer.update(body)
    return signer.hexdigest()


@functools.lru_cache(maxsize=1024)
def _keyed(key: bytes, digest: str) -> hmac.HMAC:
    # An HMAC with its key already absorbed: copying it skips the key schedule per message.
    return hmac.new(key, digestmod=digest)


@functools.lru_cache(maxsize=1024)
def standard_webhooks_key(secret: str) -> bytes:
    """The HMAC key of a secret: base64 after `whsec_`, else the secret's UTF-8 bytes."""
    if secret.startswith(STANDARD_SECRET_PREFIX):
        # Padding is optional in the wild; the reference library adds it back too.
        with contextlib.suppress(ValueError):  # not base64 after all: a plain string secret
            return _unbase64(secret[len(STANDARD_SECRET_PREFIX) :], "the whsec_ secret")
    return secret.encode("utf-8")


def _unbase64(encoded: str, what: str) -> bytes:
    try:
        return base64.b64decode(encoded + "=" * (-len(encoded) % 4), validate=True)
    except binascii.Error:
        raise ValueError(f"{what} is not valid base64") from None


@functools.lru_cache(maxsize=256)
def private_key(secret: str) -> Ed25519PrivateKey:
    """The ed25519 key of a `whsk_` secret; ValueError says what is wrong with it."""
    raw = _unbase64(secret[len(PRIVATE_KEY_PREFIX) :], "the whsk_ key")
    if len(raw) not in (SEED_BYTES, SEED_BYTES + PUBLIC_BYTES):
        raise ValueError(
            f"a whsk_ key is the base64 of a 32-byte ed25519 seed (or 64-byte key), "
            f"got {len(raw)} bytes"
        )
    key = Ed25519PrivateKey.from_private_bytes(raw[:SEED_BYTES])
    if len(raw) > SEED_BYTES and raw[SEED_BYTES:] != _raw_public(key):
        raise ValueError("the whsk_ key's last 32 bytes are not its public key")
    return key


def _raw_public(key: Ed25519PrivateKey) -> bytes:
    return key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)


def public_key(secret: str) -> str | None:
    """The `whpk_` public key receivers verify a `whsk_` secret's signatures with (None for
    symmetric secrets, whose verifying key is the secret itself)."""
    if not secret.startswith(PRIVATE_KEY_PREFIX):
        return None
    return PUBLIC_KEY_PREFIX + base64.b64encode(_raw_public(private_key(secret))).decode()


def check_secret(secret: str) -> None:
    """Raise ValueError (the message says why) for a `whsk_` secret that is not a valid key."""
    if secret.startswith(PRIVATE_KEY_PREFIX):
        private_key(secret)


def standard_signature(secret: str, msg_id: str, timestamp: int, body: bytes) -> str:
    """One Standard Webhooks signature of `id.timestamp.body`: `v1a,<base64 ed25519>` for a
    `whsk_` secret, else `v1,<base64 HMAC-SHA256>`."""
    signed = f"{msg_id}.{timestamp}.".encode() + body
    if secret.startswith(PRIVATE_KEY_PREFIX):
        return "v1a," + base64.b64encode(private_key(secret).sign(signed)).decode()
    signer = _keyed(standard_webhooks_key(secret), "sha256").copy()
    signer.update(signed)
    return "v1," + base64.b64encode(signer.digest()).decode()


def verify_netbox(secret: str, body: bytes, header: str) -> bool:
    """Whether an X-Hook-Signature header matches the body, compared in constant time."""
    return hmac.compare_digest(netbox_signature(secret, body), header.strip().lower())


def verify_standard(secret: str, msg_id: str, timestamp: str, body: bytes, header: str) -> bool:
    """Whether any signature in a webhook-signature header matches: `v1a,` ones for a `whpk_`
    public key, else `v1,` ones (compared in constant time)."""
    if secret.startswith(PUBLIC_KEY_PREFIX):
        return _verify_ed25519(secret, f"{msg_id}.{timestamp}.".encode() + body, header)
    try:
        expected = standard_signature(secret, msg_id, int(timestamp), body)
    except ValueError:
        return False
    return any(hmac.compare_digest(expected, candidate) for candidate in header.split())


def _verify_ed25519(public: str, signed: bytes, header: str) -> bool:
    try:
        raw = _unbase64(public[len(PUBLIC_KEY_PREFIX) :], "the whpk_ key")
        key = Ed25519PublicKey.from_public_bytes(raw)
    except ValueError:
        return False
    for candidate in header.split():
        version, _, encoded = candidate.partition(",")
        if version != "v1a":
            continue
        try:
            key.verify(_unbase64(encoded, "a v1a signature"), signed)
        except (ValueError, InvalidSignature):
            continue
        return True
    return False


def standard_signatures(keys: Sequence[str], msg_id: str, timestamp: int, body: bytes) -> str:
    """A webhook-signature header: one `v1,` signature per secret in `keys`, space-separated."""
    return " ".join([standard_signature(key, msg_id, timestamp, body) for key in keys])


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
