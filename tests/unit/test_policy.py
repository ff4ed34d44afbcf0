"""The outbound network policy: parsing, decisions, and enforcement on real requests."""

from __future__ import annotations

import ipaddress
import re

import pytest

from hookhub.core.policy import NetworkPolicy, PolicyRefused, parse_networks
from hookhub.errors import ConfigError
from hookhub.outbound.client import OutboundRequest, Sender
from hookhub.settings import Settings
from tests.support.receiver import Receiver


def policy(deny: str = "", allow: str = "") -> NetworkPolicy:
    return NetworkPolicy(parse_networks(deny, "DENY"), parse_networks(allow, "ALLOW"))


def refusal(p: NetworkPolicy, address: str) -> str | None:
    return p.refusal(ipaddress.ip_address(address))


def test_names_and_networks_are_parsed_and_bad_ones_refused() -> None:
    assert len(parse_networks("loopback, 10.1.0.0/16 ,fd00::1", "X")) == 6
    assert parse_networks("", "X") == ()
    with pytest.raises(ConfigError) as raised:
        parse_networks("loopback,intranet", "HOOKHUB_OUTBOUND_DENY")
    assert raised.value.message.startswith(
        "HOOKHUB_OUTBOUND_DENY: 'intranet' is neither a network (10.0.0.0/8, ::1) nor one of "
    )


def test_default_policy_permits_everything() -> None:
    assert not policy().active
    assert refusal(policy(), "127.0.0.1") is None


def test_deny_with_allowed_exceptions() -> None:
    internal = policy(deny="internal", allow="10.1.2.3")
    assert refusal(internal, "127.0.0.1") == (
        "127.0.0.1 is in 127.0.0.0/8, denied by HOOKHUB_OUTBOUND_DENY"
    )
    assert refusal(internal, "169.254.169.254") is not None  # cloud metadata
    assert refusal(internal, "::ffff:192.168.1.1") is not None  # IPv4-mapped IPv6
    assert refusal(internal, "10.1.2.3") is None
    assert refusal(internal, "93.184.216.34") is None


@pytest.mark.parametrize(
    ("address", "reason"),
    [
        ("0.0.0.0", "0.0.0.0 is in 0.0.0.0/8"),  # Linux connects it to this host
        ("0.1.2.3", "0.1.2.3 is in 0.0.0.0/8"),
        ("::", ":: is in ::/128"),
        ("::ffff:127.0.0.1", "127.0.0.1 is in 127.0.0.0/8"),
        ("::ffff:0.0.0.0", "0.0.0.0 is in 0.0.0.0/8"),
        ("::127.0.0.1", "::7f00:1 reaches 127.0.0.1 (IPv4-compatible), which is in 127.0.0.0/8"),
        ("::ffff:0:7f00:1", "reaches 127.0.0.1 (IPv4-translated), which is in 127.0.0.0/8"),
        ("64:ff9b::7f00:1", "64:ff9b::7f00:1 reaches 127.0.0.1 (NAT64), which is in 127.0.0.0/8"),
        ("64:ff9b:1::7f00:1", "reaches 127.0.0.1 (NAT64), which is in 127.0.0.0/8"),
        ("64:ff9b:1:7f00:0:100::", "reaches 127.0.0.1 (NAT64), which is in 127.0.0.0/8"),  # /48
        ("2002:7f00:1::", "2002:7f00:1:: reaches 127.0.0.1 (6to4), which is in 127.0.0.0/8"),
        # Teredo: the client's IPv4 address is the last 32 bits inverted (7f000001 ^ ffffffff).
        ("2001:0:4136:e378:8000:63bf:80ff:fffe", "reaches 127.0.0.1 (Teredo client), which"),
    ],
)
def test_the_local_host_and_embedded_ipv4_addresses_are_denied_as_loopback(
    address: str, reason: str
) -> None:
    refused = refusal(policy(deny="loopback"), address)
    assert refused is not None and reason in refused, refused
    assert refused.endswith("denied by HOOKHUB_OUTBOUND_DENY")


@pytest.mark.parametrize(
    "address",
    ["0.0.0.0", "::", "::10.1.2.3", "64:ff9b::a01:203", "2002:a01:203::1", "64:ff9b:1::a01:203"],
)
def test_explicit_ipv4_networks_cover_what_reaches_them(address: str) -> None:
    # Denying 127.0.0.0/8 and 10.0.0.0/8 by CIDR also denies 0.0.0.0, :: and embedded forms.
    assert refusal(policy(deny="127.0.0.0/8,10.0.0.0/8"), address) is not None


