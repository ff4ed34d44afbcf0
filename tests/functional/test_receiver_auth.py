"""Receiver auth extras against real local servers: OAuth2 tokens, mTLS, secret rotation."""

from __future__ import annotations

import base64
import hashlib
import hmac
import ssl
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field, replace
from datetime import datetime
from pathlib import Path
from urllib.parse import parse_qs

import orjson
import pytest
import standardwebhooks
import trustme

from hookhub.db.store import Store
from hookhub.db.tables import webhooks
from hookhub.outbound.client import OutboundRequest, Sender
from hookhub.settings import Settings
from tests.conftest import Hookhub
from tests.functional.test_delivery import DEVICE, SECRET, _settled, _webhook
from tests.support.receiver import Received, Receiver, Reply

GRACE = 120.0  # seconds: HOOKHUB_SECRET_ROTATION_GRACE in these tests
CLIENT = {"type": "oauth2", "client_id": "hookhub", "client_secret": "cs-123", "scope": "hooks"}
BASIC = "Basic " + base64.b64encode(b"hookhub:cs-123").decode()
NEW_SECRET = "whsec_" + base64.b64encode(b"n" * 32).decode()


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return replace(settings, secret_rotation_grace=GRACE)


# -- OAuth2 client credentials -------------------------------------------------------------------


@dataclass
class Authority:
    """A receiver's reply that is also its OAuth2 server: issues tok-N, accepts unrevoked ones."""

    status: int = 200  # of token requests with the right client credentials
    issued: int = 0
    revoked: set[str] = field(default_factory=set)

    def __call__(self, request: Received) -> Reply:
        if request.path == "/token":
            if self.status != 200 or request.headers.get("Authorization") != BASIC:
                return Reply(401, '{"error":"invalid_client"}')
            self.issued += 1
            token = {"access_token": f"tok-{self.issued}", "token_type": "Bearer", "expires_in": 60}
            return Reply(200, orjson.dumps(token).decode())
        token = request.headers.get("Authorization", "").removeprefix("Bearer ")
        issued = {f"tok-{n}" for n in range(1, self.issued + 1)}
        return Reply() if token in issued - self.revoked else Reply(401, "invalid token")


def _paths(receiver: Receiver) -> list[str]:
    return [r.path for r in receiver.requests]


async def test_oauth2_token_is_fetched_once_and_sent_as_bearer(
    hookhub: Hookhub, receiver: Receiver
) -> None:
    receiver.reply = Authority()
    auth = {**CLIENT, "token_url": receiver.url + "/token"}
    webhook_id = await _webhook(hookhub, receiver, auth=auth)
    for _ in range(3):
        await hookhub.admin.post("/events", json=DEVICE)
    deliveries = await _settled(hookhub, 3)
    assert [d["status"] for d in deliveries] == ["succeeded"] * 3
    # The three deliveries went out together and shared one token request.
    assert _paths(receiver).count("/token") == 1
    token_request = receiver.requests[0]
    assert token_request.method == "POST"
    assert parse_qs(token_request.body.decode()) == {
        "grant_type": ["client_credentials"],
        "scope": ["hooks"],
    }
    hooks = [r for r in receiver.requests if r.path == "/hook"]
    assert [r.headers["Authorization"] for r in hooks] == ["Bearer tok-1"] * 3

    attempts = (await hookhub.reader.get(f"/deliveries/{deliveries[0]['id']}/attempts")).json()
    assert attempts["items"][0]["request"]["headers"]["Authorization"] == "********"
    assert "tok-1" not in repr(attempts)
    shown = (await hookhub.reader.get(f"/webhooks/{webhook_id}")).json()
    assert shown["auth"] == {**auth, "client_secret": "********", "audience": None}


async def test_a_401_renews_the_token_and_resends_once(
    hookhub: Hookhub, receiver: Receiver
) -> None:
    authority = Authority()
    receiver.reply = authority
    await _webhook(hookhub, receiver, auth={**CLIENT, "token_url": receiver.url + "/token"})
    await hookhub.admin.post("/events", json=DEVICE)
    await _settled(hookhub, 1)
    authority.revoked.add("tok-1")  # before the token's own expiry
    await hookhub.admin.post("/events", json=DEVICE)
    deliveries = await _settled(hookhub, 2)
    assert [(d["status"], d["attempts"]) for d in deliveries] == [("succeeded", 1)] * 2
    assert _paths(receiver) == ["/token", "/hook", "/hook", "/token", "/hook"]
    sent = [r.headers["Authorization"] for r in receiver.requests if r.path == "/hook"]
    assert sent == ["Bearer tok-1", "Bearer tok-1", "Bearer tok-2"]


