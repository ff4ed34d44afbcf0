"""hookhub.verify: both signature schemes, v1a public keys, freshness, and clear errors."""

from __future__ import annotations

import base64
import time

import pytest

import hookhub
from hookhub.core import signing
from hookhub.outbound.rendering import signature_headers

BODY = b'{"event":"created"}'
SEED = bytes(range(32))
PRIVATE = "whsk_" + base64.b64encode(SEED).decode()


def _signed(secret: str, at: float | None = None) -> dict[str, str]:
    """The headers hookhub's dispatcher sends for BODY, signed at `at` (default now)."""
    return signature_headers(secret, "dlv_1", BODY, int(at or time.time()), [])


@pytest.mark.parametrize("secret", ["whsec_" + base64.b64encode(b"k" * 24).decode(), "plain"])
def test_hookhubs_own_headers_verify(secret: str) -> None:
    hookhub.verify(_signed(secret), BODY, secret)


def test_header_names_are_case_insensitive() -> None:
    headers = {name.upper(): value for name, value in _signed("s").items()}
    hookhub.verify(headers, BODY, "s")


def test_a_changed_body_or_wrong_secret_is_a_mismatch() -> None:
    with pytest.raises(hookhub.SignatureMismatch, match="webhook-signature does not match"):
        hookhub.verify(_signed("s"), BODY + b" ", "s")
    with pytest.raises(hookhub.SignatureMismatch):
        hookhub.verify(_signed("s"), BODY, "other")


def test_netbox_signature_alone_verifies_and_mismatches() -> None:
    netbox = {"X-Hook-Signature": _signed("s")["X-Hook-Signature"]}
    hookhub.verify(netbox, BODY, "s")
    with pytest.raises(hookhub.SignatureMismatch, match="X-Hook-Signature"):
        hookhub.verify(netbox, BODY, "t")


def test_stale_and_future_timestamps_are_refused() -> None:
    old = _signed("s", time.time() - 301)
    with pytest.raises(hookhub.StaleTimestamp, match="old; at most 300 s"):
        hookhub.verify(old, BODY, "s")
    hookhub.verify(old, BODY, "s", tolerance=600)
    with pytest.raises(hookhub.StaleTimestamp, match="in the future"):
        hookhub.verify(_signed("s", time.time() + 400), BODY, "s")
    garbled = {**_signed("s"), "webhook-timestamp": "yesterday"}
    with pytest.raises(hookhub.StaleTimestamp, match="not a Unix time"):
        hookhub.verify(garbled, BODY, "s")


def test_no_signature_is_missing_and_every_error_is_a_verification_error() -> None:
    with pytest.raises(hookhub.MissingSignature) as caught:
        hookhub.verify({"content-type": "application/json"}, BODY, "s")
    assert isinstance(caught.value, hookhub.VerificationError)
    assert caught.value.status == 401
    assert "no webhook-signature or X-Hook-Signature" in str(caught.value)


def test_v1a_signatures_verify_with_the_public_key_only() -> None:
    public = signing.public_key(PRIVATE)
    assert public is not None and public.startswith("whpk_")
    headers = _signed(PRIVATE)
    assert headers["webhook-signature"].startswith("v1a,")
    hookhub.verify(headers, BODY, public)
    other = signing.public_key("whsk_" + base64.b64encode(b"\x01" * 32).decode())
    assert other is not None
    with pytest.raises(hookhub.SignatureMismatch):
        hookhub.verify(headers, BODY, other)
    with pytest.raises(hookhub.SignatureMismatch, match="public key cannot check it"):
        hookhub.verify({"X-Hook-Signature": headers["X-Hook-Signature"]}, BODY, public)


def test_a_64_byte_key_is_the_seed_and_its_public_key() -> None:
    public = signing.public_key(PRIVATE)
    assert public is not None
    full = SEED + base64.b64decode(public[len("whpk_") :])
    assert signing.public_key("whsk_" + base64.b64encode(full).decode()) == public
    with pytest.raises(ValueError, match="not its public key"):
        signing.check_secret("whsk_" + base64.b64encode(SEED + b"\0" * 32).decode())


@pytest.mark.parametrize(
    ("secret", "message"),
    [("whsk_!!!", "not valid base64"), ("whsk_" + base64.b64encode(b"x").decode(), "got 1 bytes")],
)
def test_malformed_private_keys_say_what_is_wrong(secret: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        signing.check_secret(secret)
