"""The outbound network policy: which addresses hookhub may send requests to (SSRF protection).

Checked on the addresses a host name resolves to, right before connecting, so a name that
resolves to a forbidden address is refused too. Redirects are never followed. An IPv6 address
that carries an IPv4 address (mapped, compatible, NAT64, 6to4, Teredo) is checked as that IPv4
address too, and the unspecified address (0.0.0.0, ::), which Linux connects to the local host,
as the local host.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence
from dataclasses import dataclass, field

from hookhub.errors import ConfigError

Network = ipaddress.IPv4Network | ipaddress.IPv6Network
Address = ipaddress.IPv4Address | ipaddress.IPv6Address

# Names usable in HOOKHUB_OUTBOUND_DENY / _ALLOW besides networks in CIDR form.
NAMED: dict[str, tuple[str, ...]] = {
    # 0.0.0.0/8 and :: as destinations reach this host too (Linux routes them to it).
    "loopback": ("127.0.0.0/8", "::1/128", "0.0.0.0/8", "::/128"),
    "private": ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "100.64.0.0/10", "fc00::/7"),
    "link-local": ("169.254.0.0/16", "fe80::/10"),
    "unspecified": ("0.0.0.0/32", "::/128"),
    "multicast": ("224.0.0.0/4", "ff00::/8"),
}
# `HOOKHUB_OUTBOUND_DENY=internal` blocks everything that is not the public internet.
NAMED["internal"] = tuple(dict.fromkeys(n for name in NAMED for n in NAMED[name]))

# IPv6 ranges whose addresses carry an IPv4 address a translator or relay would deliver to.
IPV4_COMPATIBLE = ipaddress.IPv6Network("::/96")  # ::a.b.c.d, deprecated (RFC 4291)
IPV4_TRANSLATED = ipaddress.IPv6Network("::ffff:0:0:0/96")  # ::ffff:0:a.b.c.d (RFC 2765)
NAT64 = ipaddress.IPv6Network("64:ff9b::/96")  # well-known prefix, IPv4 in the last 32 bits
# Local-use NAT64 (RFC 8215): the operator picks a prefix of 48 to 96 bits inside it, and the
# IPv4 address sits where RFC 6052 puts it for that length (bits 64-71 are always skipped). Each
# length whose layout the address fits is checked.
NAT64_LOCAL = ipaddress.IPv6Network("64:ff9b:1::/48")
NAT64_LOCAL_PREFIXES = (48, 56, 64, 96)  # bits
THIS_NETWORK = ipaddress.IPv4Network("0.0.0.0/8")  # "this host on this network" (RFC 1122)
LOCALHOST_V4 = ipaddress.IPv4Address("127.0.0.1")
LOCALHOST_V6 = ipaddress.IPv6Address("::1")
# Decisions remembered per policy (emptied when full): a send checks the same few addresses each
# time, and deciding one afresh costs 10-25 µs, as much as the rest of a request.
DECISIONS = 4096


class PolicyRefused(OSError):
    """A target address is forbidden by the outbound network policy."""


def parse_networks(value: str, variable: str) -> tuple[Network, ...]:
    """Networks from a comma-separated list of CIDRs, addresses and names (see `NAMED`)."""
    found: list[Network] = []
    for item in filter(None, (part.strip() for part in value.split(","))):
        for cidr in NAMED.get(item.lower(), (item,)):
            try:
                found.append(ipaddress.ip_network(cidr, strict=False))
            except ValueError:
                names = ", ".join(NAMED)
                raise ConfigError(
                    f"{variable}: {item!r} is neither a network (10.0.0.0/8, ::1)"
                    f" nor one of {names}"
                ) from None
    return tuple(found)


@dataclass(frozen=True)
class NetworkPolicy:
    """Refuse `deny`ed addresses unless `allow`ed; with only `allow`, refuse all others."""

    deny: tuple[Network, ...] = ()
    allow: tuple[Network, ...] = ()
    _decided: dict[str, str | None] = field(
        default_factory=dict, init=False, repr=False, compare=False
    )

    @property
    def active(self) -> bool:
        """Whether the policy refuses anything at all."""
        return bool(self.deny or self.allow)

    def refusal(self, address: Address) -> str | None:
        """Why `address` is refused, or None when it is permitted.

        An address that stands for another one (see `stands_for`) is refused when that one is
        denied and not allowed, unless the address itself is allowed.
        """
        if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped:
            address = address.ipv4_mapped  # ::ffff:127.0.0.1 is 127.0.0.1
        if self._allowed(address):
            return None
        denied = self._denied(address)
        if denied is not None:
            return f"{address} is in {denied}, denied by HOOKHUB_OUTBOUND_DENY"
        for other, how in stands_for(address):
            denied = None if self._allowed(other) else self._denied(other)
            if denied is not None:
                return (
                    f"{address} reaches {other} ({how}), which is in {denied},"
                    " denied by HOOKHUB_OUTBOUND_DENY"
                )
        if self.allow and not self.deny:
            return f"{address} is not in HOOKHUB_OUTBOUND_ALLOW"
        return None

    def _decision(self, text: str) -> str | None:
        """`refusal` of an address given as text, remembered; ValueError if it is not one."""
        try:
            return self._decided[text]
        except KeyError:
            pass
        reason = self.refusal(ipaddress.ip_address(text))
        if len(self._decided) >= DECISIONS:
            self._decided.clear()
        self._decided[text] = reason
        return reason

    def _allowed(self, address: Address) -> bool:
        return any(address in network for network in self.allow)

    def _denied(self, address: Address) -> Network | None:
        return next((network for network in self.deny if address in network), None)

    def check_host(self, host: str) -> None:
        """Raise PolicyRefused when `host` is an address literal the policy forbids."""
        try:
            reason = self._decision(host.strip("[]"))
        except ValueError:
            return  # a name: checked when it is resolved
        if reason:
            raise PolicyRefused(f"refused by the outbound network policy: {reason}")

    def permitted(self, host: str, addresses: Sequence[str]) -> list[str]:
        """The permitted ones of the addresses `host` resolved to; PolicyRefused if none is."""
        reasons = [self._decision(address) for address in addresses]
        allowed = [
            address for address, reason in zip(addresses, reasons, strict=True) if not reason
        ]
        if not allowed and addresses:
            raise PolicyRefused(f"refused by the outbound network policy: {host}: {reasons[0]}")
        return allowed


def stands_for(address: Address) -> list[tuple[Address, str]]:
    """The addresses a connection to `address` may reach instead, each with how ("NAT64").

    The unspecified address (0.0.0.0/8, ::) reaches the local host; an IPv6 address in a range
    that embeds an IPv4 address reaches that IPv4 address through a translator or relay (unless
    it is in 0.0.0.0/8, which routers do not forward to).
    """
    if isinstance(address, ipaddress.IPv4Address):
        return [(LOCALHOST_V4, "this host")] if address in THIS_NETWORK else []
    if address.is_unspecified:
        return [(LOCALHOST_V6, "this host"), (LOCALHOST_V4, "this host")]
    return [(ipv4, how) for ipv4, how in _embedded(address) if ipv4 not in THIS_NETWORK]


def _embedded(address: ipaddress.IPv6Address) -> list[tuple[ipaddress.IPv4Address, str]]:
    value = int(address)
    low = ipaddress.IPv4Address(value & 0xFFFFFFFF)
    if address.ipv4_mapped is not None:
        return [(address.ipv4_mapped, "IPv4-mapped")]
    if address.sixtofour is not None:
        return [(address.sixtofour, "6to4")]
    if address.teredo is not None:
        return [(address.teredo[1], "Teredo client")]
    if address in IPV4_COMPATIBLE:
        return [(low, "IPv4-compatible")]
    if address in IPV4_TRANSLATED:
        return [(low, "IPv4-translated")]
    if address in NAT64:
        return [(low, "NAT64")]
    if address in NAT64_LOCAL:
        embedded = (_rfc6052(value, length) for length in NAT64_LOCAL_PREFIXES)
        return [(ipv4, "NAT64") for ipv4 in embedded if ipv4 is not None]
    return []


def _rfc6052(value: int, prefix: int) -> ipaddress.IPv4Address | None:
    """The IPv4 address RFC 6052 embeds after a `prefix`-bit NAT64 prefix of the 128-bit value,
    or None when the value is not so formed (bits 64-71 and the suffix must be zero)."""
    if prefix == 96:
        return ipaddress.IPv4Address(value & 0xFFFFFFFF)
    before = 64 - prefix  # bits prefix..63 hold the IPv4 address's first bits
    rest = 32 - before  # bits 72..72+rest-1 hold the others; then the suffix
    if (value >> 56) & 0xFF or value & ((1 << (56 - rest)) - 1):
        return None
    high = (value >> 64) & ((1 << before) - 1)
    low = (value >> (56 - rest)) & ((1 << rest) - 1)
    return ipaddress.IPv4Address((high << rest) | low)
