"""The rollup and the utilization and fleet reports, on hand-built stays with known answers,
against both stores (SQLite and the real TimescaleDB give the same answers)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from zoneinfo import ZoneInfo

import pytest
from shapely.geometry import box

from floorplans.model import Level, Room, Site
from tracker.assets import Asset
from tracker.availability import AssetState
from tracker.records import StayRecord, WriteBatch
from tracker.reports.fleet import fleet, percentile_nearest_rank
from tracker.reports.rollup import refresh_incremental, refresh_rollup, rollup_info
from tracker.reports.states import StateRules
from tracker.reports.utilization import utilization
from tracker.store import Store

H = 3600.0
OSLO = ZoneInfo("Europe/Oslo")


def at(y: int, mo: int, d: int, h: int = 0, mi: int = 0) -> float:
    """Epoch seconds of an Oslo wall-clock time."""
    return dt.datetime(y, mo, d, h, mi, tzinfo=OSLO).timestamp()


def tiny_site() -> Site:
    cats = [("P1", "patient_room"), ("P2", "patient_room"), ("S1", "equipment_storage"),
            ("D1", "dirty_utility"), ("C1", "corridor")]
    return Site.build(
        id="t", name="t",
        levels=[Level("L1", "B", 0, "L1", 0.0, 3.0, box(0, 0, 50, 10))],
        rooms=[Room(rid, "L1", rid, cat, box(i * 10, 0, i * 10 + 10, 10), department="Med")
               for i, (rid, cat) in enumerate(cats)])


SITE = tiny_site()
RULES = StateRules.for_site(SITE)


def pumps(store: Store, n: int, department: str = "Med", type: str = "infusion-pump") -> None:
    store.upsert_assets([Asset(f"{type}-{i}", f"Pump {i}", type=type, department=department,
                               tags=(f"tag-{type}-{i}",)) for i in range(1, n + 1)], at=0.0)


def stays(store: Store, rows: Sequence[tuple[str, str, float, float | None]]) -> None:
    store.write(WriteBatch(stays=[StayRecord(f"tag-{a}", a, "t", "L1", room, t_in, t_out, 0.9)
                                  for a, room, t_in, t_out in rows]))


def table(store: Store, name: str) -> list[tuple[object, ...]]:
    return sorted(tuple(r) for r in store.query(f"SELECT * FROM {name}"))


def test_pump_in_patient_room_6_of_24_hours_is_25_percent(store: Store) -> None:
    pumps(store, 1)
    d0 = at(2025, 11, 26)
    stays(store, [("infusion-pump-1", "S1", d0 - 5 * H, d0 + 8 * H),
                  ("infusion-pump-1", "P1", d0 + 8 * H, d0 + 14 * H),
                  ("infusion-pump-1", "S1", d0 + 14 * H, None)])
    now = d0 + 30 * H
    res = refresh_rollup(store, RULES, d0, d0 + 24 * H, now=now)
    assert (res.t0, res.t1, res.assets, res.days) == (d0, d0 + 24 * H, 1, 1)
    rows = utilization(store, d0, d0 + 24 * H, by="asset", now=now)
    assert len(rows) == 1
    r = rows[0]
    assert (r.asset, r.type, r.department) == ("infusion-pump-1", "infusion-pump", "Med")
    assert r.seconds == 24 * H
    assert r.pct(AssetState.IN_USE) == pytest.approx(25.0)
    assert r.pct(AssetState.AVAILABLE) == pytest.approx(75.0)
    assert r.uses == 1 and r.mean_use_s == pytest.approx(6 * H)
    # The same from hours only (a window not on local midnights) and per type.
    part = utilization(store, d0 + 6 * H, d0 + 18 * H, by="type", now=now)
    assert part[0].type == "infusion-pump" and part[0].pct("in_use") == pytest.approx(50.0)


def test_corridor_gap_and_not_seen_gap(store: Store) -> None:
    pumps(store, 1)
    d0 = at(2025, 11, 26)
    stays(store, [("infusion-pump-1", "S1", d0 - H, d0 + 8 * H),
                  ("infusion-pump-1", "C1", d0 + 8 * H, d0 + 8 * H + 60),
                  ("infusion-pump-1", "P1", d0 + 8 * H + 300, d0 + 12 * H),
                  ("infusion-pump-1", "S1", d0 + 15 * H, d0 + 25 * H)])
    now = d0 + 48 * H
    refresh_rollup(store, RULES, d0, d0 + 24 * H, now=now)
    (r,) = utilization(store, d0, d0 + 24 * H, by="asset", now=now)
    s = r.state_seconds
    assert s["in_transit"] == 300  # 60 s corridor stay + 240 s gap
    assert s["not_seen"] == 3 * H
    assert s["in_use"] == 4 * H - 300
    assert s["available"] == 17 * H
    assert r.seconds == 24 * H


def test_dst_days_have_23_and_25_hours(store: Store) -> None:
    pumps(store, 1)
    spring, autumn = at(2025, 3, 30), at(2025, 10, 26)
    stays(store, [("infusion-pump-1", "P1", spring - H, spring + 30 * H),
                  ("infusion-pump-1", "P1", autumn - H, autumn + 30 * H)])
    for d0, d2 in ((spring, at(2025, 4, 1)), (autumn, at(2025, 10, 28))):
        refresh_rollup(store, RULES, d0, d2, now=d0 + 60 * H)
    days = utilization(store, spring, at(2025, 3, 31), period="day", now=spring + 60 * H)
    assert [(r.period_start, r.seconds) for r in days] == [(dt.date(2025, 3, 30), 23 * H)]
    days = utilization(store, autumn, at(2025, 10, 28), period="day", now=autumn + 60 * H)
    assert [(r.period_start, r.seconds / H) for r in days] == [
        (dt.date(2025, 10, 26), 25.0), (dt.date(2025, 10, 27), 24.0)]
    assert days[0].pct("in_use") == pytest.approx(100.0)
    assert days[1].pct("in_use") == pytest.approx(100 * 5 / 24)


def test_month_and_week_boundaries_are_local(store: Store) -> None:
    pumps(store, 1)
    # In use from 22:00 on 31 October to 02:00 on 1 November, Oslo time (UTC+1).
    t_in, t_out = at(2025, 10, 31, 22), at(2025, 11, 1, 2)
    stays(store, [("infusion-pump-1", "S1", at(2025, 10, 20), t_in),
                  ("infusion-pump-1", "P1", t_in, t_out),
                  ("infusion-pump-1", "S1", t_out, None)])
    now = at(2025, 11, 5)
    refresh_rollup(store, RULES, at(2025, 10, 27), at(2025, 11, 3), now=now)
    months = utilization(store, at(2025, 10, 27), at(2025, 11, 3), period="month", now=now)
    assert [(r.period_start, r.state_seconds["in_use"] / H, r.uses) for r in months] == [
        (dt.date(2025, 10, 1), 2.0, 1), (dt.date(2025, 11, 1), 2.0, 0)]
    assert months[0].seconds == 5 * 24 * H and months[1].seconds == 2 * 24 * H
    weeks = utilization(store, at(2025, 10, 27), at(2025, 11, 3), period="week", now=now)
    assert [(r.period_start, r.state_seconds["in_use"] / H) for r in weeks] == [
        (dt.date(2025, 10, 27), 4.0)]


def test_refresh_is_idempotent_and_rewrites_only_its_window(store: Store) -> None:
    pumps(store, 2)
    d0 = at(2025, 11, 26)
    stays(store, [("infusion-pump-1", "P1", d0 + H, d0 + 5 * H),
                  ("infusion-pump-2", "D1", d0 + 2 * H, None)])
    now = d0 + 10 * H
    refresh_rollup(store, RULES, d0, d0 + 24 * H, now=now)
    first = [table(store, t) for t in ("asset_state_hours", "asset_state_days", "fleet_hours")]
    refresh_rollup(store, RULES, d0, d0 + 24 * H, now=now)
    refresh_rollup(store, RULES, d0 + 3 * H + 1, d0 + 4 * H - 1, now=now)
    again = [table(store, t) for t in ("asset_state_hours", "asset_state_days", "fleet_hours")]
    assert again == first
    assert len(first[0]) > 0 and len(first[1]) > 0
    # Hours up to now only: ten hours of two assets.
    (r,) = utilization(store, d0, d0 + 24 * H, now=now)
    assert r.seconds == 2 * 10 * H
    assert r.state_seconds["needs_cleaning"] == 8 * H and r.state_seconds["in_use"] == 4 * H


def test_open_stays_count_until_now_and_later_refresh_extends(store: Store) -> None:
    pumps(store, 1)
    d0 = at(2025, 11, 26)
    stays(store, [("infusion-pump-1", "P1", d0, None)])
    res = refresh_incremental(store, RULES, now=d0 + 2.5 * H, since=d0)
    assert res.t1 == d0 + 3 * H
    assert rollup_info(store) == ("Europe/Oslo", d0 + 2.5 * H)
    (r,) = utilization(store, d0, d0 + 24 * H, now=d0 + 2.5 * H)
    assert r.state_seconds["in_use"] == 2.5 * H
    refresh_incremental(store, RULES, now=d0 + 5 * H)
    (r,) = utilization(store, d0, d0 + 24 * H, now=d0 + 5 * H)
    assert r.state_seconds["in_use"] == 5 * H and r.uses == 1


def test_use_running_into_the_window_is_not_counted_again(store: Store) -> None:
    pumps(store, 1)
    d0 = at(2025, 11, 26)
    stays(store, [("infusion-pump-1", "P1", d0 - 3 * H, d0 + 2 * H),
                  ("infusion-pump-1", "P2", d0 + 2 * H, d0 + 4 * H),
                  ("infusion-pump-1", "S1", d0 + 4 * H, None)])
    refresh_rollup(store, RULES, d0, d0 + 6 * H, now=d0 + 6 * H)
    (r,) = utilization(store, d0, d0 + 6 * H, now=d0 + 6 * H)
    assert r.uses == 0 and r.state_seconds["in_use"] == 4 * H


def test_retired_assets_are_left_out_and_never_seen_are_not_seen(store: Store) -> None:
    pumps(store, 2)
    store.upsert_assets([Asset("old-1", "Old", type="infusion-pump", department="Med",
                               status="retired")], at=0.0)
    d0 = at(2025, 11, 26)
    refresh_rollup(store, RULES, d0, d0 + 2 * H, now=d0 + 2 * H)
    rows = utilization(store, d0, d0 + 2 * H, by="asset", now=d0 + 2 * H)
    assert [(r.asset, r.pct("not_seen")) for r in rows] == [
        ("infusion-pump-1", 100.0), ("infusion-pump-2", 100.0)]


def test_bad_arguments_name_the_field(store: Store) -> None:
    with pytest.raises(ValueError, match=r"^to:"):
        refresh_rollup(store, RULES, 10.0, 5.0)
    with pytest.raises(ValueError, match=r"^tz:"):
        refresh_rollup(store, RULES, 0.0, H, tz="Mars/Olympus")
    with pytest.raises(ValueError, match=r"^tz:"):
        refresh_rollup(store, RULES, 0.0, H, tz="Asia/Kolkata", now=H)
    with pytest.raises(ValueError, match=r"^by:"):
        utilization(store, 0.0, H, by="room")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=r"^period:"):
        utilization(store, 0.0, H, period="year")  # type: ignore[arg-type]
    d0 = at(2025, 11, 26)
    refresh_rollup(store, RULES, d0, d0 + H, now=d0 + H)
    with pytest.raises(ValueError, match=r"^tz:"):
        refresh_rollup(store, RULES, d0, d0 + H, now=d0 + H, tz="UTC")


# ---------------------------------------------------------------------------- fleet
def test_percentile_nearest_rank() -> None:
    assert percentile_nearest_rank([], 95) == 0
    assert percentile_nearest_rank(list(range(1, 21)), 95) == 19
    assert percentile_nearest_rank([3] * 19 + [10], 95) == 3
    assert percentile_nearest_rank([5], 95) == 5


def test_fleet_concurrency_shortage_and_recommendation(store: Store) -> None:
    pumps(store, 4)
    d0 = at(2025, 11, 26)
    # pump-1 and -2 in use 08:00-12:00 together; pump-3 in use 10:00-11:00 (3 at once);
    # pump-4 in the dirty utility from 09:00. Between 10:00 and 11:00 none is available.
    stays(store, [("infusion-pump-1", "S1", d0, d0 + 8 * H),
                  ("infusion-pump-1", "P1", d0 + 8 * H, d0 + 12 * H),
                  ("infusion-pump-1", "S1", d0 + 12 * H, None),
                  ("infusion-pump-2", "S1", d0, d0 + 8 * H),
                  ("infusion-pump-2", "P2", d0 + 8 * H, d0 + 12 * H),
                  ("infusion-pump-2", "S1", d0 + 12 * H, None),
                  ("infusion-pump-3", "S1", d0, d0 + 10 * H),
                  ("infusion-pump-3", "P1", d0 + 10 * H, d0 + 11 * H),
                  ("infusion-pump-3", "S1", d0 + 11 * H, None),
                  ("infusion-pump-4", "S1", d0, d0 + 9 * H),
                  ("infusion-pump-4", "D1", d0 + 9 * H, None)])
    now = d0 + 24 * H
    refresh_rollup(store, RULES, d0, now, now=now)
    rows = fleet(store, d0, now, now=now)
    assert [(r.type, r.department) for r in rows] == [("infusion-pump", None),
                                                       ("infusion-pump", "Med")]
    r = rows[1]
    assert (r.owned, r.hours, r.peak) == (4, 24, 3)
    # 24 hourly peaks: 0 for 16 hours, 2 for 3 hours (8, 9, 11), 3 for one (10): p95 = 2.
    assert r.p95 == 2 and r.spare == 2
    assert r.peak_by_hour[10] == 3 and r.peak_by_hour[8] == 2 and r.peak_by_hour[3] == 0
    assert r.peak_by_weekday[2] == 3  # a Wednesday
    assert [dt.datetime.fromtimestamp(t, OSLO).hour for t in r.shortages] == [10]
    assert r.mean_in_use == pytest.approx(9 / 24)
    assert r.recommendation_en == (
        "4 infusion pumps owned in Med; at most 2 in use at once in 95 % of hours (peak 3):"
        " about 2 could be redeployed; none available in 1 hour, consider more units or"
        " redistribution.")
    assert r.recommendation_no.startswith(
        "4 infusjonspumper eid i Med; høyst 2 i bruk samtidig i 95 % av timene (topp 3):"
        " omtrent 2 kan omdisponeres; ingen ledige i 1 time")
    assert fleet(store, d0, now, now=now, shortage_min_s=3601)[1].shortages == ()
    assert [r.department for r in fleet(store, d0, now, now=now, by_department=False)] == [None]
    assert fleet(store, d0, now, now=now, type="bed") == []
    # Fleet reads UTC hours, so any zone can group them (10:00 Oslo is 09:00 UTC); the
    # utilization report reads the rollup's Oslo days and refuses another zone.
    assert fleet(store, d0, now, now=now, tz="UTC")[1].peak_by_hour[9] == 3
    with pytest.raises(ValueError, match=r"^tz: the rollup's local days are in"):
        utilization(store, d0, now, now=now, tz="UTC")


def test_fleet_all_departments_is_not_the_sum_of_department_peaks(store: Store) -> None:
    pumps(store, 1, "Med")
    pumps(store, 1, "Kir", type="infusion-pump-k")
    store.upsert_assets([Asset("k-1", "K", type="infusion-pump", department="Kir",
                               tags=("tag-k-1",))], at=0.0)
    d0 = at(2025, 11, 26)
    stays(store, [("infusion-pump-1", "P1", d0, d0 + 2 * H)])
    store.write(WriteBatch(stays=[StayRecord("tag-k-1", "k-1", "t", "L1", "P2", d0 + 3 * H,
                                             d0 + 5 * H, 0.9)]))
    refresh_rollup(store, RULES, d0, d0 + 6 * H, now=d0 + 6 * H)
    rows = {r.department: r for r in fleet(store, d0, d0 + 6 * H, type="infusion-pump",
                                           now=d0 + 6 * H)}
    assert rows["Med"].peak == rows["Kir"].peak == rows[None].peak == 1
    assert rows[None].owned == 2


def test_incremental_refresh_redoes_the_last_hour_for_stays_closed_after_the_fact(
        store: Store) -> None:
    pumps(store, 1)
    d0 = at(2025, 11, 26)
    stays(store, [("infusion-pump-1", "P1", d0, None)])
    refresh_incremental(store, RULES, now=d0 + 2 * H, since=d0)
    # The tag went quiet at 01:30; the tracker closes the stay at its last fix, later.
    stays(store, [("infusion-pump-1", "P1", d0, d0 + 1.5 * H)])
    res = refresh_incremental(store, RULES, now=d0 + 2.25 * H)
    assert res.t0 == d0 + H
    (r,) = utilization(store, d0, d0 + 24 * H, now=d0 + 2.25 * H)
    assert r.state_seconds["in_use"] == 1.5 * H
    assert r.state_seconds["not_seen"] == 0.75 * H
