"""Timestamp units, ISO parsing, the stateless policy and the ClockTracker."""

from __future__ import annotations

import random

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gateway.adapters import ParseResult
from gateway.canonical import Reading
from gateway.errors import PayloadError
from gateway.timebase import ClockTracker, TimePolicy, choose_ts, parse_iso, to_unix_seconds

T = 1_700_000_000.25


@pytest.mark.parametrize("value", [T, T * 1e3, int(T * 1e6), int(T * 1e9), str(T),
                                   str(int(T * 1e6))])
def test_units_inferred_from_magnitude(value: object) -> None:
    assert to_unix_seconds(value) == pytest.approx(T, abs=1e-3)


def test_iso_and_quirks() -> None:
    assert parse_iso("2026-02-09T00:13:53.668Z") == pytest.approx(1770596033.668)
    assert parse_iso("2023-11-27T19:47:59.913652-0500") == pytest.approx(1701132479.913652)
    assert parse_iso("2021-01-01&17:10:16+08") == 1609492216.0
    assert parse_iso("2016-10-18 14:16:56.365") == pytest.approx(1476800216.365)  # naive=UTC
    assert to_unix_seconds("2019-08-13T06:06:21Z") == 1565676381.0


@pytest.mark.parametrize("value", ["yesterday", "2021-13-01T00:00:00Z", float("inf"),
                                   -5, 1e25, True, [1]])
def test_bad_times(value: object) -> None:
    with pytest.raises(PayloadError) as ei:
        to_unix_seconds(value, field="ts")
    assert ei.value.reason in ("bad_time", "wrong_type") and "'ts'" in ei.value.detail


def test_unset_clock_is_kept_then_rejected_by_policy() -> None:
    assert to_unix_seconds(12345) == 12345.0  # 1970: an unset RTC
    assert choose_ts(12345.0, T) == T


def test_choose_ts_policy() -> None:
    assert choose_ts(T - 3, T) == T - 3
    assert choose_ts(T - 60, T) == T  # too old → receipt
    assert choose_ts(T + 5, T) == T  # future → receipt
    assert choose_ts(None, T) == T
    assert choose_ts(T - 60, T, TimePolicy(mode="device")) == T - 60
    assert choose_ts(4.2e9, T, TimePolicy(mode="device")) == T  # after 2100
    assert choose_ts(T - 3, T, TimePolicy(mode="receipt")) == T


@given(st.floats(allow_nan=True, allow_infinity=True) | st.integers() | st.text(max_size=30))
def test_to_unix_seconds_total(value: object) -> None:
    try:
        s = to_unix_seconds(value)
    except PayloadError:
        return
    assert s == s and s >= 0


def test_clock_tracker_learns_offset_and_rejects_outliers() -> None:
    rng = random.Random(7)
    tracker = ClockTracker()
    skew = -37.0  # the device clock is 37 s behind
    for i in range(50):
        sent = T + i
        received = sent + rng.uniform(0.02, 0.3)  # network latency
        assert tracker.observe("gw", sent + skew, received)
    off = tracker.offset("gw")
    assert off is not None and off == pytest.approx(skew - 0.16, abs=0.1)
    # one wild sample (a reboot to 1970 is never admitted; a 500 s jump is an outlier)
    assert not tracker.observe("gw", 12.0, T + 60)
    assert not tracker.observe("gw", T + 60 + 500, T + 60)
    assert tracker.offset("gw") == off
    # corrected time sits on the receiver's scale, within the latency jitter
    assert tracker.correct("gw", T + 100 + skew, T + 100.2) == pytest.approx(T + 100, abs=0.2)
    assert tracker.correct("other", T + skew, T) == T  # unknown gateway → receipt


def test_clock_tracker_resets_after_a_jump() -> None:
    tracker = ClockTracker(reset_after=4)
    for i in range(20):
        tracker.observe("gw", T + i - 100.0, T + i)
    for i in range(20, 40):  # NTP fixed the clock
        tracker.observe("gw", T + i, T + i)
    assert tracker.offset("gw") == pytest.approx(0.0)


def test_clock_tracker_apply_retimes_result() -> None:
    tracker = ClockTracker(min_samples=3)
    for i in range(5):
        tracker.observe("gw", T + i - 20.0, T + i)
    r = ParseResult.of_readings([Reading(T + 10, "gw", "t", rssi=-60.0),
                                 Reading(T + 10, "gw2", "t", rssi=-61.0)],
                                device_ts=[T + 10 - 20.5, None])
    out = tracker.apply(r, T + 10)
    assert [x.ts for x in out.readings] == [pytest.approx(T + 9.5), T + 10]


@given(st.lists(st.tuples(st.sampled_from(["gw", "gw2", "gw3"]),
                          st.one_of(st.none(), st.floats(T - 60, T + 60), st.just(5.0))),
                min_size=1, max_size=12))
def test_clock_tracker_apply_matches_correct_per_reading(rows: list[tuple[str, float | None]]
                                                         ) -> None:
    tracker = ClockTracker(min_samples=3)
    for i in range(6):  # gw runs 20 s ahead; gw2 is on time; gw3 is unknown
        tracker.observe("gw", T + i + 20.0, T + i)
        tracker.observe("gw2", T + i, T + i)
    r = ParseResult.of_readings([Reading(T, g, "t", rssi=-60.0) for g, _ in rows],
                                device_ts=[d for _, d in rows])
    out = tracker.apply(r, T + 10)  # observes the device times first, then corrects
    for (g, d), x in zip(rows, out.readings, strict=True):
        assert x.ts == tracker.correct(g, d, T + 10)
