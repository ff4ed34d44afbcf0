"""Time budgets for Python computations that can't be trusted to end: one watchdog thread
interrupts the thread that overran its budget by raising `Overrun` in it.

The interrupt is an asynchronous exception (CPython's `PyThreadState_SetAsyncExc`): it lands
between two bytecodes, so it stops Python-level loops, not a single long C call. Callers bound
their C calls by size instead (see `core/template_limits.py`).
"""

from __future__ import annotations

import ctypes
import threading
import time
from threading import get_ident
from time import monotonic

CHECK_INTERVAL = 0.05  # seconds between the watchdog's looks at the running budgets

# Two prototypes of one C function: the second passes NULL, which withdraws a pending exception.
_SET_ASYNC_EXC = ctypes.PYFUNCTYPE(ctypes.c_int, ctypes.c_ulong, ctypes.py_object)(
    ("PyThreadState_SetAsyncExc", ctypes.pythonapi)
)
_CLEAR_ASYNC_EXC = ctypes.PYFUNCTYPE(ctypes.c_int, ctypes.c_ulong, ctypes.c_void_p)(
    ("PyThreadState_SetAsyncExc", ctypes.pythonapi)
)


class Overrun(BaseException):
    """The computation ran past its time budget.

    A BaseException, so that no `except Exception` inside the interrupted code swallows it.
    """


class _Watchdog:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._running: dict[int, tuple[float, object]] = {}  # thread id -> (deadline, token)
        self._thread: threading.Thread | None = None

    def enter(self, seconds: float) -> object | None:
        """Start a budget for this thread; None when one is already running here (nested)."""
        ident = get_ident()
        token = object()
        with self._lock:
            if ident in self._running:
                return None
            self._running[ident] = (monotonic() + seconds, token)
        if self._thread is None:
            self._start()
        return token

    def _start(self) -> None:
        with self._lock:
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._watch, name="hookhub-deadlines", daemon=True
                )
                self._thread.start()

    def exit(self, token: object | None) -> None:
        """End this thread's budget; raises Overrun if the watchdog fired on it meanwhile."""
        if token is None:
            return
        ident = get_ident()
        with self._lock:
            running = self._running.get(ident)
            if running is not None and running[1] is token:
                del self._running[ident]
                return
            # Fired: the exception may not have landed yet. Withdraw it and raise it here, where
            # the caller expects it, rather than at some later bytecode.
            _CLEAR_ASYNC_EXC(ident, None)
        raise Overrun

    def _watch(self) -> None:
        while True:
            time.sleep(CHECK_INTERVAL)
            now = time.monotonic()
            with self._lock:
                for ident, (deadline, _) in list(self._running.items()):
                    if now >= deadline:
                        del self._running[ident]
                        _SET_ASYNC_EXC(ident, Overrun)


_WATCHDOG = _Watchdog()


# Plain calls rather than a context manager: a render takes a few microseconds, and a
# generator-based `with` added as much again.
def start(seconds: float) -> object | None:
    """Give this thread `seconds` of wall time; past it, Overrun is raised in it. Returns the
    token for `stop` (None when a budget already runs here: the outer one holds)."""
    return _WATCHDOG.enter(seconds)


def stop(token: object | None) -> None:
    """End the budget `start` gave; raises Overrun if it ran out meanwhile."""
    _WATCHDOG.exit(token)
