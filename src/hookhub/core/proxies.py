"""Which HTTP proxy an outbound request goes through, if any.

`HOOKHUB_OUTBOUND_PROXY` names one proxy for every target. Without it, the environment's
`HTTP_PROXY` (for http:// targets) and `HTTPS_PROXY` (for https:// targets) are used, in lower
or upper case (lower case wins when both are set), as requests and httpx read them. `NO_PROXY`
lists the hosts sent to directly, whichever proxy applies: `*` (every host), a domain (the domain
and its subdomains; a leading `.` or `*.` is the same), an address, a network in CIDR form, each
optionally with `:port`.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping
from dataclasses import dataclass

from hookhub.core.masking import mask_url
from hookhub.errors import ConfigError

SCHEMES = ("http",)  # proxy URL schemes hookhub sends through


def proxy_url(value: str, variable: str) -> str:
    """`value` as a proxy URL (`http://` added when it has no scheme); ConfigError unless it is
    an http:// URL with a host."""
    value = value.strip()
    url = value if "://" in value else f"http://{value}"
    scheme, _, rest = url.partition("://")
    authority = rest.split("/", 1)[0].rpartition("@")[2]
    if scheme.lower() not in SCHEMES or not authority or authority.startswith(":"):
        shown = mask_url(value, template=False)
        raise ConfigError(
            f"{variable} must be an http:// proxy URL (http://[user:password@]host:port),"
            f" got {shown!r}"
        )
    return url


def _environment(environ: Mapping[str, str], name: str) -> str:
    return (environ.get(name.lower()) or environ.get(name.upper()) or "").strip()


@dataclass(frozen=True)
class Proxies:
    """The proxy for each target scheme, and the hosts that bypass them."""

    http: str | None = None
    https: str | None = None
    no_proxy: tuple[str, ...] = ()  # NO_PROXY's entries, lower case

    @classmethod
    def from_environ(cls, environ: Mapping[str, str], setting: str = "") -> Proxies:
        """The proxies `setting` (HOOKHUB_OUTBOUND_PROXY) or else `environ` names; ConfigError
        for a proxy URL hookhub cannot send through."""
        no_proxy = tuple(
            entry.strip().lower()
            for entry in _environment(environ, "no_proxy").split(",")
            if entry.strip()
        )
        if setting.strip():
            url = proxy_url(setting, "HOOKHUB_OUTBOUND_PROXY")
            return cls(url, url, no_proxy)
        found = {}
        for scheme in ("http", "https"):
            value = _environment(environ, f"{scheme}_proxy")
            found[scheme] = proxy_url(value, f"{scheme.upper()}_PROXY") if value else None
        return cls(found["http"], found["https"], no_proxy)

    @property
    def active(self) -> bool:
        """Whether any request may go through a proxy."""
        return bool(self.http or self.https)

    def for_target(self, https: bool, host: str, port: int) -> str | None:
        """The proxy URL for a request to `host`:`port`, or None to send directly."""
        proxy = self.https if https else self.http
        if proxy is None or self.bypassed(host, port):
            return None
        return proxy

    def bypassed(self, host: str, port: int) -> bool:
        """Whether NO_PROXY sends requests to `host`:`port` directly."""
        host = host.strip("[]").rstrip(".").lower()
        try:
            address = ipaddress.ip_address(host)
        except ValueError:
            address = None
        return any(_matches(entry, host, address, port) for entry in self.no_proxy)


def _matches(
    entry: str,
    host: str,
    address: ipaddress.IPv4Address | ipaddress.IPv6Address | None,
    port: int,
) -> bool:
    if entry == "*":
        return True
    name, wanted_port = _split_port(entry)
    if wanted_port is not None and wanted_port != port:
        return False
    name = name.strip("[]")
    if address is not None:
        try:
            return address in ipaddress.ip_network(name, strict=False)
        except ValueError:
            return False
    domain = name.removeprefix("*").lstrip(".").rstrip(".")
    return bool(domain) and (host == domain or host.endswith("." + domain))


def _split_port(entry: str) -> tuple[str, int | None]:
    """`host:port` (or `[v6]:port`) into its parts; a bare IPv6 address or CIDR has no port."""
    if entry.startswith("["):
        name, _, rest = entry[1:].partition("]")
        return name, int(rest[1:]) if rest[1:].isdigit() else None
    name, colon, port = entry.rpartition(":")
    if colon and port.isdigit() and ":" not in name:
        return name, int(port)
    return entry, None
