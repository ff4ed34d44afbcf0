"""Ids: prefix, 10 base32 digits of milliseconds, 16 of randomness; they only grow."""

from __future__ import annotations

import time

import pytest

from hookhub import ids
from hookhub.ids import _ALPHABET, id_time, new_id


def _decode(digits: str) -> int:
    value = 0
    for digit in digits:
        value = value * 32 + _ALPHABET.index(digit)
    return value


def test_ids_spell_their_millisecond_in_crockford_base32_and_grow() -> None:
    before = time.time_ns() // 1_000_000
    made = [new_id("run") for _ in range(2000)]
    after = time.time_ns() // 1_000_000
    for made_id in made:
        prefix, _, digits = made_id.partition("_")
        assert prefix == "run"
        assert len(digits) == 26
        assert set(digits) <= set(_ALPHABET)
        assert before <= _decode(digits[:10]) <= after
    assert made == sorted(made)
    assert len(set(made)) == len(made)


def test_an_id_tells_when_it_was_made() -> None:
    before = time.time_ns() // 1_000_000 / 1000
    made = new_id("lse")
    after = time.time_ns() // 1_000_000 / 1000
    assert before <= id_time(made) <= after


def test_ids_within_a_millisecond_count_up_through_a_carry_past_the_last_four_digits(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # The random part's last four digits are encoded afresh per id, the rest kept: a carry out
    # of them must still reach the digits kept.
    millis = time.time_ns() // 1_000_000 + 60_000  # ahead: every id stays in this millisecond
    start = (7 << 20) - 2
    head = ids._encode(millis, 10) + ids._encode(start >> 20, 12)
    monkeypatch.setattr(ids, "_last", (millis, start, head))
    made = [new_id("run") for _ in range(4)]
    assert [_decode(made_id[14:]) for made_id in made] == [start + n for n in range(1, 5)]
    assert {_decode(made_id[4:14]) for made_id in made} == {millis}
