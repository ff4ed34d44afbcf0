"""Ports of 127.0.0.1 for the processes the benchmarks start: a free one, and waiting for a
process to listen on it."""

from __future__ import annotations

import socket
import time
from collections.abc import Callable

HOST = "127.0.0.1"


def free_port() -> int:
    """A port nothing listens on right now (another process may still take it first)."""
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        port: int = sock.getsockname()[1]
        return port


def listening(port: int, alive: Callable[[], bool], timeout: float) -> bool:
    """Whether something listens on `port` within `timeout` seconds; False as soon as `alive()`
    says the process meant to listen there has exited."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection((HOST, port), timeout=1):
                return True
        except OSError:
            if not alive():
                return False
            time.sleep(0.02)
    return False
