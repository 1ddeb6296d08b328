"""The report API on an SQLite store with hand-built stays and known answers: every endpoint
needs role biomed, JSON and CSV agree with the stays, bad windows and parameters are 422s
naming the field."""

from __future__ import annotations

import csv
import datetime as dt
import io
from collections.abc import Iterator
from zoneinfo import ZoneInfo

import pytest
from fastapi.testclient import TestClient

from floorplans.sample import load_sample_site
from tests.authutil import bearer
from tests.browser.harness import fix_in
from tracker.api.state import AppState
from tracker.app import create_app
from tracker.assets import Asset
from tracker.records import StayRecord, WriteBatch
from tracker.reports.rollup import refresh_rollup
from tracker.reports.states import StateRules
from tracker.store import open_store

H = 3600.0
OSLO = ZoneInfo("Europe/Oslo")
SITE = load_sample_site()
PATIENT, STORAGE, DIRTY = "A1.101", "A1.115", "A1.111"  # Kirurgi 1A, level A1
DAY = dt.date(2025, 11, 26)
D0 = dt.datetime(2025, 11, 26, tzinfo=OSLO).timestamp()
NOW = dt.datetime.now(dt.UTC).timestamp()
REPORTS = ("utilization", "fleet", "rooms", "idle", "missing", "maintenance", "forecast")


def rows_of(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text)))


@pytest.fixture(scope="module")
def state(tmp_path_factory: pytest.TempPathFactory) -> AppState:
    """Two pumps of Kirurgi 1A: IP-1 in a patient room 08-14 on 26 November (25 % in use)
    and in storage otherwise; IP-2 in storage all day, then in the dirty utility now, due for
    maintenance in 3 days; MON-1 last seen 30 h ago."""
    url = f"sqlite:///{tmp_path_factory.mktemp('reports') / 'r.db'}"
    store = open_store(url)
    store.upgrade()
    today = dt.datetime.fromtimestamp(NOW, OSLO).date()
    store.upsert_assets([
        Asset("IP-1", "Pump 1", type="infusion-pump", department="Kirurgi 1A", tags=("t1",)),
        Asset("IP-2", "Pump 2", type="infusion-pump", department="Kirurgi 1A", tags=("t2",),
              next_maintenance=today + dt.timedelta(days=3)),
        Asset("MON-1", "Monitor 1", type="patient-monitor", department="Medisin 3A",
              tags=("t3",)),
    ], at=0.0)
    store.write(WriteBatch(stays=[
        StayRecord("t1", "IP-1", SITE.id, "A1", STORAGE, D0 - 5 * H, D0 + 8 * H, 0.9),
        StayRecord("t1", "IP-1", SITE.id, "A1", PATIENT, D0 + 8 * H, D0 + 14 * H, 0.9),
        StayRecord("t1", "IP-1", SITE.id, "A1", STORAGE, D0 + 14 * H, D0 + 30 * H, 0.9),
        StayRecord("t2", "IP-2", SITE.id, "A1", STORAGE, D0 - 5 * H, D0 + 30 * H, 0.9),
    ], fixes=[fix_in(SITE, STORAGE, "t1", "IP-1", NOW - 60),
              fix_in(SITE, DIRTY, "t2", "IP-2", NOW - 60),
              fix_in(SITE, PATIENT, "t3", "MON-1", NOW - 30 * H, gateway="gw-1-3")]))
    refresh_rollup(store, StateRules.for_site(SITE), D0 - H, D0 + 30 * H, now=D0 + 30 * H)
    refresh_rollup(store, StateRules.for_site(SITE), NOW - 13 * 86_400, NOW, now=NOW)
    store.close()
    return AppState(site=SITE, database_url=url)


@pytest.fixture(scope="module")
def client(state: AppState) -> Iterator[TestClient]:
    with TestClient(create_app(state)) as c:
        c.headers.update(bearer(state, "biomed"))
        yield c


