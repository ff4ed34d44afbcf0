"""SQLite wake-ups between processes (hookhub.db.wake): a listener is woken by a datagram,
a dead listener's socket is cleaned up, and other databases have no channel."""

from __future__ import annotations

import asyncio
import socket
from pathlib import Path

from hookhub.db import wake


async def test_a_listener_is_woken_and_a_dead_ones_socket_is_removed(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'hookhub.db'}"
    woken = asyncio.Event()
    receiver = wake.Receiver.open(url, woken.set)
    assert receiver is not None
    try:
        # Another process's socket, left behind when it was killed.
        where = wake.directory(url)
        assert where is not None
        dead = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        dead.bind(str(where / "dead"))
        dead.close()

        assert wake.send(url) == 1
        await asyncio.wait_for(woken.wait(), 10)
        assert not (where / "dead").exists()
    finally:
        receiver.close()
    assert not receiver.path.exists()
    assert wake.send(url) == 0


def test_only_sqlite_files_have_a_wake_channel(tmp_path: Path) -> None:
    assert wake.directory("postgresql://h/db") is None
    assert wake.directory("sqlite://") is None
    assert wake.directory("sqlite:///:memory:") is None
    relative = wake.directory(f"sqlite:///{tmp_path}/../{tmp_path.name}/x.db")
    assert relative == wake.directory(f"sqlite:///{tmp_path / 'x.db'}")
