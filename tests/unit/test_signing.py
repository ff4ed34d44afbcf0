"""Signatures a receiver written against NetBox or Standard Webhooks verifies unchanged."""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
from datetime import UTC, datetime

import pytest
import standardwebhooks

from hookhub.core import signing

BODY = b'{"event": "created", "data": {"id": 1}}'
WHSEC = "whsec_" + base64.b64encode(b"k" * 32).decode()


def test_netbox_signature_is_hex_hmac_sha512_of_the_body() -> None:
    expected = hmac.new(b"plain secret", BODY, hashlib.sha512).hexdigest()
    assert signing.netbox_signature("plain secret", BODY) == expected
    assert signing.verify_netbox("plain secret", BODY, expected)
    assert not signing.verify_netbox("other", BODY, expected)


@pytest.mark.parametrize("secret", [WHSEC, "a plain string secret"])
def test_standardwebhooks_package_verifies_our_signature(secret: str) -> None:
    timestamp = 1_700_000_000
    header = signing.standard_signature(secret, "dlv_1", timestamp, BODY)
    assert header.startswith("v1,")
    # The reference library only takes whsec_ secrets; a plain secret's key is its UTF-8 bytes.
    reference_secret = (
        secret if secret.startswith("whsec_") else base64.b64encode(secret.encode()).decode()
    )
    reference = standardwebhooks.Webhook(reference_secret)
    signed_at = datetime.fromtimestamp(timestamp, UTC)
    assert reference.sign("dlv_1", signed_at, BODY.decode()) == header
    assert signing.verify_standard(secret, "dlv_1", str(timestamp), BODY, header)


def test_any_of_several_signatures_verifies() -> None:
    good = signing.standard_signature(WHSEC, "m", 1, BODY)
    assert signing.verify_standard(WHSEC, "m", "1", BODY, f"v1,bm90IGl0 {good}")
    assert not signing.verify_standard(WHSEC, "m", "2", BODY, good)
    assert not signing.verify_standard(WHSEC, "m", "not a number", BODY, good)


def test_unpadded_whsec_secrets_use_the_decoded_key() -> None:
    unpadded = "whsec_dGVzdA"
    assert signing.standard_webhooks_key(unpadded) == b"test"
    header = signing.standard_signature(unpadded, "m", 1, BODY)
    reference = standardwebhooks.Webhook(unpadded).sign(
        "m", datetime.fromtimestamp(1, UTC), BODY.decode()
    )
    assert header == reference


def test_each_live_secret_adds_a_signature_current_first() -> None:
    old = "whsec_" + base64.b64encode(b"o" * 32).decode()
    now = int(time.time())
    header = signing.standard_signatures([WHSEC, old], "m", now, BODY)
    assert header.split() == [
        signing.standard_signature(WHSEC, "m", now, BODY),
        signing.standard_signature(old, "m", now, BODY),
    ]
    headers = {"webhook-id": "m", "webhook-timestamp": str(now), "webhook-signature": header}
    for secret in (WHSEC, old):
        # The reference library accepts a header in which any one signature matches.
        standardwebhooks.Webhook(secret).verify(BODY, headers)
        assert signing.verify_standard(secret, "m", str(now), BODY, header)


def test_rotation_keeps_the_replaced_secret_for_the_grace_period() -> None:
    now = 1_000.0
    first = signing.rotate("a", "b", None, 60, now)
    assert first == [{"secret": "a", "expires_at": 1_060.0}]
    second = signing.rotate("b", "c", first, 600, now + 30)
    assert [e["secret"] for e in second] == ["b", "a"]
    # Expired entries are dropped; grace 0 keeps nothing; a secret coming back is not kept twice.
    assert signing.rotate("c", "d", second, 0, now + 61) == [second[0]]
    assert signing.rotate("c", "b", second, 0, now + 31) == [second[1]]
    assert signing.live_secrets(second, now + 61) == [second[0]]
    assert signing.live_secrets(None, now) == []


def test_generated_secrets_are_standard_webhooks_secrets() -> None:
    secret = signing.generate_secret()
    assert secret.startswith("whsec_")
    assert len(signing.standard_webhooks_key(secret)) == signing.SECRET_BYTES
    assert secret != signing.generate_secret()