@pytest.mark.parametrize("report", REPORTS)
def test_every_report_needs_a_biomed(state: AppState, client: TestClient, report: str) -> None:
    url = f"/api/v1/reports/{report}"
    assert client.get(url, headers={"Authorization": ""}).status_code == 401
    assert client.get(url, headers=bearer(state, "porter")).status_code == 403
    assert client.get(url, headers=bearer(state, "admin")).status_code == 200
    r = client.get(url, params={"format": "csv"})
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("text/csv")
    assert f'filename="sporing-{report}-' in r.headers["content-disposition"]
    assert r.text.splitlines()[0]  # a header row even when empty


def test_every_report_is_in_the_openapi_document(client: TestClient) -> None:
    paths = client.get("/openapi.json").json()["paths"]
    for report in (*REPORTS, "groups"):
        assert f"/api/v1/reports/{report}" in paths


def test_utilization_pump_in_patient_room_6_of_24_hours_is_25_percent(
        client: TestClient) -> None:
    q = {"from": DAY.isoformat(), "to": DAY.isoformat(), "by": "asset",
         "type": "infusion-pump"}
    body = client.get("/api/v1/reports/utilization", params=q).json()
    assert body["meta"]["from"] == "2025-11-26T00:00:00+01:00"
    assert body["meta"]["to"] == "2025-11-27T00:00:00+01:00"
    by_asset = {r["asset"]: r for r in body["rows"]}
    assert by_asset["IP-1"]["pct"]["in_use"] == 25.0
    assert by_asset["IP-1"]["pct"]["available"] == 75.0
    assert by_asset["IP-1"]["uses"] == 1 and by_asset["IP-1"]["mean_use_min"] == 360.0
    assert by_asset["IP-2"]["pct"]["available"] == 100.0 and by_asset["IP-2"]["uses"] == 0

    csv_rows = rows_of(client.get("/api/v1/reports/utilization",
                                  params={**q, "format": "csv"}).text)
    ip1 = next(r for r in csv_rows if r["asset"] == "IP-1")
    assert (ip1["hours"], ip1["pct_in_use"], ip1["hours_in_use"], ip1["uses"]) == (
        "24.0", "25.0", "6.0", "1")
    by_type = client.get("/api/v1/reports/utilization",
                         params={**q, "by": "type", "format": "csv"}).text
    assert rows_of(by_type)[0]["pct_in_use"] == "12.5"  # 6 of 48 pump-hours


def test_fleet_counts_owned_and_concurrent_use(client: TestClient) -> None:
    q = {"from": DAY.isoformat(), "to": DAY.isoformat(), "type": "infusion-pump",
         "department": "Kirurgi 1A"}
    body = client.get("/api/v1/reports/fleet", params=q).json()
    (row,) = body["rows"]
    assert (row["owned"], row["peak"], row["hours"]) == (2, 1, 24)
    assert row["by_hour"]["peak"][8:14] == [1] * 6 and row["by_hour"]["peak"][14] == 0
    assert "2 infusion pumps owned in Kirurgi 1A" in row["recommendation"]["en"]
    assert "infusjonspumper" in row["recommendation"]["no"]
    (line,) = rows_of(client.get("/api/v1/reports/fleet", params={**q, "format": "csv"}).text)
    assert (line["owned"], line["peak"], line["peak_h09"], line["peak_h15"]) == (
        "2", "1", "1", "0")


def test_rooms_give_hours_per_room(client: TestClient) -> None:
    q = {"from": DAY.isoformat(), "to": DAY.isoformat(), "type": "infusion-pump"}
    body = client.get("/api/v1/reports/rooms", params=q).json()
    hours = {r["room"]: r["hours"] for r in body["rows"]}
    assert hours == {STORAGE: 42.0, PATIENT: 6.0}
    assert body["rows"][1]["share_pct"] == 12.5 and body["rows"][0]["level"] == "A1"
    assert client.get("/api/v1/reports/rooms", params={**q, "level": "A2"}).json()["rows"] == []


