"""The porter lookup HTTP API on an SQLite store: assets, types, rooms, nearest, GeoJSON, live
updates (SSE) and tag commissioning, with real tokens from the app's auth service."""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import orjson
import pytest
from fastapi.testclient import TestClient

from floorplans.model import Site
from floorplans.sample import load_sample_site
from tests.authutil import bearer
from tracker.api.live import LiveSettings, event_stream, live_settings
from tracker.api.state import AppState
from tracker.app import create_app
from tracker.assets import Asset
from tracker.records import FixRecord, WriteBatch
from tracker.store import open_store
from tracker.store.base import Store

TAG = {i: f"ac233f0000{i:02x}" for i in range(1, 10)}


@pytest.fixture(scope="module")
def site() -> Site:
    return load_sample_site()


def fix_in(site: Site, tag: str, room: str, asset: str | None, ts: float,
           dx: float = 0.0) -> FixRecord:
    r = site.room(room)
    p = r.polygon.representative_point()
    return FixRecord(ts=ts, tag=tag, asset=asset, site=site.id, building=r.level[0],
                     level=r.level, room=room, x=round(p.x + dx, 3), y=round(p.y, 3),
                     accuracy_m=1.5, room_confidence=0.9, moving=False)


@pytest.fixture
def app_state(site: Site, tmp_path: Path) -> AppState:
    url = f"sqlite:///{tmp_path / 'lookup.db'}"
    store = open_store(url)
    store.upgrade()
    now = time.time()
    store.upsert_assets([
        Asset("pump-1", "Infusjonspumpe 1", type="infusion_pump", model="Volumat",
              serial="SN-0001", department="Medisin 3B", tags=(TAG[1],),
              next_maintenance=dt.date(2027, 3, 1)),
        Asset("pump-2", "Infusjonspumpe 2", type="infusion_pump", serial="SN-0002",
              department="Medisin 3A", tags=(TAG[2],)),
        Asset("pump-3", "Infusjonspumpe 3", type="infusion_pump", status="in_repair",
              tags=(TAG[3],)),
        Asset("pump-4", "Infusjonspumpe 4", type="infusion_pump", tags=(TAG[4],)),
        Asset("pump-5", "Infusjonspumpe 5", type="infusion_pump", tags=(TAG[5],)),
        Asset("pump-6", "Infusjonspumpe 6", type="infusion_pump"),
        Asset("bed-1", "Seng 1", type="bed", barcode="BØRRE-77", tags=(TAG[6],)),
    ], at=now - 86400)
    store.write(WriteBatch(fixes=[
        fix_in(site, TAG[1], "A3.113", "pump-1", now - 1800),   # earlier, for the trail
        fix_in(site, TAG[1], "A3.215", "pump-1", now - 5),      # storage, next door
        fix_in(site, TAG[2], "A2.214", "pump-2", now - 5),      # clean utility, a floor down
        fix_in(site, TAG[3], "A3.211", "pump-3", now - 5),      # storage but in repair
        fix_in(site, TAG[4], "A3.215", "pump-4", now - 7200),   # storage but not seen for 2 h
        fix_in(site, TAG[5], "A3.216", "pump-5", now - 5),      # patient room: in use
        fix_in(site, TAG[6], "A3.215", "bed-1", now - 5),
        fix_in(site, TAG[9], "A3.215", None, now - 5),          # an unpaired tag
    ]))
    store.close()
    return AppState(site=site, database_url=url)


@pytest.fixture
def client(app_state: AppState) -> Iterator[TestClient]:
    with TestClient(create_app(app_state)) as c:
        c.headers.update(bearer(app_state, "porter"))
        yield c


def store_of(state: AppState) -> Store:
    assert state.store is not None
    return state.store


def field_at_fault(r: Any) -> list[Any]:
    assert r.status_code == 422, r.text
    return [e["loc"] for e in r.json()["detail"]]


