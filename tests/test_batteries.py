"""The ingestor's battery reports: the latest of each tag that reported since the last drain."""

from __future__ import annotations

import pytest

from gateway.adapters.types import TagBattery
from gateway.batteries import TagBatteries


def test_latest_per_tag_and_what_changed_since_the_last_drain() -> None:
    b = TagBatteries()
    b.observe([TagBattery(10.0, "a", 80.0), TagBattery(11.0, "a", 79.0),
               TagBattery(10.5, "b", 50.0)])
    assert len(b) == 2
    drained = b.drain()
    assert drained["a"] == TagBattery(11.0, "a", 79.0)
    assert drained == {"a": TagBattery(11.0, "a", 79.0), "b": TagBattery(10.5, "b", 50.0)}
    assert b.drain() == {} and len(b) == 0
    b.observe([TagBattery(9.0, "a", 90.0)])  # older than what was drained: ignored
    assert b.drain() == {}
    assert "nobody" not in drained


def test_bounded_oldest_report_forgotten_first() -> None:
    b = TagBatteries(max_tags=2)
    b.observe([TagBattery(1.0, "a", 10.0), TagBattery(2.0, "b", 20.0),
               TagBattery(3.0, "c", 30.0)])
    assert len(b) == 2
    drained = b.drain()
    assert "a" not in drained
    assert set(drained) == {"b", "c"}
    with pytest.raises(ValueError, match="max_tags"):
        TagBatteries(max_tags=0)
