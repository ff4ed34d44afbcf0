"""Trigger authentication: basic, header token, HMAC signatures, and the IP allow-list.

Every secret is compared with `hmac.compare_digest`, and each check compares all its parts
even after one mismatched, so timing tells nothing about which part was wrong.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import ipaddress
from collections.abc import Mapping, Sequence
from typing import Any

from hookhub.core.signing import verify_standard
from hookhub.errors import Refusal

Network = ipaddress.IPv4Network | ipaddress.IPv6Network

BASIC_CHALLENGE = {"WWW-Authenticate": 'Basic realm="hookhub", charset="UTF-8"'}
# Header each HMAC scheme reads when the trigger names none.
SIGNATURE_HEADERS = {
    "standard": "webhook-signature",
    "github": "x-hub-signature-256",
    "stripe": "stripe-signature",
    "generic": "x-signature",
}


def _same(given: str | bytes, expected: str | bytes) -> bool:
    a = given.encode() if isinstance(given, str) else given
    b = expected.encode() if isinstance(expected, str) else expected
    return hmac.compare_digest(a, b)


def _refuse(message: str, headers: Mapping[str, str] | None = None) -> Refusal:
    return Refusal(401, "unauthorized", message, headers)


def verify(
    auth: Mapping[str, Any] | None, headers: Mapping[str, str], raw: bytes, now: float
) -> None:
    """Raise a 401 Refusal unless the request satisfies `auth` (header names lower-cased)."""
    if auth is None:
        return
    kind = auth["type"]
    if kind == "basic":
        _basic(auth, headers.get("authorization", ""))
    elif kind == "header":
        if not _same(headers.get(auth["name"].lower(), ""), auth["value"]):
            raise _refuse(f"missing or wrong {auth['name']} header")
    else:
        _hmac(auth, headers, raw, now)


def _basic(auth: Mapping[str, Any], header: str) -> None:
    scheme, _, encoded = header.partition(" ")
    user, password = b"", b""
    ok = scheme.lower() == "basic"
    try:
        user, sep, password = base64.b64decode(encoded.strip(), validate=True).partition(b":")
        ok = ok and bool(sep)
    except (binascii.Error, ValueError):
        ok = False
    # `&`, not `and`: both comparisons always run.
    matched = _same(user, auth["username"]) & _same(password, auth["password"])
    if not (ok and matched):
        raise _refuse("missing or wrong username or password", BASIC_CHALLENGE)


def _hmac(auth: Mapping[str, Any], headers: Mapping[str, str], raw: bytes, now: float) -> None:
    scheme = auth["scheme"]
    name = (auth.get("header") or SIGNATURE_HEADERS[scheme]).lower()
    signature = headers.get(name)
    if not signature:
        raise _refuse(f"missing {name} header")
    secret: str = auth["secret"]
    if scheme == "standard":
        msg_id, timestamp = headers.get("webhook-id"), headers.get("webhook-timestamp")
        if not msg_id or not timestamp:
            raise _refuse("missing webhook-id or webhook-timestamp header")
        _check_age(timestamp, now, auth["tolerance"])
        ok = verify_standard(secret, msg_id, timestamp, raw, signature)
    elif scheme == "github":
        expected = hmac.new(secret.encode(), raw, hashlib.sha256).hexdigest()
        ok = _same(signature.strip().lower(), "sha256=" + expected)
    elif scheme == "stripe":
        ok = _stripe(secret, signature, raw, now, auth["tolerance"])
    else:
        digest = hmac.new(secret.encode(), raw, auth["algorithm"]).digest()
        encoded = digest.hex() if auth["encoding"] == "hex" else base64.b64encode(digest).decode()
        given = signature.strip()
        if auth["encoding"] == "hex":
            given = given.lower()
        ok = _same(given, auth["prefix"] + encoded)
    if not ok:
        raise _refuse(f"invalid signature in {name} header")


def _check_age(timestamp: str, now: float, tolerance: float) -> None:
    try:
        sent = int(timestamp)
    except ValueError:
        raise _refuse(f"invalid signature timestamp {timestamp[:20]!r}") from None
    if abs(now - sent) > tolerance:
        raise _refuse(f"signature timestamp is more than {tolerance:g} s away from now")


def _stripe(secret: str, header: str, raw: bytes, now: float, tolerance: float) -> bool:
    # `t=1492774577,v1=5257a869...,v1=...,v0=...`: every v1 is a candidate (secret rotation).
    timestamp, candidates = "", []
    for item in header.split(","):
        key, _, value = item.strip().partition("=")
        if key == "t":
            timestamp = value
        elif key == "v1":
            candidates.append(value.lower())
    if not timestamp or not candidates:
        raise _refuse("stripe-signature needs t= and v1= parts")
    _check_age(timestamp, now, tolerance)
    signed = timestamp.encode() + b"." + raw
    expected = hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()
    return any([_same(candidate, expected) for candidate in candidates])


def networks(cidrs: Sequence[str]) -> tuple[Network, ...]:
    """Parsed CIDRs (validated when saved; a bare address is a /32 or /128)."""
    return tuple(ipaddress.ip_network(cidr, strict=False) for cidr in cidrs)


def _inside(address: str, within: Sequence[Network]) -> bool:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    return any(ip in network for network in within)


def client_ip(
    peer: str | None, forwarded_for: str | None, trusted: Sequence[Network]
) -> str | None:
    """The caller's address: the peer, or when the peer is a trusted proxy, the nearest
    untrusted hop of X-Forwarded-For (hops a client wrote itself are never reached)."""
    if peer is None or not forwarded_for or not _inside(peer, trusted):
        return peer
    hops = [hop.strip() for hop in forwarded_for.split(",") if hop.strip()]
    for hop in reversed(hops):
        if not _inside(hop, trusted):
            return hop
    return hops[0] if hops else peer


def check_ip(client: str | None, allowed: Sequence[Network]) -> None:
    """Raise a 403 Refusal unless `client` is inside one of `allowed` (empty = everyone)."""
    if allowed and (client is None or not _inside(client, allowed)):
        raise Refusal(403, "forbidden", f"address {client} is not allowed to call this trigger")