# ----------------------------------------------------------------------------- auth
def test_every_read_endpoint_needs_a_porter(app_state: AppState) -> None:
    with TestClient(create_app(app_state)) as c:
        for path in ("/api/v1/assets", "/api/v1/assets/pump-1", "/api/v1/assets/pump-1/trail",
                     "/api/v1/assets/pump-1/location", "/api/v1/types", "/api/v1/rooms",
                     "/api/v1/rooms/A3.215/contents", "/api/v1/locations", "/api/v1/levels",
                     "/api/v1/gateways", "/api/v1/floorplans/A3.svg",
                     "/api/v1/floorplans/A3.geojson", "/api/v1/live?level=A3",
                     "/api/v1/nearest?type=infusion_pump&from_room=A3.214"):
            r = c.get(path)
            assert r.status_code == 401, path
            assert r.headers["www-authenticate"] == "Bearer"
        assert c.get("/healthz").status_code == 200
        assert c.get("/readyz").status_code == 200


# ----------------------------------------------------------------------------- assets
def test_asset_search_pages_and_filters(client: TestClient) -> None:
    r = client.get("/api/v1/assets?limit=3").json()
    assert (r["total"], r["limit"], r["offset"]) == (7, 3, 0)
    assert [a["id"] for a in r["items"]] == ["bed-1", "pump-1", "pump-2"]
    r = client.get("/api/v1/assets?limit=3&offset=6").json()
    assert [a["id"] for a in r["items"]] == ["pump-6"] and r["items"][0]["location"] is None
    assert r["items"][0]["state"] == "not_seen"
    assert [a["id"] for a in client.get("/api/v1/assets?q=sn-0002").json()["items"]] == [
        "pump-2"]
    assert [a["id"] for a in client.get("/api/v1/assets?q=børre").json()["items"]] == [
        "bed-1"]
    assert client.get("/api/v1/assets?type=Infusion-Pump").json()["total"] == 6
    assert client.get("/api/v1/assets?type=ventilator").json()["total"] == 0
    assert [a["id"] for a in client.get("/api/v1/assets?status=in_repair").json()[
        "items"]] == ["pump-3"]
    assert [a["id"] for a in client.get("/api/v1/assets?department=Medisin 3B").json()[
        "items"]] == ["pump-1"]


def test_asset_search_by_state(client: TestClient) -> None:
    def ids(query: str) -> list[str]:
        return [a["id"] for a in client.get(f"/api/v1/assets?{query}").json()["items"]]

    assert ids("state=available") == ["bed-1", "pump-1", "pump-2"]
    assert ids("state=available&type=infusion_pump") == ["pump-1", "pump-2"]
    assert ids("state=available&q=infusjon&limit=1&offset=1") == ["pump-2"]
    assert client.get("/api/v1/assets?state=available&limit=1").json()["total"] == 3
    assert ids("state=out_of_service") == ["pump-3"]
    assert ids("state=not_seen") == ["pump-4", "pump-6"]
    assert ids("state=in_use") == ["pump-5"]


@pytest.mark.parametrize(("query", "field"), [
    ("state=broken", "state"), ("status=gone", "status"), ("limit=0", "limit"),
    ("limit=1000", "limit"), ("offset=-1", "offset"), ("q=" + "x" * 300, "q"),
])
def test_bad_asset_queries_name_the_field(client: TestClient, query: str, field: str) -> None:
    assert field_at_fault(client.get(f"/api/v1/assets?{query}")) == [["query", field]]


def test_one_asset_with_state_and_location(client: TestClient) -> None:
    a = client.get("/api/v1/assets/pump-1").json()
    assert a["state"] == "available" and a["tags"] == [TAG[1]]
    assert a["next_maintenance"] == "2027-03-01" and a["model"] == "Volumat"
    loc = a["location"]
    assert loc["room"] == "A3.215" and loc["room_category"] == "equipment_storage"
    assert loc["room_name"] == "Lager medisinsk utstyr 3.215" and loc["level_name"] == "Plan 3"
    assert loc["building_name"] == "A - Sengebygg" and loc["stale"] is False
    assert client.get("/api/v1/assets/pump-3").json()["state"] == "out_of_service"
    r = client.get("/api/v1/assets/nope")
    assert r.status_code == 404 and "nope" in r.json()["detail"]


