"""Trigger authentication: every scheme's accept and refuse cases, and client addresses."""

from __future__ import annotations

import base64
import hashlib
import hmac
from typing import Any

import pytest

from hookhub.core.signing import standard_signature
from hookhub.errors import Refusal
from hookhub.inbound.auth import check_ip, client_ip, networks, verify

BODY = b'{"event": "paid"}'
NOW = 1_700_000_000.0


def _refused(auth: dict[str, Any], headers: dict[str, str], body: bytes = BODY) -> Refusal:
    with pytest.raises(Refusal) as caught:
        verify(auth, headers, body, NOW)
    assert caught.value.status == 401
    return caught.value


def _basic(user: str, password: str) -> dict[str, str]:
    return {"authorization": "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()}


def test_basic() -> None:
    auth = {"type": "basic", "username": "u", "password": "p:w"}
    verify(auth, _basic("u", "p:w"), BODY, NOW)
    for headers in ({}, _basic("u", "p"), _basic("x", "p:w"), {"authorization": "Basic !!"}):
        refusal = _refused(auth, headers)
        assert refusal.headers["WWW-Authenticate"].startswith("Basic")
    _refused(auth, {"authorization": "Bearer " + _basic("u", "p:w")["authorization"][6:]})


def test_header_token() -> None:
    auth = {"type": "header", "name": "X-Token", "value": "t"}
    verify(auth, {"x-token": "t"}, BODY, NOW)
    _refused(auth, {"x-token": "T"})
    _refused(auth, {})


def _hmac_auth(scheme: str, **extra: Any) -> dict[str, Any]:
    base = {"algorithm": "sha256", "encoding": "hex", "prefix": "", "tolerance": 300.0}
    return {"type": "hmac", "scheme": scheme, "secret": "s3cret", "header": None, **base, **extra}


def test_standard_webhooks_with_rotation_and_tolerance() -> None:
    auth = _hmac_auth("standard")
    signature = standard_signature("s3cret", "msg_1", int(NOW), BODY)
    headers = {"webhook-id": "msg_1", "webhook-timestamp": str(int(NOW))}
    verify(auth, {**headers, "webhook-signature": f"v1,bm9wZQ== {signature}"}, BODY, NOW)
    _refused(auth, {**headers, "webhook-signature": signature}, BODY + b" ")
    _refused(auth, {**headers, "webhook-id": "msg_2", "webhook-signature": signature})
    late = {"webhook-id": "msg_1", "webhook-timestamp": str(int(NOW) - 301)}
    _refused(auth, {**late, "webhook-signature": signature})
    _refused(auth, {"webhook-signature": signature})


def test_github() -> None:
    auth = _hmac_auth("github")
    good = "sha256=" + hmac.new(b"s3cret", BODY, hashlib.sha256).hexdigest()
    verify(auth, {"x-hub-signature-256": good}, BODY, NOW)
    verify(auth, {"x-hub-signature-256": good.upper().replace("SHA256", "sha256")}, BODY, NOW)
    _refused(auth, {"x-hub-signature-256": good}, b"{}")
    _refused(auth, {"x-hub-signature": "sha1=" + "0" * 40})


def test_stripe() -> None:
    auth = _hmac_auth("stripe")
    t = str(int(NOW))
    v1 = hmac.new(b"s3cret", t.encode() + b"." + BODY, hashlib.sha256).hexdigest()
    verify(auth, {"stripe-signature": f"t={t},v1=00,v1={v1},v0=ff"}, BODY, NOW)
    _refused(auth, {"stripe-signature": f"t={int(NOW) - 1000},v1={v1}"})
    _refused(auth, {"stripe-signature": f"v1={v1}"})
    _refused(auth, {"stripe-signature": f"t={t},v1={v1}"}, b"{}")


def test_generic_header_algorithm_encoding_prefix() -> None:
    auth = _hmac_auth(
        "generic", header="X-Sig", algorithm="sha1", encoding="base64", prefix="sha1="
    )
    digest = base64.b64encode(hmac.new(b"s3cret", BODY, hashlib.sha1).digest()).decode()
    verify(auth, {"x-sig": "sha1=" + digest}, BODY, NOW)
    _refused(auth, {"x-sig": digest})
    plain = _hmac_auth("generic")
    hexdigest = hmac.new(b"s3cret", BODY, hashlib.sha256).hexdigest()
    verify(plain, {"x-signature": hexdigest.upper()}, BODY, NOW)
    _refused(plain, {"x-signature": hexdigest[:-1]})


def test_client_ip_walks_forwarded_for_from_trusted_proxies_only() -> None:
    trusted = networks(["10.0.0.0/8", "::1"])
    assert client_ip("192.0.2.1", "198.51.100.7", trusted) == "192.0.2.1"
    assert client_ip("10.0.0.2", "198.51.100.7", trusted) == "198.51.100.7"
    assert client_ip("10.0.0.2", "6.6.6.6, 198.51.100.7, 10.0.0.9", trusted) == "198.51.100.7"
    assert client_ip("10.0.0.2", "10.0.0.3", trusted) == "10.0.0.3"
    assert client_ip("10.0.0.2", None, trusted) == "10.0.0.2"
    assert client_ip("::1", "2001:db8::5", trusted) == "2001:db8::5"
    assert client_ip(None, "1.2.3.4", trusted) is None


def test_ip_allowlist() -> None:
    allowed = networks(["192.0.2.0/24", "2001:db8::/32"])
    check_ip("192.0.2.200", allowed)
    check_ip("2001:db8::1", allowed)
    check_ip("anything", ())
    for client in ("192.0.3.1", "not-an-ip", None):
        with pytest.raises(Refusal) as caught:
            check_ip(client, allowed)
        assert caught.value.status == 403
