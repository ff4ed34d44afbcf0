"""Time-ordered, prefixed identifiers (`dlv_01J...`): sortable, so cursors can page by id."""

from __future__ import annotations

import os
import threading
import time

_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"  # Crockford base32: no I, L, O, U


# Every two-digit string: ids are encoded ten bits per step (one is made per run and event).
_PAIRS = [high + low for high in _ALPHABET for low in _ALPHABET]


# The shifts of a 10- and a 12-digit number's pairs, most significant first.
_SHIFTS = {length: tuple(range(5 * length - 10, -1, -10)) for length in (10, 12)}


def _encode(value: int, length: int) -> str:
    # `length` digits (10 or 12), most significant first.
    return "".join([_PAIRS[(value >> shift) & 1023] for shift in _SHIFTS[length]])


_RANDOM_BITS = 80
_LOW_BITS = 20  # the random part's last four digits, encoded afresh for every id
_LOW = (1 << _LOW_BITS) - 1
_lock = threading.Lock()
# Milliseconds and random part of the previous id, and its digits but the last four: within a
# millisecond only those change (a carry past them happens once in a million ids), so most ids
# cost two table lookups, not sixteen digits' encoding (a tenth of a trigger request's work).
_last = (0, 0, "")


def new_id(prefix: str) -> str:
    """A new id: prefix, 10 chars of milliseconds since the epoch, 16 chars of randomness.

    Within one process ids only grow (the random part is incremented within a millisecond),
    so id order is creation order: ordered delivery and cursors rely on it.
    """
    global _last
    millis = time.time_ns() // 1_000_000
    with _lock:
        last_millis, rand, head = _last
        if millis <= last_millis and rand + 1 < 1 << _RANDOM_BITS:
            rand += 1
            if not rand & _LOW:
                head = head[:10] + _encode(rand >> _LOW_BITS, 12)
        else:
            last_millis = millis
            rand = int.from_bytes(os.urandom(_RANDOM_BITS // 8), "big") >> 1
            head = _encode(millis, 10) + _encode(rand >> _LOW_BITS, 12)
        _last = (last_millis, rand, head)
    return f"{prefix}_{head}{_PAIRS[rand >> 10 & 1023]}{_PAIRS[rand & 1023]}"


def id_time(identifier: str) -> float:
    """When the id was made (seconds since the epoch, to the millisecond), from its digits."""
    _, _, digits = identifier.rpartition("_")
    millis = 0
    for digit in digits[:10]:
        millis = millis * 32 + _ALPHABET.index(digit)
    return millis / 1000
