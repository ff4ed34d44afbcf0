"""SQLite WAL checkpoints in a thread of their own, off the event loop.

By default SQLite copies the WAL back into the database file inside the commit that takes it
past 1,000 pages, and with `synchronous=NORMAL` waits there for two fsyncs. hookhub runs
statements on the event loop's thread (`hookhub.db.sqlite`), so that commit stalled every task
of the process for the copy and the disk: ~5 % of a busy worker's CPU, and its slowest
moments. Instead, while any of a process's connections to a file is open, one thread runs a
PASSIVE checkpoint of it every `INTERVAL`: it copies what no reader still needs, never waits
for a lock and never blocks a writer. sqlite3 lets go of the GIL while SQLite works, so this
runs beside the loop.

The commits' own checkpoint stays as a backstop, at `AUTOCHECKPOINT_PAGES`: the WAL starts
over from its beginning only once a checkpoint has caught up with the last commit, which a
thread never does while commits follow each other without a gap (a burst of intake). Then the
WAL reaches that size, and the commit that takes it there copies the little the thread has not
yet copied, so the next write starts the WAL over.
"""

from __future__ import annotations

import logging
import os
import sqlite3
import threading

log = logging.getLogger("hookhub.db")

INTERVAL = 0.1  # seconds between checkpoints: a busy worker writes a few MB of WAL meanwhile
# SQLite's default is 1,000 pages: the thread's checkpoints keep the WAL well below this.
AUTOCHECKPOINT_PAGES = 8192
THREAD_NAME = "hookhub-checkpoints"  # and the file: one thread per database file


class Checkpointer:
    """Checkpoints one database file's WAL every INTERVAL until `stop`."""

    def __init__(self, path: str) -> None:
        self.path = path
        self.users = 0  # open connections relying on it (`acquire`, `release`)
        self._stopping = threading.Event()
        self._failing = False  # the last checkpoint failed: logged once, not every INTERVAL
        self._thread = threading.Thread(target=self._run, name=f"{THREAD_NAME} {path}", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        """End, once a checkpoint under way is done and the thread's connection is closed."""
        self._stopping.set()
        # Waited for: closing the process's last connection to a file checkpoints it and
        # deletes the WAL under an exclusive lock, which a connection opened meanwhile (the
        # next command's, a test's) would find taken. Closing it inline did the same before.
        self._thread.join()

    def _run(self) -> None:
        conn = sqlite3.connect(self.path, timeout=0, isolation_level=None, check_same_thread=False)
        try:
            while not self._stopping.wait(INTERVAL):
                self._checkpoint(conn)
        finally:
            conn.close()

    def _checkpoint(self, conn: sqlite3.Connection) -> None:
        try:
            conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()
        except sqlite3.Error as exc:
            # Busy: another connection holds the file for a moment (its last close copies the
            # WAL back, a migration). Either way the WAL only grows until the next one.
            busy = getattr(exc, "sqlite_errorcode", 0) & 0xFF == sqlite3.SQLITE_BUSY
            if not busy and not self._failing:
                log.warning("checkpointing the WAL of %s failed: %s", self.path, exc)
            self._failing = self._failing or not busy
        else:
            self._failing = False


_lock = threading.Lock()
_running: dict[str, Checkpointer] = {}  # database file → its checkpointer, while used


def acquire(path: str) -> Checkpointer:
    """The running checkpointer of `path` (started if none), counting one more user."""
    path = os.path.abspath(path)  # one per file, however it is named
    with _lock:
        checkpointer = _running.get(path)
        if checkpointer is None:
            checkpointer = _running[path] = Checkpointer(path)
            checkpointer.start()
        checkpointer.users += 1
        return checkpointer


def release(checkpointer: Checkpointer) -> None:
    """One user less; the last one stops the checkpointer."""
    with _lock:
        checkpointer.users -= 1
        if checkpointer.users > 0:
            return
        if _running.get(checkpointer.path) is checkpointer:
            del _running[checkpointer.path]
    checkpointer.stop()