def test_worklists(client: TestClient) -> None:
    missing = client.get("/api/v1/reports/missing", params={"hours": 24}).json()["rows"]
    assert [r["asset"] for r in missing] == ["MON-1"]
    assert missing[0]["room"] == PATIENT and 29.9 < missing[0]["hours_missing"] < 30.2
    (line,) = rows_of(client.get("/api/v1/reports/missing",
                                 params={"hours": 24, "format": "csv"}).text)
    assert (line["asset"], line["room_name"], line["last_gateway"]) == (
        "MON-1", "Sengerom 1.101", "gw-1-3")
    assert missing[0]["last_gateway"] == "gw-1-3"

    due = client.get("/api/v1/reports/maintenance", params={"days": 7}).json()["rows"]
    assert [(r["asset"], r["days_left"], r["state"], r["collectable"]) for r in due] == [
        ("IP-2", 3, "needs_cleaning", True)]
    assert client.get("/api/v1/reports/maintenance", params={"days": 2}).json()["rows"] == []

    idle = client.get("/api/v1/reports/idle", params={"days": 0}).json()["rows"]
    assert idle == []  # no open stays: nothing is sitting in a room


def test_forecast_endpoint_answers_for_each_group(client: TestClient) -> None:
    body = client.get("/api/v1/reports/forecast", params={"type": "infusion-pump"}).json()
    assert {(r["type"], r["department"]) for r in body["rows"]} == {
        ("infusion-pump", None), ("infusion-pump", "Kirurgi 1A")}
    for r in body["rows"]:
        assert len(r["hours"]) == len(r["plan"]) == len(r["mean"]) == 168
        assert r["weeks"] == 2 and r["peak_plan"] == 0  # nothing in use in the last 13 days
    assert body["moves"] == []
    lines = rows_of(client.get("/api/v1/reports/forecast",
                               params={"type": "infusion-pump", "format": "csv"}).text)
    assert len(lines) == 2 * 168 and set(lines[0]) == {"type", "department", "hour", "mean",
                                                       "plan"}


def test_groups_list_types_and_departments(client: TestClient) -> None:
    assert client.get("/api/v1/reports/groups").json() == {
        "types": ["infusion-pump", "patient-monitor"],
        "departments": ["Kirurgi 1A", "Medisin 3A"]}


@pytest.mark.parametrize(("params", "field"), [
    ({"from": "2025-11-27", "to": "2025-11-26"}, "to"),
    ({"from": "2025-11-26T10:00", "to": "2025-11-26T10:00"}, "to"),
    ({"from": "2024-01-01", "to": "2025-11-26"}, "to"),
    ({"from": "26.11.2025"}, "from"),
    ({"to": "tomorrow"}, "to"),
    ({"tz": "Mars/Olympus"}, "tz"),
    ({"period": "year"}, "period"),
    ({"by": "room"}, "by"),
    ({"format": "xml"}, "format"),
])
def test_bad_windows_and_parameters_name_the_field(client: TestClient,
                                                   params: dict[str, str], field: str) -> None:
    r = client.get("/api/v1/reports/utilization", params=params)
    assert r.status_code == 422, r.text
    assert [e["loc"] for e in r.json()["detail"]] == [["query", field]]


@pytest.mark.parametrize(("url", "params", "field"), [
    ("rooms", {"level": "Z9"}, "level"),
    ("maintenance", {"start_room": "nowhere"}, "start_room"),
    ("maintenance", {"days": -1}, "days"),
    ("missing", {"hours": "many"}, "hours"),
    ("idle", {"days": -2}, "days"),
    ("fleet", {"shortage_min": 7200}, "shortage_min"),
    ("forecast", {"weeks": 0}, "weeks"),
    ("forecast", {"quantile": 1.5}, "quantile"),
])
def test_bad_report_parameters_name_the_field(client: TestClient, url: str,
                                              params: dict[str, object], field: str) -> None:
    r = client.get(f"/api/v1/reports/{url}", params=params)
    assert r.status_code == 422, r.text
    assert [e["loc"] for e in r.json()["detail"]] == [["query", field]]


def test_a_year_across_a_dst_change_is_allowed(client: TestClient) -> None:
    r = client.get("/api/v1/reports/utilization",
                   params={"from": "2024-11-26", "to": "2025-11-25"})
    assert r.status_code == 200, r.text
