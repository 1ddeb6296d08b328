"""The ingestor's latest-battery-per-tag registry."""

from __future__ import annotations

import pytest

from gateway.adapters.types import TagBattery
from gateway.batteries import TagBatteries


def test_latest_per_tag_and_what_changed_since_the_last_drain() -> None:
    b = TagBatteries()
    b.observe([TagBattery(10.0, "a", 80.0), TagBattery(11.0, "a", 79.0),
               TagBattery(10.5, "b", 50.0)])
    assert b.latest("a") == TagBattery(11.0, "a", 79.0) and len(b) == 2
    assert b.drain() == {"a": TagBattery(11.0, "a", 79.0), "b": TagBattery(10.5, "b", 50.0)}
    assert b.drain() == {}
    b.observe([TagBattery(9.0, "a", 90.0)])  # older than what is held: ignored
    assert b.latest("a") == TagBattery(11.0, "a", 79.0) and b.drain() == {}
    assert b.latest("nobody") is None


def test_bounded_oldest_report_forgotten_first() -> None:
    b = TagBatteries(max_tags=2)
    b.observe([TagBattery(1.0, "a", 10.0), TagBattery(2.0, "b", 20.0),
               TagBattery(3.0, "c", 30.0)])
    assert len(b) == 2 and b.latest("a") is None
    assert set(b.drain()) == {"b", "c"}
    with pytest.raises(ValueError, match="max_tags"):
        TagBatteries(max_tags=0)
