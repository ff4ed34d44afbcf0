"""The outbound network policy: which addresses hookhub may send requests to (SSRF protection).

Checked on the addresses a host name resolves to, right before connecting, so a name that
resolves to a forbidden address is refused too. Redirects are never followed.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence
from dataclasses import dataclass

from hookhub.errors import ConfigError

Network = ipaddress.IPv4Network | ipaddress.IPv6Network
Address = ipaddress.IPv4Address | ipaddress.IPv6Address

# Names usable in HOOKHUB_OUTBOUND_DENY / _ALLOW besides networks in CIDR form.
NAMED: dict[str, tuple[str, ...]] = {
    "loopback": ("127.0.0.0/8", "::1/128"),
    "private": ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "100.64.0.0/10", "fc00::/7"),
    "link-local": ("169.254.0.0/16", "fe80::/10"),
    "unspecified": ("0.0.0.0/32", "::/128"),
    "multicast": ("224.0.0.0/4", "ff00::/8"),
}
# `HOOKHUB_OUTBOUND_DENY=internal` blocks everything that is not the public internet.
NAMED["internal"] = tuple(n for name in NAMED for n in NAMED[name])


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

    @property
    def active(self) -> bool:
        """Whether the policy refuses anything at all."""
        return bool(self.deny or self.allow)

    def refusal(self, address: Address) -> str | None:
        """Why `address` is refused, or None when it is permitted."""
        if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped:
            address = address.ipv4_mapped  # ::ffff:127.0.0.1 is 127.0.0.1
        if any(address in network for network in self.allow):
            return None
        denied = next((network for network in self.deny if address in network), None)
        if denied is not None:
            return f"{address} is in {denied}, denied by HOOKHUB_OUTBOUND_DENY"
        if self.allow and not self.deny:
            return f"{address} is not in HOOKHUB_OUTBOUND_ALLOW"
        return None

    def check_host(self, host: str) -> None:
        """Raise PolicyRefused when `host` is an address literal the policy forbids."""
        try:
            address = ipaddress.ip_address(host.strip("[]"))
        except ValueError:
            return  # a name: checked when it is resolved
        reason = self.refusal(address)
        if reason:
            raise PolicyRefused(f"refused by the outbound network policy: {reason}")

    def permitted(self, host: str, addresses: Sequence[str]) -> list[str]:
        """The permitted ones of the addresses `host` resolved to; PolicyRefused if none is."""
        reasons = [self.refusal(ipaddress.ip_address(address)) for address in addresses]
        allowed = [
            address for address, reason in zip(addresses, reasons, strict=True) if not reason
        ]
        if not allowed and addresses:
            raise PolicyRefused(f"refused by the outbound network policy: {host}: {reasons[0]}")
        return allowed
