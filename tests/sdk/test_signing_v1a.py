"""Asymmetric (v1a, ed25519) signing end to end: a webhook with a whsk_ secret shows its
public key, never the secret, and its deliveries verify with hookhub.verify and that key."""

from __future__ import annotations

import base64

import pytest

from hookhub import SignatureMismatch, verify
from tests.conftest import Hookhub
from tests.support.receiver import Receiver

PRIVATE = "whsk_" + base64.b64encode(bytes(range(32))).decode()
OTHER = "whsk_" + base64.b64encode(b"\x07" * 32).decode()


async def _public_key(server: Hookhub, secret: str) -> str:
    created = await server.admin.post(
        "/webhooks", json={"name": f"k{secret[-6:]}", "url": "http://127.0.0.1:9", "secret": secret}
    )
    assert created.status_code == 201, created.text
    key: str = created.json()["public_key"]
    return key


async def test_a_v1a_delivery_verifies_with_the_public_key_only(
    hookhub: Hookhub, receiver: Receiver
) -> None:
    created = await hookhub.admin.post(
        "/webhooks", json={"name": "signed", "url": receiver.url, "secret": PRIVATE}
    )
    assert created.status_code == 201, created.text
    webhook = created.json()
    assert webhook["secret"] != PRIVATE and PRIVATE[5:] not in created.text
    public = webhook["public_key"]
    assert public.startswith("whpk_")
    fetched = await hookhub.reader.get(f"/webhooks/{webhook['id']}")
    assert fetched.json()["public_key"] == public

    rule = {"name": "all", "object_types": [], "event_types": [], "webhook_id": webhook["id"]}
    assert (await hookhub.admin.post("/rules", json=rule)).status_code == 201
    event = {"object_type": "dcim.site", "event": "created", "data": {"name": "x"}}
    assert (await hookhub.admin.post("/events", json=event)).status_code == 202
    await receiver.wait_for(1)

    request = receiver.requests[0]
    assert request.headers["webhook-signature"].startswith("v1a,")
    verify(request.headers, request.body, public)
    wrong = await _public_key(hookhub, OTHER)
    with pytest.raises(SignatureMismatch):
        verify(request.headers, request.body, wrong)


async def test_a_malformed_private_key_is_refused_with_the_reason(hookhub: Hookhub) -> None:
    bad = "whsk_" + base64.b64encode(b"short").decode()
    answer = await hookhub.admin.post(
        "/webhooks", json={"name": "bad", "url": "http://127.0.0.1:9", "secret": bad}
    )
    assert answer.status_code == 422
    error = answer.json()["error"]
    assert error["field"].endswith("secret")
    assert "32-byte ed25519 seed" in error["message"]