async def test_a_refused_token_request_fails_the_attempt_with_the_reason(
    hookhub: Hookhub, receiver: Receiver
) -> None:
    receiver.reply = Authority(status=401)
    await _webhook(
        hookhub,
        receiver,
        auth={**CLIENT, "token_url": receiver.url + "/token"},
        retry={"max_attempts": 2, "strategy": "fixed", "interval": 0.1},
    )
    await hookhub.admin.post("/events", json=DEVICE)
    [delivery] = await _settled(hookhub, 1)
    assert (delivery["status"], delivery["attempts"]) == ("failed", 2)
    assert delivery["last_error"] == (
        f'oauth2 token request to {receiver.url}/token failed: 401 {{"error":"invalid_client"}}'
    )
    # Failures are not cached: each attempt asked again, and the receiver was never called.
    assert _paths(receiver) == ["/token", "/token"]


async def test_token_endpoint_network_errors_and_timeouts_are_described(
    receiver: Receiver,
) -> None:
    receiver.reply = lambda r: Reply(delay=2)
    sender = Sender()
    try:
        for token_url, error in [
            ("http://127.0.0.1:1/token", "failed: Cannot connect to host 127.0.0.1:1"),
            (receiver.url + "/token", "failed: timed out after 0.5 s"),
        ]:
            request = OutboundRequest(
                url=receiver.url + "/hook",
                method="POST",
                headers={},
                body=b"{}",
                timeout=0.5,
                oauth2={**CLIENT, "token_url": token_url},
            )
            outcome = await sender.send(request)
            assert outcome.status is None
            assert outcome.error is not None
            assert outcome.error.startswith(f"oauth2 token request to {token_url} {error}")
            # The webhook's timeout bounds the whole send, token request included.
            assert outcome.duration_ms < 1500
    finally:
        await sender.close()
    assert _paths(receiver) == ["/token"]


async def test_oauth2_fields_are_validated_and_the_secret_kept_when_masked(
    hookhub: Hookhub, store: Store
) -> None:
    auth = {**CLIENT, "token_url": "https://idp.example/oauth/token"}
    for change, field_name in [
        ({"token_url": "ftp://idp.example/token"}, "auth.token_url"),
        ({"client_secret": ""}, "auth.client_secret"),
        ({"grant": "password"}, "auth.grant"),
    ]:
        body = {"name": "bad", "url": "http://127.0.0.1:9/", "auth": {**auth, **change}}
        refused = await hookhub.admin.post("/webhooks", json=body)
        assert refused.status_code == 422, refused.text
        assert refused.json()["error"]["field"] == field_name
    created = await hookhub.admin.post(
        "/webhooks", json={"name": "ok", "url": "http://127.0.0.1:9/", "auth": auth}
    )
    assert created.status_code == 201, created.text
    shown = created.json()["auth"]
    assert shown["client_secret"] == "********"
    patched = await hookhub.admin.patch(
        f"/webhooks/{created.json()['id']}", json={"auth": {**shown, "scope": "other"}}
    )
    assert patched.status_code == 200, patched.text
    stored = await store.get(webhooks, created.json()["id"])
    assert stored["auth"]["client_secret"] == "cs-123"
    assert stored["auth"]["scope"] == "other"


# -- mTLS ----------------------------------------------------------------------------------------


@dataclass
class Pki:
    """A test CA, a server context that requires its client certificates, and PEM files."""

    server: ssl.SSLContext
    ca: str
    cert: str
    key: str
    cert_and_key: str
    other_key: str


