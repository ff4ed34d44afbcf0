"""The pure parts of hookhub.db.partitions: names, ranges, and what the schema comparison skips."""

from __future__ import annotations

from hookhub.db.partitions import DAY, DEFAULT, Partition, day_name, declared

DEC_4 = 1_764_806_400  # 2025-12-04T00:00:00Z


def test_a_day_is_named_by_its_utc_date() -> None:
    assert day_name(DEC_4) == "attempts_p_20251204"
    assert day_name(DEC_4 + DAY - 1) == "attempts_p_20251204"


def test_ranges_overlap_by_half_open_intervals() -> None:
    day = Partition("attempts_p_20251204", DEC_4, DEC_4 + DAY)
    assert day.overlaps(DEC_4, DEC_4 + DAY)
    assert not day.overlaps(DEC_4 + DAY, DEC_4 + 2 * DAY)
    assert not day.overlaps(DEC_4 - DAY, DEC_4)
    history = Partition("attempts_p_history", None, DEC_4)
    assert history.overlaps(0, 1)
    assert not history.overlaps(DEC_4, DEC_4 + DAY)
    # The DEFAULT holds what no range does: it never stands in the way of a new day.
    assert not Partition(DEFAULT, None, None).overlaps(DEC_4, DEC_4 + DAY)


def test_the_schema_comparison_skips_partitions_and_their_indexes_only() -> None:
    assert declared("attempts", "table", {})
    assert declared("ix_attempts_started_at", "index", {"table_name": "attempts"})
    assert not declared("attempts_p_20251204", "table", {})
    assert not declared("attempts_p_default_started_at_idx", "index", {"table_name": DEFAULT})
