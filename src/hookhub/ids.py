"""Time-ordered, prefixed identifiers (`dlv_01J...`): sortable, so cursors can page by id."""

from __future__ import annotations

import os
import threading
import time

_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"  # Crockford base32: no I, L, O, U


# Every two-digit string: ids are encoded ten bits per step (one is made per run and event).
_PAIRS = [high + low for high in _ALPHABET for low in _ALPHABET]


# The shifts of a 10- and a 16-digit number's pairs, most significant first.
_SHIFTS = {length: tuple(range(5 * length - 10, -1, -10)) for length in (10, 16)}


def _encode(value: int, length: int) -> str:
    # `length` digits (10 or 16), most significant first.
    return "".join([_PAIRS[(value >> shift) & 1023] for shift in _SHIFTS[length]])


_RANDOM_BITS = 80
_lock = threading.Lock()
_last = (0, 0, "")  # milliseconds, random part and millisecond digits of the previous id


def new_id(prefix: str) -> str:
    """A new id: prefix, 10 chars of milliseconds since the epoch, 16 chars of randomness.

    Within one process ids only grow (the random part is incremented within a millisecond),
    so id order is creation order: ordered delivery and cursors rely on it.
    """
    global _last
    millis = time.time_ns() // 1_000_000
    with _lock:
        last_millis, rand, digits = _last
        if millis <= last_millis and rand + 1 < 1 << _RANDOM_BITS:
            rand += 1
        else:
            last_millis, digits = millis, _encode(millis, 10)
            rand = int.from_bytes(os.urandom(_RANDOM_BITS // 8), "big") >> 1
        _last = (last_millis, rand, digits)
    return f"{prefix}_{digits}{_encode(rand, 16)}"


def id_time(identifier: str) -> float:
    """When the id was made (seconds since the epoch, to the millisecond), from its digits."""
    _, _, digits = identifier.rpartition("_")
    millis = 0
    for digit in digits[:10]:
        millis = millis * 32 + _ALPHABET.index(digit)
    return millis / 1000
