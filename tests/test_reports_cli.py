"""``sporing report``: CSV (UTF-8, header row) and JSON, refresh, and precise usage errors."""

from __future__ import annotations

import csv
import datetime as dt
import io
import time
from pathlib import Path

import orjson
import pytest

from floorplans.sample import load_sample_site
from tracker.assets import Asset
from tracker.cli import main
from tracker.records import FixRecord, StayRecord, WriteBatch
from tracker.reports.commands import parse_when
from tracker.store import open_store

H = 3600.0


@pytest.fixture
def db(tmp_path: Path) -> str:
    """An SQLite store with two pumps in the sample hospital over the last two days."""
    site = load_sample_site()
    patient = next(r for r in site.rooms if r.category == "patient_room")
    storage = next(r for r in site.rooms if r.category == "equipment_storage")
    url = f"sqlite:///{tmp_path / 'r.db'}"
    store = open_store(url)
    store.upgrade()
    today = dt.date.today()
    store.upsert_assets([
        Asset("pump-1", "Infusjonspumpe 1", type="infusion-pump", department="Medisin 3A",
              tags=("t1",), next_maintenance=today),
        Asset("pump-2", "Infusjonspumpe 2", type="infusion-pump", department="Medisin 3A",
              tags=("t2",)),
    ], at=0.0)
    now = time.time()
    t0 = now - 2 * 86_400.0
    store.write(WriteBatch(
        fixes=[FixRecord(now - 60, "t1", "pump-1", site.id, "A", storage.level, storage.id,
                         1.0, 1.0, 1.0, 0.9, False)],
        stays=[StayRecord("t1", "pump-1", site.id, patient.level, patient.id, t0, t0 + 12 * H,
                          0.9),
               StayRecord("t1", "pump-1", site.id, storage.level, storage.id, t0 + 12 * H,
                          None, 0.9)]))
    store.close()
    return url


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out = capsys.readouterr()
    return code, out.out, out.err


def test_refresh_then_utilization_csv(db: str, capsys: pytest.CaptureFixture[str]) -> None:
    start = (dt.date.today() - dt.timedelta(days=3)).isoformat()
    code, out, _ = run(capsys, "report", "refresh", "--database", db, "--from", start)
    assert code == 0 and "refreshed 2 asset(s)" in out
    code, out, err = run(capsys, "report", "utilization", "--database", db, "--from", start,
                         "--to", dt.date.today().isoformat(), "--by", "asset")
    assert code == 0, err
    rows = list(csv.DictReader(io.StringIO(out)))
    assert [r["asset"] for r in rows] == ["pump-1", "pump-2"]
    assert float(rows[0]["hours_in_use"]) == pytest.approx(12.0, abs=0.01)
    assert rows[1]["pct_not_seen"] == "100.0"
    assert out.splitlines()[0].startswith("period,period_start,asset,type,department,hours,")


def test_utilization_json_and_fleet(db: str, capsys: pytest.CaptureFixture[str]) -> None:
    start = (dt.date.today() - dt.timedelta(days=3)).isoformat()
    assert run(capsys, "report", "refresh", "--database", db, "--from", start)[0] == 0
    code, out, _ = run(capsys, "report", "utilization", "--database", db, "--from", start,
                       "--to", dt.date.today().isoformat(), "--format", "json")
    doc = orjson.loads(out)
    assert doc["meta"]["report"] == "utilization"
    assert [r["type"] for r in doc["rows"]] == ["infusion-pump"]
    code, out, _ = run(capsys, "report", "fleet", "--database", db, "--from", start,
                       "--to", dt.date.today().isoformat(), "--department", "Medisin 3A")
    assert code == 0
    (row,) = list(csv.DictReader(io.StringIO(out)))
    assert (row["owned"], row["peak"]) == ("2", "1")
    assert row["recommendation_en"].startswith("2 infusion pumps owned in Medisin 3A;")
    assert "infusjonspumper" in row["recommendation_no"]


def test_worklists_csv_header_and_utf8(db: str, tmp_path: Path,
                                       capsys: pytest.CaptureFixture[str]) -> None:
    out_file = tmp_path / "m.csv"
    code, _, _ = run(capsys, "report", "maintenance", "--database", db, "-o", str(out_file))
    assert code == 0
    rows = list(csv.DictReader(io.StringIO(out_file.read_bytes().decode("utf-8"))))
    assert [(r["asset"], r["collectable"], r["state"]) for r in rows] == [
        ("pump-1", "true", "available")]
    code, out, _ = run(capsys, "report", "missing", "--database", db, "--hours", "1")
    rows = list(csv.DictReader(io.StringIO(out)))
    assert [(r["asset"], r["last_seen"], r["last_gateway"]) for r in rows] == [
        ("pump-2", "", "")]
    code, out, _ = run(capsys, "report", "idle", "--database", db, "--days", "30")
    assert code == 0 and out.strip() == ",".join(
        ["asset", "name", "type", "department", "level", "room", "room_name", "state", "since",
         "idle_days"])
    code, out, _ = run(capsys, "report", "missing", "--database", db, "--hours", "1",
                       "--format", "json")
    assert orjson.loads(out)["rows"][0]["last_gateway"] is None


@pytest.mark.parametrize(("argv", "message"), [
    (["utilization", "--from", "yesterday", "--to", "2025-11-02"], "--from:"),
    (["utilization", "--from", "2025-11-03", "--to", "2025-11-02"], "--to: must be after"),
    (["fleet", "--from", "2025-11-01", "--to", "2025-11-02", "--tz", "Mars/Base"], "--tz:"),
    (["maintenance", "--start-room", "nowhere"], "--start-room: unknown room"),
    (["idle", "--days", "-3"], "--days:"),
    (["refresh", "--state", "office=broken"], "--state: states.office:"),
    (["refresh", "--state", "office"], "--state: 'office' is not CATEGORY=STATE"),
])
def test_usage_errors_name_the_option(db: str, capsys: pytest.CaptureFixture[str],
                                      argv: list[str], message: str) -> None:
    code, _, err = run(capsys, "report", *argv, "--database", db)
    assert code == 2 and f"error: {message}" in err


def test_no_database_is_a_usage_error(capsys: pytest.CaptureFixture[str],
                                      monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SPORING_DATABASE_URL", raising=False)
    code, _, err = run(capsys, "report", "missing")
    assert code == 2 and "no database" in err


def test_parse_when_local_dates_and_times() -> None:
    assert parse_when("2025-11-26", "Europe/Oslo") == 1_764_111_600.0
    assert parse_when("2025-11-26", "Europe/Oslo", end=True) == 1_764_111_600.0 + 86_400
    assert parse_when("2025-11-26T08:30", "Europe/Oslo") == 1_764_111_600.0 + 8.5 * H
    assert parse_when("2025-11-26T08:30+00:00", "Europe/Oslo") == 1_764_145_800.0
    with pytest.raises(ValueError, match="not a date"):
        parse_when("26/11/2025", "Europe/Oslo")
