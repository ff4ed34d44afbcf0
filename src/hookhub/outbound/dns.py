"""Where an outbound connection may go: a host's addresses, looked up with their DNS TTL, reused
while it lasts (at most MAX_TTL), and filtered by the outbound network policy.

Names are looked up with c-ares (aiodns): like the system resolver it reads /etc/hosts and
/etc/resolv.conf (search domains, ndots), and unlike getaddrinfo it says how long each answer
may be kept. Tests and embedders inject their own lookup (`Lookup`).
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from collections.abc import Awaitable, Callable
from typing import Any, NamedTuple

import aiodns
import aiodns.error

from hookhub.core.policy import NetworkPolicy
from hookhub.outbound.transport import cannot_connect

# seconds: the longest a name's addresses are reused, however long their TTL, so that a record
# changed with a long TTL still takes effect within minutes.
MAX_TTL = 300.0
CACHE_SIZE = 1024  # names kept; the cache is emptied when full


class Found(NamedTuple):
    """One address of a name: its family, socket address and TTL (seconds)."""

    family: int
    address: tuple[Any, ...]  # (host, port) or, for IPv6, (host, port, flowinfo, scope_id)
    ttl: float


# (address family, socket address) of a host, in the order to try them.
Address = tuple[int, tuple[Any, ...]]
# Looks a name up: its addresses with their TTLs (OSError or an empty list: none).
Lookup = Callable[[str, int], Awaitable[list[Found]]]


class CaresLookup:
    """The default lookup, with c-ares; one channel per event loop, made at the first lookup."""

    def __init__(self) -> None:
        self._resolver: aiodns.DNSResolver | None = None

    async def __call__(self, host: str, port: int) -> list[Found]:
        """The addresses of `host` with their TTLs; OSError when the lookup fails."""
        if self._resolver is None:
            self._resolver = aiodns.DNSResolver(loop=asyncio.get_running_loop())
        try:
            result = await self._resolver.getaddrinfo(host, port=port, type=socket.SOCK_STREAM)
        except aiodns.error.DNSError as exc:
            # args: (c-ares code, message): the message is what the user needs.
            raise OSError(exc.args[-1] if exc.args else "lookup failed") from exc
        return [
            Found(node.family, (node.addr[0].decode(), *node.addr[1:]), float(node.ttl))
            for node in result.nodes
        ]

    async def close(self) -> None:
        """Close the channel."""
        if self._resolver is not None:
            await self._resolver.close()
            self._resolver = None


class Resolver:
    """A host's permitted addresses; a name's lookup is shared by concurrent callers and kept
    for its TTL (the shortest of its addresses', capped at MAX_TTL)."""

    def __init__(self, policy: NetworkPolicy | None = None, lookup: Lookup | None = None) -> None:
        self.policy = policy if policy is not None and policy.active else None
        self._cares: CaresLookup | None = None
        if lookup is None:
            lookup = self._cares = CaresLookup()
        self._lookup = lookup
        self._cache: dict[tuple[str, int], tuple[float, list[Address]]] = {}
        self._pending: dict[tuple[str, int], asyncio.Task[list[Address]]] = {}

    async def addresses(self, host: str, port: int, check: bool = True) -> list[Address]:
        """Where to connect to `host` (a name or an address), in order.

        With `check`, only the addresses the policy permits, and PolicyRefused if it permits
        none; ConnectError when the name has no address.
        """
        try:
            literal = ipaddress.ip_address(host)
        except ValueError:
            pass
        else:
            if check and self.policy is not None:
                self.policy.check_host(host)
            family = socket.AF_INET6 if literal.version == 6 else socket.AF_INET
            return [(family, (host, port))]
        legacy = _legacy_ipv4(host)
        if legacy is not None:
            addresses: list[Address] = [(socket.AF_INET, (legacy, port))]
            if check and self.policy is not None:
                self.policy.permitted(host, [legacy])
            return addresses
        loop = asyncio.get_running_loop()
        found = self._cache.get((host, port))
        if found is None or found[0] <= loop.time():
            pending = self._pending.get((host, port))
            if pending is None:
                pending = loop.create_task(self._resolve(host, port))
                # Its error is seen by the waiters, if any are left when it fails.
                pending.add_done_callback(_retrieved)
                self._pending[(host, port)] = pending
            # Shielded: a request that times out must not cancel others' shared lookup.
            addresses = await asyncio.shield(pending)
        else:
            addresses = found[1]
        if not check or self.policy is None:
            return addresses
        permitted = set(self.policy.permitted(host, [address[0] for _, address in addresses]))
        return [entry for entry in addresses if entry[1][0] in permitted]

    async def close(self) -> None:
        """Stop pending lookups and close the default lookup's channel."""
        for task in self._pending.values():
            task.cancel()
        if self._cares is not None:
            await self._cares.close()

    async def _resolve(self, host: str, port: int) -> list[Address]:
        loop = asyncio.get_running_loop()
        try:
            found = await self._lookup(host, port)
        except OSError as exc:
            raise cannot_connect(host, port, exc) from exc
        finally:
            del self._pending[(host, port)]
        if not found:
            raise cannot_connect(host, port, None)
        if len(self._cache) >= CACHE_SIZE:
            self._cache.clear()
        ttl = min(MAX_TTL, *(entry.ttl for entry in found))
        addresses = [(entry.family, entry.address) for entry in found]
        # A TTL of 0 (a hosts-file entry, a record not to be cached): used by this lookup's
        # waiters only.
        if ttl > 0:
            self._cache[(host, port)] = (loop.time() + ttl, addresses)
        return addresses


def _legacy_ipv4(host: str) -> str | None:
    """The IPv4 address a legacy numeric form (`127.1`, `2130706433`, `0x7f.1`, `0`) stands
    for, as getaddrinfo reads it (c-ares would look it up as a name); None for a name."""
    if not host or not host[-1].isalnum() or not host.replace(".", "").isalnum():
        return None
    try:
        return socket.inet_ntoa(socket.inet_aton(host))
    except OSError:
        return None


def _retrieved(task: asyncio.Task[list[Address]]) -> None:
    if not task.cancelled():
        task.exception()
