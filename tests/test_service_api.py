"""The HTTP API on an SQLite store (FastAPI TestClient), settings and the gateways command."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from floorplans.model import Site
from floorplans.sample import load_sample_site
from tests.authutil import bearer
from tracker.api.state import AppState
from tracker.app import create_app
from tracker.assets import Asset
from tracker.records import FixRecord, GatewayStatusRecord, WriteBatch
from tracker.settings import Settings, SettingsError
from tracker.store import open_store


@pytest.fixture(scope="module")
def site() -> Site:
    return load_sample_site()


def fix(tag: str, level: str, room: str | None, asset: str | None, ts: float) -> FixRecord:
    return FixRecord(ts=ts, tag=tag, asset=asset, site="fjellvik", building=level[0],
                     level=level, room=room, x=10.0, y=5.0, accuracy_m=1.5,
                     room_confidence=0.9, moving=False)


@pytest.fixture
def client(site: Site, tmp_path: Path) -> Iterator[TestClient]:
    url = f"sqlite:///{tmp_path / 'api.db'}"
    store = open_store(url)
    store.upgrade()
    now = time.time()
    store.upsert_assets([Asset("pump-1", "Pump 1", type="infusion_pump", tags=("t1",)),
                         Asset("bed-1", "Bed 1", type="bed", tags=("t2",)),
                         Asset("bed-2", "Bed 2", type="bed")], at=now - 3600)
    store.write(WriteBatch(
        fixes=[fix("t1", "A1", "A1.101", "pump-1", now - 5),
               fix("t2", "A2", "A2.201", "bed-1", now - 5),
               fix("t3", "A2", None, None, now - 500)],
        statuses=[GatewayStatusRecord(now - 10, "gw-a1-001", True, 2.0, 40.0, now - 11),
                  # said online, but nothing stored it since: its process is gone
                  GatewayStatusRecord(now - 200, "gw-a1-003", True, 2.0, 40.0, now - 201)]))
    store.close()
    state = AppState(site=site, database_url=url)  # role "api": the lifespan opens the store
    with TestClient(create_app(state)) as c:
        c.headers.update(bearer(state, "porter"))
        yield c


def test_ops_endpoints(client: TestClient) -> None:
    assert client.get("/healthz").json() == {"status": "ok"}
    r = client.get("/readyz")
    assert r.status_code == 200 and r.json()["checks"] == {"database": "ok"}
    m = client.get("/metrics")
    assert m.status_code == 200 and m.headers["content-type"].startswith("text/plain")
    assert "sporing_fix_latency_seconds_bucket" in m.text


def test_locations_and_filters(client: TestClient) -> None:
    r = client.get("/api/v1/locations").json()
    assert r["source"] == "database" and r["count"] == 3
    assert [i["tag"] for i in client.get("/api/v1/locations?level=A2").json()["items"]] == [
        "t2", "t3"]
    assert [i["tag"] for i in client.get("/api/v1/locations?room=A1.101").json()["items"]] == [
        "t1"]
    assert [i["asset"] for i in client.get("/api/v1/locations?type=bed").json()["items"]] == [
        "bed-1"]
    fresh = client.get("/api/v1/locations?max_age_s=60").json()
    assert {i["tag"] for i in fresh["items"]} == {"t1", "t2"}
    assert fresh["items"][0]["age_s"] >= 4


def test_bad_input_is_a_4xx_not_a_500(client: TestClient) -> None:
    assert client.get("/api/v1/locations?level=Z9").status_code == 404
    assert client.get("/api/v1/locations?max_age_s=-1").status_code == 422
    assert client.get("/api/v1/locations?level=" + "x" * 500).status_code == 422
    assert client.get("/api/v1/floorplans/Z9.svg").status_code == 404


def test_asset_location(client: TestClient) -> None:
    r = client.get("/api/v1/assets/pump-1/location")
    assert r.status_code == 200 and r.json()["tag"] == "t1" and r.json()["room"] == "A1.101"
    assert client.get("/api/v1/assets/t3/location").json()["tag"] == "t3"
    r = client.get("/api/v1/assets/bed-2/location")
    assert r.status_code == 404 and "no location" in r.json()["detail"]
    r = client.get("/api/v1/assets/nope/location")
    assert r.status_code == 404 and "no asset" in r.json()["detail"]


def test_floorplans_and_levels(client: TestClient, site: Site) -> None:
    levels = client.get("/api/v1/levels").json()
    assert [lv["id"] for lv in levels] == [lv.id for lv in site.levels]
    svg = client.get(levels[0]["svg"])
    assert svg.status_code == 200 and svg.headers["content-type"] == "image/svg+xml"
    assert svg.text.startswith("<svg")


def test_gateways_from_the_database(client: TestClient, site: Site) -> None:
    r = client.get("/api/v1/gateways").json()
    assert r["source"] == "database" and r["count"] == len(site.gateways)
    by_id = {g["gateway"]: g for g in r["items"]}
    assert by_id["gw-a1-001"]["state"] == "online"
    assert by_id["gw-a1-002"]["state"] == "never_seen"
    assert by_id["gw-a1-003"]["state"] == "offline"


def test_index_page_is_accessible(client: TestClient) -> None:
    html = client.get("/").text
    assert '<html lang="en">' in html and '<label for="level"' in html
    assert 'src="static/app.js"' in html and 'aria-live="polite"' in html
    assert ":focus-visible" in client.get("/static/app.css").text


def test_ops_only_app_has_no_read_api(site: Site) -> None:
    with TestClient(create_app(AppState(site=site, ops_only=True))) as c:
        assert c.get("/healthz").status_code == 200
        assert c.get("/api/v1/locations").status_code == 404
        assert c.get("/readyz").status_code == 200


def test_unavailable_database_gives_503(site: Site) -> None:
    state = AppState(site=site, starting="waiting for the database (migrations)")
    with TestClient(create_app(state)) as c:
        r = c.get("/readyz")
        assert r.status_code == 503 and r.json()["checks"]["startup"].startswith("waiting")
        assert c.get("/api/v1/locations").status_code == 401  # no credentials
        # credentials cannot be checked without the database
        assert c.get("/api/v1/locations",
                     headers={"Authorization": "Bearer spt_x_y"}).status_code == 503


# ----------------------------------------------------------------------------- settings
def test_settings_from_toml_and_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    cfg = tmp_path / "s.toml"
    cfg.write_text('role = "ingest"\n[mqtt]\nurl = "mqtt://broker:1883"\n'
                   'extra_topics = [["kontakt/+", "kontakt"]]\n'
                   '[database]\nurl = "sqlite:///x.db"\n[engine]\ntick_s = 2.0\n'
                   '[gateway_aliases]\n"AC:23:3F:00:00:01" = "gw-a1-001"\n')
    monkeypatch.setenv("SPORING_API__PORT", "9000")
    monkeypatch.setenv("SPORING_MQTT__CLIENT_ID", "sporing-test")
    s = Settings.load(cfg)
    assert s.role == "ingest" and s.mqtt.url == "mqtt://broker:1883"
    assert s.mqtt.client_id == "sporing-test" and s.api.port == 9000
    assert s.engine.tick_s == 2.0 and s.database.url == "sqlite:///x.db"
    assert ("kontakt/+", "kontakt") in s.topic_map and ("ruuvi/#", "ruuvi") in s.topic_map
    assert s.gateway_aliases == {"AC:23:3F:00:00:01": "gw-a1-001"}
    assert Settings.load(cfg, role="api").role == "api"


@pytest.mark.parametrize(("text", "message"), [
    ("[mqtt]\nurll = 'x'\n", "unknown key(s) in [mqtt]: urll"),
    ("colour = 1\n", "unknown key 'colour'"),
    ("[engine]\ntick_s = -1\n", "engine.tick_s"),
    ("role = 'everything'\n", "role"),
    ("[mqtt\n", "cannot read configuration"),
    ("[states]\nnurse_station = 'free'\n", "states.nurse_station"),
])
def test_bad_settings_name_the_key(tmp_path: Path, text: str, message: str) -> None:
    cfg = tmp_path / "bad.toml"
    cfg.write_text(text)
    with pytest.raises(SettingsError, match=message.replace("[", r"\[").replace("(", r"\(")
                       .replace(")", r"\)")):
        Settings.load(cfg)


def test_states_table_sets_one_map_for_the_service(tmp_path: Path) -> None:
    from tracker.availability import AssetState
    from tracker.service import Service

    cfg = tmp_path / "s.toml"
    cfg.write_text("[states]\nnurse_station = 'available'\n")
    svc = Service(Settings.load(cfg), site=load_sample_site())
    states = svc.state.states
    assert states.of_category("nurse_station") is AssetState.AVAILABLE
    assert states.of_category("patient_room") is AssetState.IN_USE  # defaults kept


def test_missing_config_file(tmp_path: Path) -> None:
    with pytest.raises(SettingsError, match="does not exist"):
        Settings.load(tmp_path / "nope.toml")


def test_example_configuration_loads() -> None:
    example = Path(__file__).resolve().parents[1] / "sporing.example.toml"
    s = Settings.load(example)
    assert s.role == "all" and s.mqtt.url.startswith("mqtt")


# ----------------------------------------------------------------------------- commands
def test_gateways_command_reads_the_database(tmp_path: Path,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    from tracker.cli import main

    url = f"sqlite:///{tmp_path / 'g.db'}"
    store = open_store(url)
    store.upgrade()
    now = time.time()
    store.write(WriteBatch(statuses=[
        GatewayStatusRecord(now, "gw-a1-001", True, 1.5, 30.0, now - 2),
        GatewayStatusRecord(now, "gw-a1-002", False, 0.0, 0.0, now - 900)]))
    store.close()
    assert main(["gateways", "--database", url]) == 0
    out = capsys.readouterr().out
    assert "gw-a1-001  online" in out and "gw-a1-002  offline" in out
    assert "1 offline, 1 online" in out
    assert main(["gateways", "--database", "mysql://x"]) == 2