def test_location_of_a_stale_asset_is_still_given(client: TestClient) -> None:
    r = client.get("/api/v1/assets/pump-4/location").json()
    assert r["room"] == "A3.215" and r["stale"] is True and r["age_s"] >= 7200
    r = client.get("/api/v1/assets/pump-1/location").json()
    assert r["stale"] is False and r["room_name"] == "Lager medisinsk utstyr 3.215"
    assert client.get(f"/api/v1/assets/{TAG[9]}/location").json()["tag"] == TAG[9]
    assert client.get("/api/v1/assets/pump-6/location").status_code == 404
    assert client.get("/api/v1/assets/nope/location").status_code == 404


def test_trail_follows_the_pairing_periods(client: TestClient, app_state: AppState) -> None:
    r = client.get("/api/v1/assets/pump-1/trail").json()
    assert r["asset"] == "pump-1" and r["truncated"] is False
    assert [i["room"] for i in r["items"]] == ["A3.113", "A3.215"]
    now = time.time()
    r = client.get(f"/api/v1/assets/pump-1/trail?from={now - 600:.0f}&to={now:.0f}").json()
    assert [i["room"] for i in r["items"]] == ["A3.215"]
    r = client.get(f"/api/v1/assets/pump-1/trail?limit=1&to={now:.0f}").json()
    assert len(r["items"]) == 1 and r["truncated"] is True
    # the tag moves to pump-2: its later fixes belong to pump-2's trail, not pump-1's
    store = store_of(app_state)
    store.pair_tag("pump-2", TAG[1], now + 1)
    store.write(WriteBatch(fixes=[fix_in(app_state.site, TAG[1], "A1.112", "pump-2", now + 2)]))
    later = f"from={now - 3600:.0f}&to={now + 10:.0f}"
    one = client.get(f"/api/v1/assets/pump-1/trail?{later}").json()["items"]
    two = client.get(f"/api/v1/assets/pump-2/trail?{later}").json()["items"]
    assert "A1.112" not in [i["room"] for i in one]
    assert [i["room"] for i in two] == ["A2.214", "A1.112"]


def test_bad_trail_windows_are_422(client: TestClient) -> None:
    now = time.time()
    assert field_at_fault(client.get(
        f"/api/v1/assets/pump-1/trail?from={now:.0f}&to={now - 1:.0f}")) == [["query", "from"]]
    assert field_at_fault(client.get(
        f"/api/v1/assets/pump-1/trail?from={now - 32 * 86400:.0f}")) == [["query", "from"]]
    assert field_at_fault(client.get("/api/v1/assets/pump-1/trail?from=nan")) == [
        ["query", "from"]]
    assert field_at_fault(client.get("/api/v1/assets/pump-1/trail?to=abc")) == [
        ["query", "to"]]
    assert client.get("/api/v1/assets/nope/trail").status_code == 404


def test_types_for_the_picker(client: TestClient) -> None:
    assert client.get("/api/v1/types").json() == [
        {"type": "bed", "count": 1, "available": 1},
        {"type": "infusion_pump", "count": 6, "available": 2},
    ]


# ----------------------------------------------------------------------------- rooms
def test_room_picker(client: TestClient) -> None:
    def ids(query: str) -> list[str]:
        r = client.get(f"/api/v1/rooms?{query}")
        assert r.status_code == 200, r.text
        return [x["id"] for x in r.json()]

    assert ids("q=a3.21")[:2] == ["A3.210", "A3.211"]
    assert ids("q=A3.214") == ["A3.214"]
    xray = client.get("/api/v1/rooms?q=RØNTGEN").json()
    assert len(xray) == 4 and all(x["name"].startswith("Røntgenlab") for x in xray)
    assert set(ids("q=oppvåkning")) == set(ids("q=OPPVÅKNING")) != set()
    assert ids("level=A3&category=equipment_storage") == ["A3.113", "A3.215"]
    assert len(ids("limit=5")) == 5
    room = client.get("/api/v1/rooms?q=A3.214").json()[0]
    assert room == {"id": "A3.214", "name": "Urent skyllerom 3.214",
                    "category": "dirty_utility", "level": "A3", "level_name": "Plan 3",
                    "building": "A", "building_name": "A - Sengebygg",
                    "department": "Medisin 3B"}
    assert client.get("/api/v1/rooms?level=Z9").status_code == 404
    assert field_at_fault(client.get("/api/v1/rooms?category=kitchen_sink")) == [
        ["query", "category"]]
    assert field_at_fault(client.get("/api/v1/rooms?limit=0")) == [["query", "limit"]]


