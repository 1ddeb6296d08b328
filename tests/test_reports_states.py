"""Stays -> state intervals and uses, on hand-built stays with known answers."""

from __future__ import annotations

import itertools

import pytest

from tracker.availability import AssetState, StateMap
from tracker.records import StayRecord
from tracker.reports.states import StateRules, seconds_by_state, state_intervals, uses

H = 3600.0
T0 = 1_764_111_600.0  # 2025-11-26 00:00 Europe/Oslo
ROOMS = {"P1": "patient_room", "P2": "patient_room", "S1": "equipment_storage",
         "D1": "dirty_utility", "C1": "corridor", "O1": "office"}
RULES = StateRules(StateMap(), 900.0, ROOMS)


def stay(room: str, a: float, b: float | None, tag: str = "t1") -> StayRecord:
    return StayRecord(tag, "pump-1", "site", "L1", room, T0 + a, None if b is None else T0 + b,
                      0.9)


def states(stays: list[StayRecord], t0: float = 0, t1: float = 24 * H, now: float = 48 * H,
           rules: StateRules = RULES) -> dict[AssetState, float]:
    return seconds_by_state(state_intervals(stays, rules, T0 + t0, T0 + t1, T0 + now))


def test_pump_in_patient_room_6_of_24_hours_is_25_percent_in_use() -> None:
    s = states([stay("S1", -2 * H, 8 * H), stay("P1", 8 * H, 14 * H), stay("S1", 14 * H, None)])
    assert s == {AssetState.AVAILABLE: 18 * H, AssetState.IN_USE: 6 * H}
    assert s[AssetState.IN_USE] / sum(s.values()) == 0.25


def test_intervals_cover_the_window_in_order_without_overlap() -> None:
    ivs = state_intervals([stay("S1", -H, 3 * H), stay("P1", 3.1 * H, 5 * H)], RULES,
                          T0, T0 + 6 * H, T0 + 10 * H)
    assert ivs[0].start == T0 and ivs[-1].end == T0 + 6 * H
    assert all(a.end == b.start for a, b in itertools.pairwise(ivs))
    assert [(iv.state, iv.room) for iv in ivs] == [
        (AssetState.AVAILABLE, "S1"), (AssetState.IN_TRANSIT, None),
        (AssetState.IN_USE, "P1"), (AssetState.NOT_SEEN, None)]


def test_short_gap_is_in_transit_long_gap_is_not_seen() -> None:
    s = states([stay("S1", 0, 8 * H), stay("P1", 8 * H + 300, 14 * H),
                stay("S1", 16 * H, 24 * H)])
    assert s[AssetState.IN_TRANSIT] == 300
    assert s[AssetState.NOT_SEEN] == 2 * H
    assert s[AssetState.IN_USE] == 6 * H - 300


def test_gap_exactly_at_the_limit_is_transit_one_second_more_is_not() -> None:
    assert states([stay("S1", 0, H), stay("P1", H + 900, 24 * H)])[AssetState.IN_TRANSIT] == 900
    s = states([stay("S1", 0, H), stay("P1", H + 901, 24 * H)])
    assert AssetState.IN_TRANSIT not in s and s[AssetState.NOT_SEEN] == 901


def test_corridor_stay_is_in_transit_by_category() -> None:
    s = states([stay("S1", 0, 10 * H), stay("C1", 10 * H, 10 * H + 120),
                stay("P1", 10 * H + 120, 24 * H)])
    assert s[AssetState.IN_TRANSIT] == 120


def test_never_seen_is_not_seen_all_window() -> None:
    assert states([]) == {AssetState.NOT_SEEN: 24 * H}


def test_gap_before_first_stay_counts_from_previous_exit() -> None:
    # The previous stay ended 10 minutes before the window: the first 5 minutes are transit.
    s = states([stay("S1", -2 * H, -600), stay("P1", 300, 24 * H)])
    assert s == {AssetState.IN_TRANSIT: 300, AssetState.IN_USE: 24 * H - 300}
    # No previous stay known: not seen until the first stay.
    assert states([stay("P1", 300, 24 * H)])[AssetState.NOT_SEEN] == 300


def test_trailing_gap_until_now_and_beyond() -> None:
    # Last stay ended 5 minutes before now: in transit so far.
    s = states([stay("P1", 0, 20 * H - 300)], now=20 * H)
    assert s == {AssetState.IN_USE: 20 * H - 300, AssetState.IN_TRANSIT: 300}
    # Ended long before now: not seen since.
    s = states([stay("P1", 0, 20 * H)], now=30 * H)
    assert s == {AssetState.IN_USE: 20 * H, AssetState.NOT_SEEN: 4 * H}


def test_open_stay_lasts_until_now_and_nothing_after_now_counts() -> None:
    s = states([stay("P1", 2 * H, None)], now=10 * H)
    assert s == {AssetState.NOT_SEEN: 2 * H, AssetState.IN_USE: 8 * H}


def test_overlapping_stays_of_two_tags_are_not_counted_twice() -> None:
    s = states([stay("P1", 0, 12 * H, "t1"), stay("D1", 10 * H, 24 * H, "t2")])
    assert s == {AssetState.IN_USE: 12 * H, AssetState.NEEDS_CLEANING: 12 * H}


def test_unknown_room_and_site_mapping() -> None:
    assert states([stay("X9", 0, 24 * H)]) == {AssetState.IN_USE: 24 * H}
    rules = StateRules(StateMap.from_config({"office": "available"}), 900.0, ROOMS)
    assert states([stay("O1", 0, 24 * H)], rules=rules) == {AssetState.AVAILABLE: 24 * H}


def test_back_to_back_use_rooms_are_one_use_a_gap_makes_two() -> None:
    ivs = state_intervals([stay("P1", 0, 2 * H), stay("P2", 2 * H, 5 * H),
                           stay("S1", 5 * H, 6 * H), stay("P1", 6 * H, 7 * H),
                           stay("P2", 7 * H + 60, 8 * H)], RULES, T0, T0 + 10 * H, T0 + 9 * H)
    got = [(u.start - T0, u.seconds) for u in uses(ivs)]
    assert got == [(0, 5 * H), (6 * H, H), (7 * H + 60, H - 60)]


def test_rules_validate_and_build_from_site() -> None:
    from floorplans.sample import load_sample_site

    with pytest.raises(ValueError, match="transit_limit_s"):
        StateRules(transit_limit_s=-1)
    site = load_sample_site()
    rules = StateRules.for_site(site)
    room = next(r for r in site.rooms if r.category == "clean_utility")
    assert rules.room_state(room.id) is AssetState.AVAILABLE
