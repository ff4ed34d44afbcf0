"""The outbound network policy: parsing, decisions, and enforcement on real requests."""

from __future__ import annotations

import ipaddress

import pytest

from hookhub.errors import ConfigError
from hookhub.outbound.client import OutboundRequest, Sender
from hookhub.outbound.policy import NetworkPolicy, PolicyRefused, parse_networks
from hookhub.settings import Settings
from tests.support.receiver import Receiver


def policy(deny: str = "", allow: str = "") -> NetworkPolicy:
    return NetworkPolicy(parse_networks(deny, "DENY"), parse_networks(allow, "ALLOW"))


def refusal(p: NetworkPolicy, address: str) -> str | None:
    return p.refusal(ipaddress.ip_address(address))


def test_names_and_networks_are_parsed_and_bad_ones_refused() -> None:
    assert len(parse_networks("loopback, 10.1.0.0/16 ,fd00::1", "X")) == 4
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


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost"])
async def test_denied_targets_are_never_contacted(receiver: Receiver, host: str) -> None:
    sender = Sender(policy=policy(deny="loopback"))
    try:
        outcome = await sender.send(_request(f"http://{host}:{receiver.port}/x"))
    finally:
        await sender.close()
    assert outcome.status is None
    assert outcome.error is not None
    assert outcome.error.startswith("refused by the outbound network policy: ")
    assert outcome.error.endswith("127.0.0.1 is in 127.0.0.0/8, denied by HOOKHUB_OUTBOUND_DENY")
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