def test_room_contents(client: TestClient) -> None:
    r = client.get("/api/v1/rooms/A3.215/contents").json()
    assert r["room"]["id"] == "A3.215" and r["count"] == 3
    assert [(a["id"], a["state"], a["location"]["stale"]) for a in r["items"]] == [
        ("bed-1", "available", False), ("pump-1", "available", False),
        ("pump-4", "not_seen", True)]
    assert client.get("/api/v1/rooms/A3.101/contents").json()["items"] == []
    assert client.get("/api/v1/rooms/Z9.999/contents").status_code == 404


# ----------------------------------------------------------------------------- nearest
def test_nearest_available_pump(client: TestClient) -> None:
    r = client.get("/api/v1/nearest?type=infusion_pump&from_room=A3.214")
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["from_room"]["id"] == "A3.214" and body["type"] == "infusion_pump"
    assert (body["total"], body["unreachable"], body["walking_speed_m_s"]) == (2, 0, 1.0)
    items = body["items"]
    assert [i["asset"]["id"] for i in items] == ["pump-1", "pump-2"]  # same level first
    assert items[0]["distance_m"] < items[1]["distance_m"]
    for i in items:
        assert i["walk_s"] == pytest.approx(i["distance_m"], abs=0.11)  # 1.0 m/s
        assert i["asset"]["state"] == "available"
        route = i["route"]
        assert route[0]["level"] == "A3" and route[-1]["level"] == i["asset"]["location"][
            "level"]
        assert (route[-1]["x"], route[-1]["y"]) == pytest.approx(
            (i["asset"]["location"]["x"], i["asset"]["location"]["y"]), abs=0.01)
    assert {p["level"] for p in items[1]["route"]} == {"A3", "A2"}
    one = client.get("/api/v1/nearest?type=Infusion-Pump&from_room=A3.214&limit=1").json()
    assert [i["asset"]["id"] for i in one["items"]] == ["pump-1"] and one["total"] == 2


def test_nearest_including_unavailable(client: TestClient) -> None:
    body = client.get("/api/v1/nearest?type=infusion_pump&from_room=A3.214&limit=10"
                      "&include_unavailable=true").json()
    got = {i["asset"]["id"]: i["asset"]["state"] for i in body["items"]}
    assert got == {"pump-1": "available", "pump-2": "available", "pump-3": "out_of_service",
                   "pump-4": "not_seen", "pump-5": "in_use"}
    assert body["total"] == 5
    dists = [i["distance_m"] for i in body["items"]]
    assert dists == sorted(dists)


def test_nearest_unknown_type_room_and_bad_input(client: TestClient) -> None:
    r = client.get("/api/v1/nearest?type=ventilator&from_room=A3.214")
    assert r.status_code == 200 and r.json()["total"] == 0 and r.json()["items"] == []
    r = client.get("/api/v1/nearest?type=infusion_pump&from_room=Z9.999")
    assert r.status_code == 404 and "Z9.999" in r.json()["detail"]
    assert field_at_fault(client.get("/api/v1/nearest?from_room=A3.214")) == [["query", "type"]]
    assert field_at_fault(client.get("/api/v1/nearest?type=&from_room=A3.214")) == [
        ["query", "type"]]
    assert field_at_fault(client.get("/api/v1/nearest?type=bed")) == [["query", "from_room"]]
    assert field_at_fault(client.get(
        "/api/v1/nearest?type=bed&from_room=A3.214&limit=0")) == [["query", "limit"]]
    assert field_at_fault(client.get(
        "/api/v1/nearest?type=bed&from_room=A3.214&include_unavailable=perhaps")) == [
        ["query", "include_unavailable"]]


