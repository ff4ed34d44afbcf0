"""What every message-broker client in hookhub needs, whichever direction it works in.

Destinations (outbound/destinations/) publish to brokers; sources consume from them. Both use:

- `require`: import an optional client library, or say which pip extra installs it;
- `endpoint`: the host and port a broker URL connects to (each scheme's default port);
- `check_network`: the outbound network policy applied to a broker's host, resolved and
  checked right before connecting, as the HTTP client does;
- `Pool`: one open connection per broker URL, opened on first use and reopened after it is
  lost, waiting longer after each failed attempt to connect (exponential backoff).
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib
import socket
import time
from collections.abc import Awaitable, Callable
from types import ModuleType
from typing import Generic, TypeVar
from urllib.parse import urlsplit

from hookhub.core.policy import NetworkPolicy
from hookhub.errors import MissingExtra

# Each scheme's port when the URL gives none (the brokers' registered ports).
DEFAULT_PORTS = {
    "amqp": 5672,
    "amqps": 5671,
    "nats": 4222,
    "tls": 4222,
    "redis": 6379,
    "rediss": 6379,
    "mqtt": 1883,
    "mqtts": 8883,
}
BACKOFF_FIRST = 0.1  # seconds before the second attempt to connect after a failure
BACKOFF_MAX = 5.0  # seconds between attempts to connect, at most

C = TypeVar("C")


def require(module: str, package: str, extra: str, role: str = "destination") -> ModuleType:
    """`module` imported; MissingExtra naming `pip install 'hookhub[extra]'` if it is absent
    (`role`: what needs it, "destination" or "source")."""
    try:
        return importlib.import_module(module)
    except ImportError:
        raise MissingExtra(
            f"the {extra} {role} needs the {package} package: pip install 'hookhub[{extra}]'"
        ) from None


def endpoint(url: str) -> tuple[str, int]:
    """The host and port `url` connects to; ValueError when it names no host."""
    parts = urlsplit(url)
    host = parts.hostname
    if not host:
        raise ValueError(f"the broker URL names no host: {parts.scheme}://...")
    return host, parts.port or DEFAULT_PORTS.get(parts.scheme.lower(), 0)


async def check_network(policy: NetworkPolicy | None, url: str) -> None:
    """PolicyRefused when the policy forbids every address the URL's host resolves to.

    The client library resolves the name again when it connects: a name whose addresses
    change in between (DNS rebinding) is not caught, unlike with the HTTP client, which
    connects to the address it checked.
    """
    if policy is None or not policy.active:
        return
    host, port = endpoint(url)
    policy.check_host(host)  # an address literal
    infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    policy.permitted(host, [str(info[4][0]) for info in infos])


class Pool(Generic[C]):
    """One open connection per broker URL, shared by every publish (or consumer) to it.

    `get` opens it on first use; a caller that finds it broken `discard`s it, and the next
    `get` opens a new one, after a pause that doubles with each failed attempt (BACKOFF_).
    Callers waiting for the same URL share one attempt to connect.
    """

    def __init__(
        self,
        connect: Callable[[str], Awaitable[C]],
        disconnect: Callable[[C], Awaitable[None]],
        alive: Callable[[C], bool] = lambda _: True,
    ) -> None:
        self._connect = connect
        self._disconnect = disconnect
        self._alive = alive
        self.connections: dict[str, C] = {}
        self._locks: dict[str, asyncio.Lock] = {}
        self._failures: dict[str, tuple[int, float]] = {}  # url → (in a row, monotonic time)

    async def get(self, url: str) -> C:
        """The open connection to `url`, opened now if there is none (or it was lost)."""
        connection = self.connections.get(url)
        if connection is not None and self._alive(connection):
            return connection
        lock = self._locks.setdefault(url, asyncio.Lock())
        async with lock:
            connection = self.connections.get(url)
            if connection is not None:
                if self._alive(connection):
                    return connection
                await self.discard(url, connection)
            failures, last = self._failures.get(url, (0, 0.0))
            if failures:
                pause = min(BACKOFF_MAX, BACKOFF_FIRST * 2 ** (failures - 1))
                await asyncio.sleep(max(0.0, last + pause - time.monotonic()))
            try:
                connection = await self._connect(url)
            except BaseException:
                self._failures[url] = (failures + 1, time.monotonic())
                raise
            self._failures.pop(url, None)
            self.connections[url] = connection
            return connection

    async def discard(self, url: str, connection: C) -> None:
        """Forget `connection` (if it is still the one for `url`) and close it."""
        if self.connections.get(url) is connection:
            del self.connections[url]
        with contextlib.suppress(Exception):
            await self._disconnect(connection)

    async def close(self) -> None:
        """Close every connection."""
        for url, connection in list(self.connections.items()):
            await self.discard(url, connection)
