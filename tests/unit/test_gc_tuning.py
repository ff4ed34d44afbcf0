"""Once started, a process leaves its startup heap out of collections and collects less often."""

from __future__ import annotations

import gc
from collections.abc import Iterator

import pytest

from hookhub.worker import YOUNG_GC_THRESHOLD, freeze_heap


@pytest.fixture
def restored_gc() -> Iterator[None]:
    threshold = gc.get_threshold()
    yield
    gc.unfreeze()
    gc.set_threshold(*threshold)


@pytest.mark.usefixtures("restored_gc")
def test_freeze_heap_freezes_and_raises_the_young_threshold() -> None:
    _, older, oldest = gc.get_threshold()
    freeze_heap()
    assert gc.get_freeze_count() > 0
    assert gc.get_threshold() == (YOUNG_GC_THRESHOLD, older, oldest)
    assert YOUNG_GC_THRESHOLD > 700  # Python's default