# ----------------------------------------------------------------------------- plans
def test_level_geojson(client: TestClient, site: Site) -> None:
    r = client.get("/api/v1/floorplans/A3.geojson")
    assert r.status_code == 200 and r.headers["content-type"] == "application/geo+json"
    gj = r.json()
    assert gj["type"] == "FeatureCollection" and gj["level"]["id"] == "A3"
    assert [f["id"] for f in gj["features"]] == [room.id for room in site.rooms_on("A3")]
    f = next(f for f in gj["features"] if f["id"] == "A3.214")
    assert f["properties"] == {"id": "A3.214", "name": "Urent skyllerom 3.214",
                               "category": "dirty_utility", "department": "Medisin 3B"}
    ring = f["geometry"]["coordinates"][0]
    assert f["geometry"]["type"] == "Polygon" and ring[0] == ring[-1]
    minx, miny, maxx, maxy = site.room("A3.214").polygon.bounds
    assert all(minx - 0.01 <= x <= maxx + 0.01 and miny - 0.01 <= y <= maxy + 0.01
               for x, y in ring)
    assert client.get("/api/v1/floorplans/Z9.geojson").status_code == 404


# ----------------------------------------------------------------------------- live
def events(text: str) -> list[tuple[str, Any]]:
    out = []
    for block in text.split("\n\n"):
        lines = block.strip().splitlines()
        if not lines:
            continue
        if lines[0].startswith(":"):
            out.append(("comment", lines[0][1:].strip()))
            continue
        fields = dict(line.split(": ", 1) for line in lines)
        out.append((fields["event"], orjson.loads(fields["data"])))
    return out


def test_live_stream_snapshot_and_keepalive(client: TestClient) -> None:
    app = client.app
    app.dependency_overrides[live_settings] = lambda: LiveSettings(  # type: ignore[attr-defined]
        poll_s=0.01, keepalive_s=0.0, max_events=5, max_duration_s=0.05)
    with client.stream("GET", "/api/v1/live?level=A2") as r:
        assert r.status_code == 200
        assert r.headers["content-type"].startswith("text/event-stream")
        got = events(r.read().decode())
    assert got[0][0] == "snapshot" and got[0][1]["level"] == "A2"
    assert [i["tag"] for i in got[0][1]["items"]] == [TAG[2]]
    assert got[0][1]["items"][0]["room_name"] == "Rent lager 2.214"
    assert ("comment", "keepalive") in got[1:]
    assert client.get("/api/v1/live?level=Z9").status_code == 404


async def test_live_updates_carry_only_changes(site: Site) -> None:
    now = time.time()
    a = fix_in(site, "t1", "A3.215", None, now)
    b = fix_in(site, "t2", "A3.216", None, now)
    snapshots: list[Mapping[str, FixRecord]] = [
        {"t1": a, "t2": b},
        {"t1": fix_in(site, "t1", "A3.215", None, now + 1, dx=0.1), "t2": b},  # no change
        {"t1": fix_in(site, "t1", "A3.214", None, now + 2)},  # t1 moved, t2 left
    ]

    async def snapshot() -> Mapping[str, FixRecord]:
        return snapshots.pop(0) if len(snapshots) > 1 else snapshots[0]

    def render(f: FixRecord, _now: float) -> dict[str, Any]:
        return {"tag": f.tag, "room": f.room}

    chunks = [c async for c in event_stream(
        snapshot, render, LiveSettings(poll_s=0.0, keepalive_s=3600.0, max_events=2),
        level="A3")]
    got = events(b"".join(chunks).decode())
    assert got == [("snapshot", {"level": "A3", "items": [{"tag": "t1", "room": "A3.215"},
                                                          {"tag": "t2", "room": "A3.216"}]}),
                   ("update", {"items": [{"tag": "t1", "room": "A3.214"}],
                               "removed": ["t2"]})]


async def test_live_stream_stops_when_the_client_has_gone(site: Site) -> None:
    async def snapshot() -> Mapping[str, FixRecord]:
        return {}

    async def gone() -> bool:
        return True

    chunks = [c async for c in event_stream(snapshot, lambda f, n: {}, LiveSettings(poll_s=0.0),
                                            disconnected=gone)]
    assert [e for e, _ in events(b"".join(chunks).decode())] == ["snapshot"]


