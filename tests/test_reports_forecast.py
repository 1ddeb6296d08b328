"""Needs forecast: a clean weekly pattern is recovered (from a series and end to end through
stays and the rollup), noise is smoothed, and redistribution moves units from departments with
a surplus to those heading for a shortage, before it starts."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from zoneinfo import ZoneInfo

import numpy as np
import pytest

from floorplans.sample import load_sample_site
from tests.browser.harness import fix_in
from tracker.assets import Asset
from tracker.records import StayRecord, WriteBatch
from tracker.reports.forecast import (
    ForecastRow,
    Holding,
    forecast,
    forecast_series,
    forecast_with_moves,
    holdings,
    hour_of_week,
    suggest_moves,
)
from tracker.reports.rollup import refresh_rollup
from tracker.reports.states import StateRules
from tracker.store import open_store

H = 3600.0
OSLO = ZoneInfo("Europe/Oslo")
# Monday 12 January 2026, 00:00 Oslo (winter: no DST change in the weeks used here).
MONDAY = dt.datetime(2026, 1, 12, tzinfo=OSLO).timestamp()


def pattern(how: np.ndarray) -> np.ndarray:
    """Weekdays: 2 units at night, 6 from 08 to 16; weekends: 1 all day."""
    day, hour = how // 24, how % 24
    return np.where(day >= 5, 1, np.where((hour >= 8) & (hour < 16), 6, 2)).astype(float)


def history(weeks: int) -> np.ndarray:
    return MONDAY - weeks * 168 * H + H * np.arange(weeks * 168)


def test_hour_of_week_is_local() -> None:
    assert hour_of_week([MONDAY, MONDAY + 8 * H, MONDAY - H], "Europe/Oslo").tolist() == [
        0, 8, 167]
    assert hour_of_week([MONDAY], "UTC").tolist() == [167 - 0]  # Sunday 23:00 UTC


def test_a_clean_weekly_pattern_is_recovered_exactly() -> None:
    hours = history(4)
    f = forecast_series(hours, pattern(hour_of_week(hours, "Europe/Oslo")), MONDAY)
    expected = pattern(np.arange(168))
    assert f.weeks == 4
    np.testing.assert_allclose(f.mean, expected)
    assert f.plan.tolist() == expected.astype(int).tolist()
    assert f.hours[0] == MONDAY and f.hours[-1] == MONDAY + 167 * H


def test_noise_is_smoothed_and_the_plan_covers_most_hours() -> None:
    rng = np.random.default_rng(3)
    hours = history(8)
    truth = pattern(hour_of_week(hours, "Europe/Oslo"))
    y = np.maximum(0, truth + rng.integers(-1, 2, size=truth.size))
    f = forecast_series(hours, y, MONDAY, alpha=0.3, quantile=0.9)
    expected = pattern(np.arange(168))
    assert np.abs(f.mean - expected).mean() < 0.5
    nxt = np.maximum(0, expected + rng.integers(-1, 2, size=168))
    assert (nxt <= f.plan).mean() >= 0.85


def test_missing_hours_are_not_zero_demand() -> None:
    hours = history(3)
    y = pattern(hour_of_week(hours, "Europe/Oslo"))
    keep = np.ones(hours.size, bool)
    keep[168 + 8:168 + 16] = False  # the rollup missed Monday 08-16 of the middle week
    f = forecast_series(hours[keep], y[keep], MONDAY)
    assert f.mean[8:16].tolist() == [6.0] * 8


@pytest.mark.parametrize(("kw", "name"), [({"alpha": 0.0}, "alpha"), ({"quantile": 1.0},
                                          "quantile"), ({"horizon_h": 0}, "horizon_h")])
def test_bad_arguments_are_named(kw: dict[str, float], name: str) -> None:
    with pytest.raises(ValueError, match=f"^{name}:"):
        forecast_series([0.0], [1.0], H, **kw)  # type: ignore[arg-type]


def test_forecast_end_to_end_from_stays_through_the_rollup(tmp_path: Path) -> None:
    """Three weeks of stays: pumps 1-6 of Kirurgi 1A, pump i in a patient room whenever the
    pattern needs at least i; the forecast of the next week is the pattern."""
    site = load_sample_site()
    store = open_store(f"sqlite:///{tmp_path / 'f.db'}")
    store.upgrade()
    try:
        store.upsert_assets([Asset(f"IP-{i}", f"Pump {i}", type="infusion-pump",
                                   department="Kirurgi 1A", tags=(f"t{i}",))
                             for i in range(1, 7)], at=0.0)
        hours = history(3)
        need = pattern(hour_of_week(hours, "Europe/Oslo"))
        stays = []
        for i in range(1, 7):
            room = None
            start = hours[0]
            for h, n in zip(hours.tolist(), need.tolist(), strict=True):
                here = "A1.101" if n >= i else "A1.115"
                if here != room:
                    if room is not None:
                        stays.append(StayRecord(f"t{i}", f"IP-{i}", site.id, "A1", room,
                                                start, h, 0.9))
                    room, start = here, h
            assert room is not None
            stays.append(StayRecord(f"t{i}", f"IP-{i}", site.id, "A1", room, start, MONDAY,
                                    0.9))
        store.write(WriteBatch(stays=stays))
        refresh_rollup(store, StateRules.for_site(site), hours[0], MONDAY, now=MONDAY)
        rows = forecast(store, weeks=3, now=MONDAY - 1.0)
        assert [(r.type, r.department, r.weeks) for r in rows] == [
            ("infusion-pump", None, 3), ("infusion-pump", "Kirurgi 1A", 3)]
        assert list(rows[1].plan) == pattern(np.arange(168)).astype(int).tolist()
        assert rows[1].peak_plan == 6 and rows[1].peak_at == MONDAY + 8 * H
    finally:
        store.close()


def row(dept: str, plan: list[int]) -> ForecastRow:
    hours = tuple(MONDAY + H * np.arange(len(plan)))
    return ForecastRow("infusion-pump", dept, 4, hours, tuple(map(float, plan)), tuple(plan))


def test_moves_go_from_surplus_to_shortage_before_it_starts() -> None:
    rows = [row("Medisin 3A", [2] * 24),
            row("Kirurgi 1A", [1] * 7 + [5] * 10 + [1] * 7),
            row("Nevrologi 2A", [3] * 24)]
    held = {("infusion-pump", "Medisin 3A"): Holding(available=6, in_use=2),
            ("infusion-pump", "Kirurgi 1A"): Holding(available=1, in_use=1),
            ("infusion-pump", "Nevrologi 2A"): Holding(available=0, in_use=3)}
    (move,) = suggest_moves(rows, held, tz="Europe/Oslo")
    assert (move.from_department, move.to_department, move.units) == (
        "Medisin 3A", "Kirurgi 1A", 3)
    assert (move.need, move.holds, move.before) == (5, 2, MONDAY + 7 * H)
    assert move.text_en == ("Move 3 infusion pumps from Medisin 3A to Kirurgi 1A before"
                            " 07:00 Monday.")
    assert move.text_no == ("Flytt 3 infusjonspumper fra Medisin 3A til Kirurgi 1A før"
                            " kl. 07:00 mandag.")


def test_only_available_units_move_and_several_sources_share_a_shortage() -> None:
    rows = [row("A", [8] * 3), row("B", [1] * 3), row("C", [1] * 3)]
    held = {("infusion-pump", "A"): Holding(0, 3),
            ("infusion-pump", "B"): Holding(available=2, in_use=5),  # surplus 6, 2 movable
            ("infusion-pump", "C"): Holding(available=4, in_use=0),  # surplus 3
            ("infusion-pump", "D"): Holding(available=1, in_use=0)}  # no demand history
    moves = suggest_moves(rows, held)
    # C (movable surplus 3) gives all it can, then B (2 movable); D is not needed.
    assert [(m.from_department, m.to_department, m.units) for m in moves] == [
        ("B", "A", 2), ("C", "A", 3)]


def test_no_moves_without_a_surplus() -> None:
    rows = [row("A", [4]), row("B", [2])]
    held = {("infusion-pump", "A"): Holding(1, 1), ("infusion-pump", "B"): Holding(0, 2)}
    assert suggest_moves(rows, held) == []


def test_holdings_count_available_and_in_use_now(tmp_path: Path) -> None:
    site = load_sample_site()
    store = open_store(f"sqlite:///{tmp_path / 'h.db'}")
    store.upgrade()
    now = MONDAY
    try:
        store.upsert_assets([
            Asset("IP-1", "1", type="infusion-pump", department="Kirurgi 1A", tags=("t1",)),
            Asset("IP-2", "2", type="infusion-pump", department="Kirurgi 1A", tags=("t2",)),
            Asset("IP-3", "3", type="infusion-pump", department="Kirurgi 1A", tags=("t3",)),
            Asset("IP-4", "4", type="infusion-pump", department="Kirurgi 1A", tags=("t4",),
                  status="in_repair"),
        ], at=0.0)
        store.write(WriteBatch(fixes=[fix_in(site, "A1.115", "t1", "IP-1", now - 10),
                                      fix_in(site, "A1.101", "t2", "IP-2", now - 10),
                                      fix_in(site, "A1.111", "t3", "IP-3", now - 10),
                                      fix_in(site, "A1.115", "t4", "IP-4", now - 10)]))
        held = holdings(store, site, now=now)
        assert held == {("infusion-pump", "Kirurgi 1A"): Holding(available=1, in_use=1)}
    finally:
        store.close()


def test_forecast_command(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from tracker.cli import main

    url = f"sqlite:///{tmp_path / 'c.db'}"
    assert main(["report", "forecast", "--database", url, "--moves"]) == 0
    assert capsys.readouterr().out.splitlines() == [
        "type,units,from_department,to_department,before,need,holds,text_en,text_no"]
    assert main(["report", "forecast", "--database", url, "--weeks", "0"]) == 2
    assert "--weeks: must be 1-52" in capsys.readouterr().err



def three_departments(tmp_path: Path) -> str:
    """Kirurgi 1A (A) keeps 3 pumps in use for two weeks and holds 2 usable now (one in the
    dirty utility): short by 1. Medisin 3A (B) keeps 3 in use and holds exactly 3, all in
    storage now: nothing to spare. Lager (C) never used its 2 pumps: both can move."""
    import time

    site = load_sample_site()
    url = f"sqlite:///{tmp_path / 'd.db'}"
    store = open_store(url)
    store.upgrade()
    now = time.time()
    t0 = now - 15 * 86_400.0
    depts = {"a": "Kirurgi 1A", "b": "Medisin 3A", "c": "Lager"}
    try:
        store.upsert_assets([Asset(f"{p}{i}", f"{p}{i}", type="infusion-pump", department=d,
                                   tags=(f"t{p}{i}",))
                             for p, d in depts.items() for i in range(3 if p != "c" else 2)],
                            at=0.0)
        stays = [StayRecord(f"t{p}{i}", f"{p}{i}", site.id, "A1", "A1.101", t0, now - 120.0,
                            0.9) for p in "ab" for i in range(3)]
        fixes = [fix_in(site, "A1.101", "ta0", "a0", now - 60),
                 fix_in(site, "A1.101", "ta1", "a1", now - 60),
                 fix_in(site, "A1.111", "ta2", "a2", now - 60),
                 *(fix_in(site, "A1.115", f"tb{i}", f"b{i}", now - 60) for i in range(3)),
                 *(fix_in(site, "A1.115", f"tc{i}", f"c{i}", now - 60) for i in range(2))]
        store.write(WriteBatch(stays=stays, fixes=fixes))
        refresh_rollup(store, StateRules.for_site(site), t0, now, now=now)
    finally:
        store.close()
    return url


def test_a_department_filter_still_weighs_the_other_departments(tmp_path: Path) -> None:
    """Filtering by department must not make the others look idle: B needs all it holds, so
    A's pump comes from C, with or without the filter (it used to come from B)."""
    site = load_sample_site()
    store = open_store(three_departments(tmp_path))
    try:
        rows, moves = forecast_with_moves(store, site, weeks=2, tz="Europe/Oslo")
        assert [(m.from_department, m.to_department, m.units) for m in moves] == [
            ("Lager", "Kirurgi 1A", 1)]
        assert {r.department for r in rows} == {None, "Kirurgi 1A", "Medisin 3A", "Lager"}
        rows, moves_a = forecast_with_moves(store, site, weeks=2, department="Kirurgi 1A")
        assert moves_a == moves
        assert [r.department for r in rows] == ["Kirurgi 1A"] and rows[0].peak_plan == 3
        rows, moves_b = forecast_with_moves(store, site, weeks=2, department="Medisin 3A")
        assert moves_b == [] and [r.department for r in rows] == ["Medisin 3A"]
    finally:
        store.close()


def test_forecast_command_department_and_json(tmp_path: Path,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    import orjson

    from tracker.cli import main

    url = three_departments(tmp_path)
    assert main(["report", "forecast", "--database", url, "--weeks", "2", "--moves",
                 "--department", "Kirurgi 1A"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert [line.split(",")[:4] for line in lines[1:]] == [
        ["infusion-pump", "1", "Lager", "Kirurgi 1A"]]
    # JSON: one object per group with its hourly records (numpy scalars once broke this).
    assert main(["report", "forecast", "--database", url, "--weeks", "2", "--format", "json",
                 "--department", "Medisin 3A"]) == 0
    doc = orjson.loads(capsys.readouterr().out)
    (row,) = doc["rows"]
    assert (row["department"], row["peak_plan"], len(row["hours"])) == ("Medisin 3A", 3, 168)
    assert set(row["hours"][0]) == {"type", "department", "hour", "mean", "plan"}
    assert doc["meta"]["moves"] == []
