"""Idle, missing and maintenance worklists on hand-built registries and locations, against
both stores."""

from __future__ import annotations

import datetime as dt

import pytest
from shapely.geometry import LineString, box

from floorplans.model import Level, Opening, Room, Site
from tracker.assets import Asset
from tracker.records import FixRecord, StayRecord, WriteBatch
from tracker.reports.worklists import idle, maintenance, missing
from tracker.store import Store

H = 3600.0
DAY = 86_400.0
NOW = 1_764_151_200.0  # 2025-11-26 11:00 Europe/Oslo
TODAY = dt.date(2025, 11, 26)


def row_site() -> Site:
    """Five rooms in a row off one corridor: R0, R2, R4 storage; R1, R3 patient rooms."""
    rooms = [Room(f"R{i}", "L1", f"Room {i}", "patient_room" if i % 2 else "equipment_storage",
                  box(i * 10, 0, i * 10 + 10, 10), department="Med") for i in range(5)]
    rooms.append(Room("C", "L1", "Corridor", "corridor", box(0, 10, 50, 14)))
    doors = [Opening(f"d{i}", "L1", LineString([(i * 10 + 4.5, 10), (i * 10 + 5.5, 10)]),
                     rooms=(f"R{i}", "C")) for i in range(5)]
    return Site.build(id="t", name="t",
                      levels=[Level("L1", "B", 0, "L1", 0.0, 3.0, box(0, 0, 50, 14))],
                      rooms=rooms, openings=doors)


SITE = row_site()


def asset(i: int, *, type: str = "infusion-pump", due: dt.date | None = None,
          status: str = "active", department: str = "Med") -> Asset:
    return Asset(f"a{i}", f"Asset {i}", type=type, department=department, tags=(f"t{i}",),
                 status=status, next_maintenance=due)


def seen(store: Store, i: int, ts: float, room: str | None, gateway: str | None = None
         ) -> None:
    store.write(WriteBatch([FixRecord(ts, f"t{i}", f"a{i}", "t", "B", "L1", room, 1.0, 2.0,
                                      1.5, 0.9, False, gateway)]))


def stay(store: Store, i: int, room: str, t_in: float, t_out: float | None) -> None:
    store.write(WriteBatch(stays=[StayRecord(f"t{i}", f"a{i}", "t", "L1", room, t_in, t_out,
                                             0.9)]))


def test_idle_lists_assets_in_one_room_for_n_days(store: Store) -> None:
    store.upsert_assets([asset(1), asset(2), asset(3), asset(4, type="bed")], at=0.0)
    stay(store, 1, "R0", NOW - 10 * DAY, None)  # idle 10 days, heard now
    seen(store, 1, NOW - 60, "R0")
    stay(store, 2, "R1", NOW - 10 * DAY, NOW - 2 * DAY)  # moved 2 days ago
    stay(store, 2, "R3", NOW - 2 * DAY, None)
    seen(store, 2, NOW - 60, "R3")
    stay(store, 3, "R2", NOW - 20 * DAY, None)  # open stay but not heard for 2 days: missing
    seen(store, 3, NOW - 2 * DAY, "R2")
    stay(store, 4, "R1", NOW - 8 * DAY, None)
    seen(store, 4, NOW - 60, "R1")
    rows = idle(store, SITE, days=7, now=NOW)
    assert [(r.asset, r.room, r.state, round(r.idle_days)) for r in rows] == [
        ("a1", "R0", "available", 10), ("a4", "R1", "in_use", 8)]
    assert rows[0].room_name == "Room 0"
    assert [r.asset for r in idle(store, SITE, days=7, type="bed", now=NOW)] == ["a4"]
    assert [r.asset for r in idle(store, SITE, days=1, now=NOW)] == ["a1", "a4", "a2"]
    rec = rows[0].to_record("Europe/Oslo")
    assert rec["since"] == "2025-11-16T11:00:00+01:00"
    with pytest.raises(ValueError, match=r"^days:"):
        idle(store, SITE, days=-1, now=NOW)


def test_missing_lists_never_seen_then_longest_unseen(store: Store) -> None:
    store.upsert_assets([asset(1), asset(2), asset(3), asset(4, status="retired"),
                         asset(5, status="lost")], at=0.0)
    seen(store, 1, NOW - 31 * H, "R2", "gw-old")
    seen(store, 1, NOW - 30 * H, "R3", "gw-r3")  # the latest fix's gateway wins
    seen(store, 2, NOW - 60, "R0")
    seen(store, 5, NOW - 50 * H, None)
    rows = missing(store, SITE, hours=24, now=NOW)
    assert [(r.asset, r.hours_missing, r.room, r.status) for r in rows] == [
        ("a3", None, None, "active"), ("a5", 50.0, None, "lost"), ("a1", 30.0, "R3", "active")]
    assert rows[2].room_name == "Room 3" and rows[2].level == "L1"
    assert [r.last_gateway for r in rows] == [None, None, "gw-r3"]
    rec = rows[2].to_record("Europe/Oslo")
    assert rec["last_seen"] == "2025-11-25T05:00:00+01:00" and rec["last_gateway"] == "gw-r3"
    assert missing(store, SITE, hours=60, now=NOW)[0].asset == "a3"
    with pytest.raises(ValueError, match=r"^hours:"):
        missing(store, SITE, hours=-2, now=NOW)


def test_maintenance_worklist_is_a_greedy_walking_route(store: Store) -> None:
    store.upsert_assets([
        asset(1, due=TODAY + dt.timedelta(days=3)),   # in R0
        asset(2, due=TODAY - dt.timedelta(days=5)),   # in R3 (patient room: in use)
        asset(3, due=TODAY + dt.timedelta(days=1)),   # in R4
        asset(4, due=TODAY + dt.timedelta(days=30)),  # not due within 14 days
        asset(5, due=TODAY),                          # never seen
        asset(6, due=TODAY + dt.timedelta(days=2)),   # in R4 too
    ], at=0.0)
    for i, room in ((1, "R0"), (2, "R3"), (3, "R4"), (4, "R2"), (6, "R4")):
        seen(store, i, NOW - 120, room)
    rows = maintenance(store, SITE, days=14, start_room="R2", now=NOW)
    # From R2: R3 (21.2 m), then R4 (21.2 m), then R0 (51.2 m); the unlocated asset last.
    assert [(r.order, r.asset, r.room) for r in rows] == [
        (1, "a2", "R3"), (2, "a3", "R4"), (3, "a6", "R4"), (4, "a1", "R0"), (5, "a5", None)]
    walks = [r.walk_m for r in rows]
    assert walks[:4] == pytest.approx([21.2, 42.4, 42.4, 93.6], abs=0.5) and walks[4] is None
    assert [(r.state, r.collectable) for r in rows] == [
        ("in_use", False), ("available", True), ("available", True), ("available", True),
        ("not_seen", False)]
    assert rows[0].days_left == -5 and rows[4].days_left == 0
    # Without a start room the route starts at the most overdue located asset.
    assert [r.asset for r in maintenance(store, SITE, days=14, now=NOW)][:2] == ["a2", "a3"]
    with pytest.raises(ValueError, match=r"^start_room:"):
        maintenance(store, SITE, days=14, start_room="nowhere", now=NOW)