@pytest.mark.parametrize(
    "address",
    [
        "64:ff9b::c000:207",  # NAT64 to the public 192.0.2.7
        "64:ff9b:1::c000:207",
        "64:ff9b:1:c000:2:700::",  # the same with a /48 local-use prefix
        "2002:c000:207::1",
        "2606:4700::1111",
        "::2",  # no IPv4 address in 0.0.0.0/8 is ever routed to
    ],
)
def test_embedded_public_addresses_pass(address: str) -> None:
    assert refusal(policy(deny="internal"), address) is None


def test_an_allowed_embedded_address_or_allowed_ipv6_network_passes() -> None:
    assert refusal(policy(deny="loopback", allow="127.0.0.1"), "64:ff9b::7f00:1") is None
    assert refusal(policy(deny="loopback", allow="64:ff9b::/96"), "64:ff9b::7f00:1") is None
    # In an allow-list, the IPv6 address itself must be listed.
    only = policy(allow="192.0.2.0/24")
    refused = refusal(only, "64:ff9b::c000:207")
    assert refused == "64:ff9b::c000:207 is not in HOOKHUB_OUTBOUND_ALLOW"


def test_decisions_are_remembered_within_a_bound(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("hookhub.core.policy.DECISIONS", 2)
    loopback = policy(deny="loopback")
    for _ in range(2):
        assert loopback.permitted("h", ["127.0.0.1", "192.0.2.1", "::1", "::2"]) == [
            "192.0.2.1",
            "::2",
        ]
    assert len(loopback._decided) <= 2
    assert loopback == policy(deny="loopback")  # what it remembers is no part of it


def test_allow_alone_is_an_allow_list() -> None:
    only = policy(allow="192.0.2.0/24")
    assert refusal(only, "192.0.2.7") is None
    assert refusal(only, "198.51.100.1") == "198.51.100.1 is not in HOOKHUB_OUTBOUND_ALLOW"


def test_settings_validate_the_lists_at_start(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOOKHUB_OUTBOUND_DENY", "private,300.1.1.1")
    with pytest.raises(ConfigError, match=r"HOOKHUB_OUTBOUND_DENY: '300\.1\.1\.1'"):
        Settings.from_env()


def _request(url: str) -> OutboundRequest:
    return OutboundRequest(url=url, method="POST", headers={}, body=b"{}", timeout=5)


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost", "[::ffff:127.0.0.1]"])
async def test_denied_targets_are_never_contacted(receiver: Receiver, host: str) -> None:
    sender = Sender(policy=policy(deny="loopback"))
    try:
        outcome = await sender.send(_request(f"http://{host}:{receiver.port}/x"))
    finally:
        await sender.close()
    assert outcome.status is None
    assert outcome.error is not None
    assert outcome.error.startswith("refused by the outbound network policy: ")
    # The resolver may give localhost ::1 too, and first (c-ares does): either is named.
    assert re.search(
        r"(127\.0\.0\.1 is in 127\.0\.0\.0/8|::1 is in ::1/128), denied by HOOKHUB_OUTBOUND_DENY$",
        outcome.error,
    )
    assert receiver.requests == []


@pytest.mark.parametrize(
    ("host", "reason"),
    [
        ("0.0.0.0", "0.0.0.0 is in 0.0.0.0/8"),
        ("0", "0: 0.0.0.0 is in 0.0.0.0/8"),  # a name: checked on what it resolves to
        ("[::127.0.0.1]", "::7f00:1 reaches 127.0.0.1 (IPv4-compatible)"),
        ("[64:ff9b::7f00:1]", "64:ff9b::7f00:1 reaches 127.0.0.1 (NAT64)"),
        ("[2002:7f00:1::]", "2002:7f00:1:: reaches 127.0.0.1 (6to4)"),
    ],
)
async def test_other_ways_to_the_local_host_are_refused(
    receiver: Receiver, host: str, reason: str
) -> None:
    sender = Sender(policy=policy(deny="loopback"))
    try:
        outcome = await sender.send(_request(f"http://{host}:{receiver.port}/x"))
    finally:
        await sender.close()
    assert outcome.error is not None
    assert outcome.error.startswith(f"refused by the outbound network policy: {reason}")
    assert receiver.requests == []


async def test_an_allowed_exception_is_contacted(receiver: Receiver) -> None:
    sender = Sender(policy=policy(deny="loopback", allow="127.0.0.1"))
    try:
        outcome = await sender.send(_request(f"{receiver.url}/x"))
    finally:
        await sender.close()
    assert outcome.status == 200
    assert len(receiver.requests) == 1


def test_policy_refused_is_an_os_error() -> None:
    # An OSError is one of NETWORK_ERRORS: the attempt fails, not the worker.
    assert issubclass(PolicyRefused, OSError)