@pytest.fixture
def pki(tmp_path: Path) -> Pki:
    ca = trustme.CA()
    server = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1").configure_cert(server)
    ca.configure_trust(server)
    server.verify_mode = ssl.CERT_REQUIRED
    client = ca.issue_cert("client.hookhub.test")
    files = {
        "ca": ca.cert_pem,
        "cert": client.cert_chain_pems[0],
        "key": client.private_key_pem,
        "cert_and_key": client.private_key_and_cert_chain_pem,
        "other_key": ca.issue_cert("other.hookhub.test").private_key_pem,
    }
    for name, blob in files.items():
        blob.write_to_path(str(tmp_path / f"{name}.pem"))
    return Pki(server, **{name: str(tmp_path / f"{name}.pem") for name in files})


@pytest.fixture
async def tls_receiver(pki: Pki) -> AsyncIterator[Receiver]:
    receiver = await Receiver(ssl_context=pki.server).start()
    yield receiver
    await receiver.stop()


async def test_mtls_client_certificate_is_presented(
    hookhub: Hookhub, tls_receiver: Receiver, pki: Pki
) -> None:
    tls = {"ca_file_path": pki.ca, "retry": {"max_attempts": 1}}
    pair = {"client_cert_path": pki.cert, "client_key_path": pki.key}
    await _webhook(hookhub, tls_receiver, name="pair", **tls, **pair)
    await _webhook(hookhub, tls_receiver, name="one-file", **tls, client_cert_path=pki.cert_and_key)
    await _webhook(hookhub, tls_receiver, name="no-cert", **tls)
    await hookhub.admin.post("/events", json=DEVICE)
    deliveries = await _settled(hookhub, 3)
    names = {w["id"]: w["name"] for w in (await hookhub.reader.get("/webhooks")).json()["items"]}
    by_name = {names[d["webhook_id"]]: d for d in deliveries}
    assert by_name["pair"]["status"] == by_name["one-file"]["status"] == "succeeded"
    assert len(tls_receiver.requests) == 2
    refused = by_name["no-cert"]
    assert refused["status"] == "failed"
    # A TLS 1.3 server's refusal often reaches the client as a bare reset: the error says why.
    assert "client certificate" in refused["last_error"], refused["last_error"]


async def test_client_certificates_are_checked_when_saved(hookhub: Hookhub, pki: Pki) -> None:
    base = {"name": "mtls", "url": "https://127.0.0.1:9/"}
    mismatched = {"client_cert_path": pki.cert, "client_key_path": pki.other_key}
    cases = [
        (mismatched, "client_key_path", "the private key does not match the certificate"),
        ({"client_cert_path": pki.cert}, "client_cert_path", "set client_key_path to the key"),
        ({"client_cert_path": pki.key}, "client_cert_path", "holds no PEM certificate"),
        ({"client_key_path": pki.key}, "client_key_path", "set client_cert_path too"),
        ({"client_cert_path": "/nonexistent/cert.pem"}, "client_cert_path", "no such file"),
    ]
    for change, field_name, message in cases:
        refused = await hookhub.admin.post("/webhooks", json={**base, **change})
        assert refused.status_code == 422, (change, refused.text)
        assert refused.json()["error"]["field"] == field_name
        assert message in refused.json()["error"]["message"]
    pair = {"client_cert_path": pki.cert, "client_key_path": pki.key}
    created = await hookhub.admin.post("/webhooks", json={**base, **pair})
    assert created.status_code == 201, created.text
    assert {k: created.json()[k] for k in pair} == pair


# -- secret rotation -----------------------------------------------------------------------------


def _verifies(secret: str, request: Received) -> bool:
    try:
        standardwebhooks.Webhook(secret).verify(request.body, request.headers)
    except standardwebhooks.WebhookVerificationError:
        return False
    return True


def _epoch(iso: str) -> float:
    return datetime.fromisoformat(iso).timestamp()


