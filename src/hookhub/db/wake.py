"""Cross-process wake-ups on SQLite, which has no NOTIFY: one Unix datagram socket per
dispatcher, in a directory named after the database file; a process that committed work to
that file sends each socket one byte.

A datagram only says "look now"; the worker's poll remains the safety net for a lost one
(another user's process, a platform without Unix sockets). Stale sockets of dead processes
refuse datagrams and are removed by the sender.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import hashlib
import logging
import os
import socket
import tempfile
import uuid
from collections.abc import Callable
from pathlib import Path

from sqlalchemy.engine import URL, make_url

log = logging.getLogger("hookhub.wake")

DIRECTORY_PREFIX = "hookhub-wake-"
MESSAGE = b"w"
READ_SIZE = 64  # bytes per recv: datagrams are one byte; the content does not matter


@functools.lru_cache(maxsize=64)  # intake calls send() per transaction: parse the URL once
def directory(database_url: str | URL) -> Path | None:
    """Where the wake sockets of a SQLite file's dispatchers live; None for other databases
    and in-memory SQLite. Short and under the temp dir: socket paths are limited to ~100 bytes."""
    url = make_url(database_url)
    database = url.database
    if url.get_backend_name() != "sqlite" or not database or database == ":memory:":
        return None
    real = os.path.realpath(database)
    digest = hashlib.sha256(real.encode()).hexdigest()[:16]
    return Path(tempfile.gettempdir()) / f"{DIRECTORY_PREFIX}{digest}"


def send(database_url: str | URL) -> int:
    """Wake every dispatcher listening on this SQLite database; returns how many were sent."""
    where = directory(database_url)
    if where is None or not hasattr(socket, "AF_UNIX"):
        return 0
    try:
        paths = list(where.iterdir())
    except OSError:
        return 0  # no dispatcher has listened here yet
    sent = 0
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
        sock.setblocking(False)
        for path in paths:
            try:
                sock.sendto(MESSAGE, str(path))
                sent += 1
            except (ConnectionRefusedError, FileNotFoundError):
                path.unlink(missing_ok=True)  # its process died without cleaning up
            except OSError:
                pass  # a full buffer already holds a wake-up for that dispatcher
    return sent


class Receiver:
    """A bound wake socket that calls `wake()` from the event loop on every datagram."""

    def __init__(self, sock: socket.socket, path: Path) -> None:
        self.sock = sock
        self.path = path

    @classmethod
    def open(cls, database_url: str, wake: Callable[[], None]) -> Receiver | None:
        """Listen for wake-ups on this SQLite database (None: not a file, or no Unix sockets)."""
        where = directory(database_url)
        if where is None or not hasattr(socket, "AF_UNIX"):
            return None
        path = where / uuid.uuid4().hex[:12]
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        try:
            where.mkdir(mode=0o700, exist_ok=True)
            sock.setblocking(False)
            sock.bind(str(path))
        except OSError as exc:
            sock.close()
            log.warning("no cross-process wake-ups on %s (%s); polling only", where, exc)
            return None
        receiver = cls(sock, path)
        asyncio.get_running_loop().add_reader(sock.fileno(), receiver._drain, wake)
        return receiver

    def _drain(self, wake: Callable[[], None]) -> None:
        # Many datagrams since the last turn are one wake-up.
        with contextlib.suppress(BlockingIOError):
            while self.sock.recv(READ_SIZE):
                pass
        wake()

    def close(self) -> None:
        """Stop listening and remove the socket file."""
        asyncio.get_running_loop().remove_reader(self.sock.fileno())
        self.sock.close()
        self.path.unlink(missing_ok=True)