# ----------------------------------------------------------------------------- tags
def test_commissioning_pair_move_unpair_keeps_history(client: TestClient,
                                                      app_state: AppState) -> None:
    biomed = bearer(app_state, "biomed")
    r = client.post("/api/v1/assets/pump-6/tags", json={"tag": "AC:23:3F:00:00:99"},
                    headers=biomed)
    assert r.status_code == 201, r.text
    body = r.json()
    assert body["pairing"]["asset"] == "pump-6" and body["pairing"]["tag"] == "ac233f000099"
    assert body["pairing"]["until"] is None and body["replaced"] is None
    assert client.get("/api/v1/assets/pump-6").json()["tags"] == ["ac233f000099"]
    # the same tag onto another asset closes the first pairing
    r = client.post("/api/v1/assets/pump-5/tags", json={"tag": "ac-23-3f-00-00-99"},
                    headers=biomed).json()
    assert r["replaced"]["asset"] == "pump-6" and r["replaced"]["until"] is not None
    assert client.get("/api/v1/assets/pump-6").json()["tags"] == []
    assert "ac233f000099" in client.get("/api/v1/assets/pump-5").json()["tags"]
    r = client.delete("/api/v1/tags/AC233F000099/pairing", headers=biomed)
    assert r.status_code == 200 and r.json()["asset"] == "pump-5"
    assert r.json()["until"] is not None
    assert client.delete("/api/v1/tags/ac233f000099/pairing", headers=biomed).status_code == 404
    history = store_of(app_state).pairings(tag="ac233f000099")
    assert [(p.asset, p.until is not None) for p in history] == [("pump-6", True),
                                                                 ("pump-5", True)]
    audit = client.get("/api/v1/audit", headers=bearer(app_state, "admin")).json()
    actions = [(e["action"], e["subject"]) for e in audit]
    for entry in (("tag.pair", "asset:pump-6"), ("tag.pair", "asset:pump-5"),
                  ("tag.unpair", "asset:pump-5")):
        assert entry in actions


def test_commissioning_needs_biomed_and_valid_input(client: TestClient,
                                                    app_state: AppState) -> None:
    r = client.post("/api/v1/assets/pump-6/tags", json={"tag": "ac233f000099"})
    assert r.status_code == 403  # the client's default token is a porter's
    assert client.delete(f"/api/v1/tags/{TAG[1]}/pairing").status_code == 403
    biomed = bearer(app_state, "biomed")
    r = client.post("/api/v1/assets/pump-6/tags", json={"tag": "not a tag"}, headers=biomed)
    assert field_at_fault(r) == [["body", "tag"]]
    assert field_at_fault(client.post("/api/v1/assets/pump-6/tags", json={},
                                      headers=biomed)) == [["body", "tag"]]
    r = client.post("/api/v1/assets/nope/tags", json={"tag": "ac233f000099"}, headers=biomed)
    assert r.status_code == 404
    assert field_at_fault(client.delete("/api/v1/tags/xyz/pairing", headers=biomed)) == [
        ["path", "tag"]]
    assert store_of(app_state).pairings(tag="ac233f000099") == []


# ----------------------------------------------------------------------------- pipeline source
def test_locations_come_from_the_pipeline_when_it_runs_here(app_state: AppState,
                                                            site: Site) -> None:
    from positioning.engine import StreamingEngine
    from tracker.pipeline import Pipeline

    pipeline = Pipeline(site, StreamingEngine(site))
    now = time.time()
    # the pipeline has newer fixes than the database: pump-2 was just put in A3.211 storage,
    # and pump-1 was taken to a patient room
    pipeline.latest.update({
        TAG[1]: fix_in(site, TAG[1], "A3.216", "pump-1", now - 1),
        TAG[2]: fix_in(site, TAG[2], "A3.211", "pump-2", now - 1),
    })
    app_state.pipeline = pipeline
    with TestClient(create_app(app_state)) as c:
        c.headers.update(bearer(app_state, "porter"))
        assert c.get("/api/v1/assets/pump-1/location").json()["room"] == "A3.216"
        assert c.get("/api/v1/assets/pump-1").json()["state"] == "in_use"
        assert c.get(f"/api/v1/assets/{TAG[2]}/location").json()["room"] == "A3.211"
        # pump-4 is not in the pipeline's memory: the store still knows where it was
        assert c.get("/api/v1/assets/pump-4/location").json()["room"] == "A3.215"
        body = c.get("/api/v1/nearest?type=infusion_pump&from_room=A3.214").json()
        assert [i["asset"]["id"] for i in body["items"]] == ["pump-2"]
        assert c.get("/api/v1/locations").json()["source"] == "pipeline"
