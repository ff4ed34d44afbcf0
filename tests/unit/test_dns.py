"""Outbound name resolution: TTLs honoured and capped, lookups shared, the policy applied."""

from __future__ import annotations

import asyncio
import socket

import pytest

from hookhub.core.policy import NetworkPolicy, PolicyRefused, parse_networks
from hookhub.outbound import dns
from hookhub.outbound.dns import Found, Resolver
from hookhub.outbound.transport import ConnectError


class Counting:
    """A lookup that answers `found` for any name and counts its calls."""

    def __init__(self, *found: Found) -> None:
        self.found = list(found)
        self.calls = 0
        self.gate: asyncio.Event | None = None

    async def __call__(self, host: str, port: int) -> list[Found]:
        self.calls += 1
        if self.gate is not None:
            await self.gate.wait()
        return [entry._replace(address=(entry.address[0], port)) for entry in self.found]


def v4(address: str, ttl: float = 60.0) -> Found:
    return Found(socket.AF_INET, (address, 0), ttl)


async def test_addresses_are_reused_for_their_ttl() -> None:
    lookup = Counting(v4("192.0.2.1", ttl=0.05), v4("192.0.2.2", ttl=60.0))
    resolver = Resolver(lookup=lookup)
    expected = [(socket.AF_INET, ("192.0.2.1", 443)), (socket.AF_INET, ("192.0.2.2", 443))]
    assert await resolver.addresses("hookhub.test", 443) == expected
    assert await resolver.addresses("hookhub.test", 443) == expected
    assert lookup.calls == 1
    # The shortest TTL of the answer counts: once it has run out, the name is looked up again.
    loop = asyncio.get_running_loop()
    until = loop.time() + 0.05
    while loop.time() <= until:
        await asyncio.sleep(0.01)
    await resolver.addresses("hookhub.test", 443)
    assert lookup.calls == 2


async def test_a_zero_ttl_is_not_cached_and_long_ttls_are_capped(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    lookup = Counting(v4("192.0.2.1", ttl=0.0))
    resolver = Resolver(lookup=lookup)
    await resolver.addresses("hookhub.test", 80)
    await resolver.addresses("hookhub.test", 80)
    assert lookup.calls == 2
    monkeypatch.setattr(dns, "MAX_TTL", 0.0)
    lookup.found = [v4("192.0.2.1", ttl=86400.0)]
    await resolver.addresses("hookhub.test", 80)
    await resolver.addresses("hookhub.test", 80)
    assert lookup.calls == 4


async def test_concurrent_callers_share_one_lookup() -> None:
    lookup = Counting(v4("192.0.2.1"))
    lookup.gate = asyncio.Event()
    resolver = Resolver(lookup=lookup)
    waiting = [asyncio.create_task(resolver.addresses("hookhub.test", 80)) for _ in range(5)]
    while lookup.calls == 0:
        await asyncio.sleep(0.01)
    lookup.gate.set()
    assert len({tuple(found) for found in await asyncio.gather(*waiting)}) == 1
    assert lookup.calls == 1


async def test_the_policy_keeps_the_permitted_addresses_of_a_name() -> None:
    policy = NetworkPolicy(deny=parse_networks("loopback", "HOOKHUB_OUTBOUND_DENY"))
    lookup = Counting(v4("127.0.0.1"), v4("192.0.2.1"))
    resolver = Resolver(policy, lookup)
    assert await resolver.addresses("hookhub.test", 80) == [(socket.AF_INET, ("192.0.2.1", 80))]
    # Unchecked (a proxy's own address), every address.
    assert len(await resolver.addresses("hookhub.test", 80, check=False)) == 2
    lookup.found = [v4("127.0.0.1")]
    with pytest.raises(
        PolicyRefused, match=r"^refused by the outbound network policy: other\.test: 127"
    ):
        await resolver.addresses("other.test", 80)
    with pytest.raises(PolicyRefused):
        await resolver.addresses("127.0.0.1", 80)
    # Legacy numeric forms are addresses, as getaddrinfo reads them: never looked up.
    for legacy in ("127.1", "2130706433", "0x7f.1"):
        with pytest.raises(PolicyRefused, match=f": {legacy}: 127.0.0.1 is in 127.0.0.0/8"):
            await resolver.addresses(legacy, 80)
    assert await Resolver(lookup=lookup).addresses("0", 80) == [(socket.AF_INET, ("0.0.0.0", 80))]
    assert lookup.calls == 2  # an address literal is not looked up


async def test_a_failed_or_empty_lookup_names_the_host() -> None:
    async def failing(host: str, port: int) -> list[Found]:
        raise OSError("Domain name not found")

    with pytest.raises(
        ConnectError, match=r"^Cannot connect to host nope\.test:80 \(Domain name not found\)$"
    ):
        await Resolver(lookup=failing).addresses("nope.test", 80)
    with pytest.raises(
        ConnectError, match=r"^Cannot connect to host empty\.test:80 \(no address\)$"
    ):
        await Resolver(lookup=Counting()).addresses("empty.test", 80)


async def test_the_default_lookup_reads_the_hosts_file() -> None:
    resolver = Resolver()
    try:
        found = await resolver.addresses("localhost", 8080)
    finally:
        await resolver.close()
    assert (socket.AF_INET, ("127.0.0.1", 8080)) in found