async def test_old_and_new_secrets_both_verify_during_the_grace_period(
    hookhub: Hookhub, receiver: Receiver, store: Store
) -> None:
    webhook_id = await _webhook(hookhub, receiver)  # signed with SECRET
    rotated = await hookhub.admin.post(
        f"/webhooks/{webhook_id}/rotate-secret", json={"secret": NEW_SECRET, "grace": 3600}
    )
    assert rotated.status_code == 200, rotated.text
    assert rotated.json()["secret"] == NEW_SECRET
    [entry] = rotated.json()["previous_secrets"]
    assert abs(_epoch(entry["expires_at"]) - (time.time() + 3600)) < 30
    assert SECRET not in rotated.text

    await hookhub.admin.post("/events", json=DEVICE)
    await receiver.wait_for(1)
    during = receiver.requests[0]
    assert len(during.headers["webhook-signature"].split()) == 2
    # A receiver that has only the old secret, and one that has only the new, both verify.
    assert _verifies(SECRET, during)
    assert _verifies(NEW_SECRET, during)
    # NetBox's header has room for one signature: the current secret's.
    expected = hmac.new(NEW_SECRET.encode(), during.body, hashlib.sha512).hexdigest()
    assert during.headers["X-Hook-Signature"] == expected

    # The grace period ends (moved into the past rather than waited for).
    row = await store.get(webhooks, webhook_id)
    expired = [{**e, "expires_at": time.time() - 1} for e in row["previous_secrets"]]
    await store.update(webhooks, webhook_id, {"previous_secrets": expired})
    shown = (await hookhub.reader.get(f"/webhooks/{webhook_id}")).json()
    assert shown["previous_secrets"] == []
    await hookhub.admin.post("/events", json=DEVICE)
    await receiver.wait_for(2)
    after = receiver.requests[1]
    assert len(after.headers["webhook-signature"].split()) == 1
    assert _verifies(NEW_SECRET, after)
    assert not _verifies(SECRET, after)


async def test_rotate_secret_generates_a_secret_and_honours_the_grace(
    hookhub: Hookhub, receiver: Receiver
) -> None:
    webhook_id = await _webhook(hookhub, receiver)
    url = f"/webhooks/{webhook_id}/rotate-secret"
    assert (await hookhub.reader.post(url)).status_code == 403
    masked = await hookhub.admin.post(url, json={"secret": "********"})
    assert (masked.status_code, masked.json()["error"]["field"]) == (422, "secret")

    first = (await hookhub.admin.post(url)).json()  # no body: generated, default grace
    generated = first["secret"]
    assert generated.startswith("whsec_")
    assert len(base64.b64decode(generated.removeprefix("whsec_"))) == 24
    [entry] = first["previous_secrets"]
    assert abs(_epoch(entry["expires_at"]) - (time.time() + GRACE)) < 30

    # grace 0: the generated secret stops at once; SECRET's own grace period goes on.
    second = (await hookhub.admin.post(url, json={"secret": NEW_SECRET, "grace": 0})).json()
    assert second["previous_secrets"] == first["previous_secrets"]
    await hookhub.admin.post("/events", json=DEVICE)
    await receiver.wait_for(1)
    request = receiver.requests[0]
    assert [_verifies(s, request) for s in (NEW_SECRET, SECRET, generated)] == [True, True, False]


async def test_patching_the_secret_rotates_it(
    hookhub: Hookhub, receiver: Receiver, store: Store
) -> None:
    webhook_id = await _webhook(hookhub, receiver)
    patched = await hookhub.admin.patch(f"/webhooks/{webhook_id}", json={"secret": NEW_SECRET})
    assert patched.status_code == 200, patched.text
    [entry] = patched.json()["previous_secrets"]
    assert set(entry) == {"expires_at"}
    assert SECRET not in patched.text and NEW_SECRET not in patched.text
    [stored] = (await store.get(webhooks, webhook_id))["previous_secrets"]
    assert stored["secret"] == SECRET
    assert abs(stored["expires_at"] - (time.time() + GRACE)) < 30

    # Sending the mask back changes nothing; removing the secret ends all signing.
    unchanged = await hookhub.admin.patch(f"/webhooks/{webhook_id}", json={"secret": "********"})
    assert unchanged.json()["previous_secrets"] == patched.json()["previous_secrets"]
    cleared = await hookhub.admin.patch(f"/webhooks/{webhook_id}", json={"secret": None})
    assert cleared.json()["previous_secrets"] == []
    await hookhub.admin.post("/events", json=DEVICE)
    await receiver.wait_for(1)
    assert "webhook-signature" not in receiver.requests[0].headers


def test_rotation_grace_setting_is_read_from_the_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    assert Settings.from_env().secret_rotation_grace == 86400.0
    monkeypatch.setenv("HOOKHUB_SECRET_ROTATION_GRACE", "600")
    assert Settings.from_env().secret_rotation_grace == 600.0
