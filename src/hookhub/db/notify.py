"""Cross-process wake-ups on PostgreSQL: `NOTIFY hookhub_work` when work is created, and a
listener per worker process that wakes its dispatcher and runner.

A transaction that creates work runs `announce(kind)` before it commits; PostgreSQL delivers
the notification only if (and when) the transaction commits, so a worker is never woken for
work it cannot yet see. The listener holds one dedicated connection outside the pool. When that
connection is lost (database restart, `pg_terminate_backend`, network) it reconnects with
capped backoff; after each (re)connect it wakes everything once, because notifications sent
while it was away are gone. Meanwhile the workers' poll keeps them going, only slower.

SQLite has no NOTIFY: there, `hookhub.db.wake` sends the dispatchers datagrams instead.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from typing import Any

import asyncpg
from sqlalchemy import TextClause, text
from sqlalchemy.engine import make_url

log = logging.getLogger("hookhub.notify")

CHANNEL = "hookhub_work"
# Payloads: which kind of work a transaction created.
DELIVERIES, RUNS = "deliveries", "runs"
KINDS = (DELIVERIES, RUNS)
CONNECT_TIMEOUT = 10.0  # seconds to open the listening connection
RECONNECT_FIRST = 0.1  # seconds before the first reconnect attempt
RECONNECT_MAX = 5.0  # seconds: the backoff between reconnect attempts grows to this, no more
# seconds between liveness checks of an idle listening connection: a peer that vanished
# without closing the socket (a half-open TCP connection) is noticed within this.
PING_INTERVAL = 15.0
PING_TIMEOUT = 5.0  # seconds a liveness check may take before the connection counts as lost


def announce(kind: str) -> TextClause:
    """The statement that tells listening workers `kind` work exists, once the caller's
    transaction commits. PostgreSQL only; identical notifications in one transaction fold."""
    if kind not in KINDS:
        raise ValueError(f"unknown kind of work {kind!r}")
    return text(f"SELECT pg_notify('{CHANNEL}', '{kind}')")


def listener_dsn(url: str) -> str:
    """The plain libpq-style DSN asyncpg wants, from a user-facing `postgresql://` URL."""
    parsed = make_url(url)
    return parsed.set(drivername="postgresql").render_as_string(hide_password=False)


class Listener:
    """LISTENs on `CHANNEL` until stopped, calling `wake(kind)` per notification and
    `wake(None)` (everything) after every (re)connect."""

    def __init__(self, url: str, wake: Callable[[str | None], None]) -> None:
        self.dsn = listener_dsn(url)
        self.wake = wake
        self.connected = asyncio.Event()  # set while listening; tests and /readyz may read it
        self.connects = 0  # successful connects so far (1 + reconnects)
        self.backend_pid: int | None = None  # the listening connection's server process

    async def run(self, stop: asyncio.Event) -> None:
        """Listen, reconnecting whenever the connection is lost, until `stop` is set."""
        delay = RECONNECT_FIRST
        down = False  # logged once per outage, not once per try
        while not stop.is_set():
            try:
                conn = await asyncpg.connect(self.dsn, timeout=CONNECT_TIMEOUT)
            except (OSError, TimeoutError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
                if not down:
                    log.warning("cannot LISTEN for wake-ups (%s); polling until reconnected", exc)
                    down = True
                await _sleep_unless(stop, delay)
                delay = min(delay * 2, RECONNECT_MAX)
                continue
            if down:
                log.warning("listening for wake-ups again")
            down, delay = False, RECONNECT_FIRST
            reason = "connection lost"
            try:
                await self._listen(conn, stop)
            except (OSError, TimeoutError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
                reason = str(exc) or type(exc).__name__
            finally:
                self.connected.clear()
                self.backend_pid = None
                with contextlib.suppress(Exception):
                    await asyncio.wait_for(conn.close(), PING_TIMEOUT)
            if not stop.is_set():
                log.warning(
                    "lost the LISTEN connection (%s); reconnecting, polling meanwhile", reason
                )
                down = True
                await _sleep_unless(stop, delay)

    async def _listen(self, conn: asyncpg.Connection, stop: asyncio.Event) -> None:
        """Listen on `conn` until it is lost or `stop` is set."""
        lost = asyncio.Event()
        conn.add_termination_listener(lambda _conn: lost.set())
        await conn.add_listener(CHANNEL, self._notified)
        self.backend_pid = conn.get_server_pid()
        self.connects += 1
        self.connected.set()
        # Notifications sent while nobody listened are lost: look for work once now.
        self.wake(None)
        while not stop.is_set() and not lost.is_set():
            await _first(stop, lost, seconds=PING_INTERVAL)
            if not stop.is_set() and not lost.is_set():
                # Raises if the peer vanished without closing the socket.
                await conn.fetchval("SELECT 1", timeout=PING_TIMEOUT)

    def _notified(self, _conn: Any, _pid: int, _channel: str, payload: str) -> None:
        self.wake(payload if payload in KINDS else None)


async def _first(*events: asyncio.Event, seconds: float) -> None:
    """Return when any of `events` is set, or after `seconds`."""
    waiters = [asyncio.create_task(event.wait()) for event in events]
    try:
        await asyncio.wait(waiters, timeout=seconds, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for waiter in waiters:
            waiter.cancel()
        await asyncio.gather(*waiters, return_exceptions=True)


async def _sleep_unless(stop: asyncio.Event, seconds: float) -> None:
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), seconds)
