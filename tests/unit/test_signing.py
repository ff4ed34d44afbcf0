"""Signatures a receiver written against NetBox or Standard Webhooks verifies unchanged."""

from __future__ import annotations

import base64
import hashlib
import hmac
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
