"""Alerting wired into a process: seeded from the store, fed by the pipeline's tick hook,
transitions recorded in the store."""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import replace
from pathlib import Path
from typing import Any

import aiomqtt
import orjson
import pytest

from floorplans.model import Site
from floorplans.sample import load_sample_site
from gateway.adapters.types import TagBattery
from gateway.batteries import TagBatteries
from gateway.canonical import Reading
from gateway.health import GatewayHealth
from gateway.mqtt import MqttSettings
from positioning.engine import StreamingEngine
from tests.alertutil import ASSETS, T0, Clock, fix, stay
from tracker.alerts.engine import Transition
from tracker.alerts.lifecycle import AlertState
from tracker.alerts.rules import AlertConfigError, parse_config
from tracker.alerts.runner import AlertRunner
from tracker.alerts.store import AlertStore
from tracker.pipeline import Pipeline
from tracker.records import FixRecord, GatewayStatusRecord, StayRecord, WriteBatch
from tracker.service import Service
from tracker.settings import Settings
from tracker.store import open_store
from tracker.store.base import Store, StoreUnavailableError

RULES = {"rules": [
    {"id": "no-pumps-in-1113", "kind": "restricted_area", "asset_types": ["infusion_pump"],
     "rooms": ["A1.113"]},
    {"id": "pumps-stay-in-b", "kind": "geofence", "asset_types": ["infusion_pump"],
     "buildings": ["B"]},
]}


@pytest.fixture(scope="module")
def site() -> Site:
    return load_sample_site()


@pytest.fixture
def store(store: Store) -> Store:
    """Conftest's store (SQLite and TimescaleDB) holding the test registry."""
    store.upsert_assets(list(ASSETS.values()), at=T0 - 3600)
    return store


async def test_seeded_from_the_store_and_recording_ticks(site: Site, store: Store) -> None:
    store.write(WriteBatch(fixes=[fix(site, "pump-1", "A1.113", T0 - 60),
                                  fix(site, "pump-2", "B1.112", T0 - 60)]))
    alerts = AlertStore(store)
    # An alert left open by the previous run: resumed, not raised a second time.
    [old] = alerts.record([Transition("raised", "no-pumps-in-1113", "restricted_area",
                                      "pump-2", "warning", T0 - 600, T0 - 600, "old", {})],
                          now=T0 - 600)
    runner = AlertRunner(parse_config(RULES), site, store, clock=Clock(T0))
    await runner.start(open_stays=[stay(site, "pump-3", "A1.112", T0 - 100)])
    try:
        assert len(runner.registry) == len(ASSETS)
        assert runner.engine.world.stays["pump-3"].room == "A1.112"  # as the service read it
        assert runner.engine.active() == [("no-pumps-in-1113", "pump-2")]
        runner.on_tick(T0, [], [])  # pump-1's last known place (from the store) is A1.113
        runner.on_tick(T0 + 1, [fix(site, "pump-2", "B1.112", T0 + 1)], [])
        # pump-1: in the restricted room, and in building A (outside its fence); pump-2's
        # resumed alert resolves.
        assert await runner.record_pending() == 3
        assert [(a.rule, a.subject, a.state) for a in alerts.unresolved()] == [
            ("no-pumps-in-1113", "pump-1", AlertState.OPEN),
            ("pumps-stay-in-b", "pump-1", AlertState.OPEN)]
        resumed = alerts.get(old.alert_id)
        assert resumed is not None and resumed.state is AlertState.RESOLVED
        assert resumed.resolved_at == T0  # pump-2 is not in A1.113 any more
    finally:
        await runner.stop()


async def test_a_sharded_worker_seeds_and_resumes_only_its_own_tags(site: Site,
                                                                     store: Store) -> None:
    """Workers of a sharded deployment never raise or resolve each other's alerts: a worker
    is seeded with its own tags' locations and stays, and resumes only their alerts."""
    store.upsert_assets([replace(ASSETS["pump-1"], tags=("t-pump-1",)),
                         replace(ASSETS["pump-2"], tags=("t-pump-2",))], at=T0 - 3000)
    store.write(WriteBatch(fixes=[fix(site, "pump-1", "A1.113", T0 - 60),
                                  fix(site, "pump-2", "A1.113", T0 - 60)]))
    alerts = AlertStore(store)
    alerts.record([Transition("raised", "no-pumps-in-1113", "restricted_area", p, "warning",
                              T0 - 600, T0 - 600, "old", {}) for p in ("pump-1", "pump-2")],
                  now=T0 - 600)
    runner = AlertRunner(parse_config(RULES), site, store, clock=Clock(T0),
                         owns_tag=lambda tag: tag == "t-pump-1")
    await runner.start(open_stays=[stay(site, "pump-1", "A1.113", T0 - 100),
                                   stay(site, "pump-2", "A1.113", T0 - 100)])
    try:
        assert runner.engine.active() == [("no-pumps-in-1113", "pump-1")]
        assert set(runner.engine.world.stays) == {"pump-1"}
        runner.on_tick(T0, [fix(site, "pump-1", "B1.112", T0)], [])
        await runner.record_pending()
        # pump-1's alert resolved here; pump-2's is the other worker's: untouched
        assert [(a.subject, a.state) for a in alerts.unresolved()] == [
            ("pump-2", AlertState.OPEN)]
    finally:
        await runner.stop()


async def test_rules_are_evaluated_at_most_every_evaluate_every_s(site: Site,
                                                                    store: Store) -> None:
    rules = parse_config({"rules": RULES["rules"][:1]})
    runner = AlertRunner(rules, site, store, clock=Clock(T0), evaluate_every_s=5.0)
    runner.registry.load(store)
    runner.on_tick(T0, [fix(site, "pump-1", "A1.113", T0)], [])
    assert runner.engine.active() == [("no-pumps-in-1113", "pump-1")]
    runner.on_tick(T0 + 1, [fix(site, "pump-1", "A1.112", T0 + 1)], [])  # taken in, not judged
    assert runner.engine.active() == [("no-pumps-in-1113", "pump-1")]
    assert runner.engine.world.fixes["pump-1"].room == "A1.112"
    runner.on_tick(T0 + 5, [], [])
    assert runner.engine.active() == []
    assert await runner.record_pending() == 2  # raised, then resolved


async def test_gateway_health_and_tag_batteries_reach_the_engine(site: Site,
                                                                  store: Store) -> None:
    gw = site.gateways[0].id
    health = GatewayHealth([gw])
    health.observe(gw, T0 - 5.0, readings=3)
    tags = TagBatteries()
    rules = parse_config({"rules": [{"id": "tag-battery", "kind": "low_battery",
                                     "below_pct": 20}]})
    runner = AlertRunner(rules, site, store, clock=Clock(T0), health=lambda: health,
                         batteries=lambda: tags, evaluate_every_s=0.0)
    runner.sample()  # the gateway health: handed over on the next tick
    tags.observe([TagBattery(T0 - 1.0, "t-9", 9.0), TagBattery(T0 - 1.0, "t-80", 80.0)])
    runner.on_tick(T0, [], [])
    w = runner.engine.world
    assert w.statuses[gw].online and w.statuses[gw].last_seen == T0 - 5.0
    assert w.batteries == {"t-9": 9.0, "t-80": 80.0} and len(tags) == 0  # drained each tick
    assert runner.engine.active() == [("tag-battery", "t-9")]
    tags.observe([TagBattery(T0 + 1.0, "t-9", 95.0)])
    runner.on_tick(T0 + 1, [], [])
    assert w.batteries["t-9"] == 95.0 and runner.engine.active() == []


async def test_a_sharded_worker_takes_gateway_health_from_the_store(site: Site,
                                                                     store: Store) -> None:
    """A positioning worker of a sharded deployment reads the gateway health the parser
    workers stored: offline when a row says so, or when its last message is older than the
    offline time plus the storing interval (the parser tier went silent)."""
    fresh, off, stale = (g.id for g in site.gateways[:3])
    rows = [GatewayStatusRecord(T0 - 10.0, fresh, True, 1.0, 5.0, T0 - 12.0),
            GatewayStatusRecord(T0 - 10.0, off, False, 0.0, 0.0, T0 - 70.0),
            GatewayStatusRecord(T0 - 10.0, stale, True, 1.0, 5.0, T0 - 95.0)]
    store.write(WriteBatch(statuses=rows))
    rules = parse_config({"rules": [{"id": "gw-down", "kind": "gateway_offline"}]})
    runner = AlertRunner(rules, site, store, clock=Clock(T0), statuses_from_store=True,
                         evaluate_every_s=0.0)
    await runner.sample_store()
    runner.on_tick(T0, [], [])
    w = runner.engine.world
    assert {g: w.statuses[g].online for g in (fresh, off, stale)} == {
        fresh: True, off: False, stale: False}
    assert sorted(runner.engine.active()) == sorted([("gw-down", off), ("gw-down", stale)])


async def test_transitions_wait_in_memory_while_the_database_is_down(site: Site,
                                                                      store: Store) -> None:
    rules = parse_config({"rules": RULES["rules"][:1]})
    runner = AlertRunner(rules, site, store, clock=Clock(T0))
    runner.registry.load(store)
    runner.on_tick(T0, [fix(site, "pump-1", "A1.113", T0)], [])
    down = open_store("postgresql://sporing:x@127.0.0.1:1/sporing")  # nothing listens there
    try:
        runner.alerts = AlertStore(down)
        with pytest.raises(StoreUnavailableError):
            await runner.record_pending()
    finally:
        down.close()
    runner.alerts = AlertStore(store)  # the database is back
    assert await runner.record_pending() == 1
    assert [a.subject for a in AlertStore(store).unresolved()] == ["pump-1"]
    assert await runner.record_pending() == 0


async def test_the_pipeline_hands_every_tick_to_the_alert_runner(site: Site,
                                                                 store: Store) -> None:
    seen: list[tuple[float, list[FixRecord], list[StayRecord]]] = []
    p = Pipeline(site, StreamingEngine(site), asset_of=lambda tag, _ts: "pump-1"
                 if tag == "t-pump-1" else None, delay_s=0.0)
    p.add_tick_listener(lambda t, fixes, stays: seen.append((t, fixes, stays)))
    runner = AlertRunner(parse_config(RULES), site, store, clock=Clock(T0),
                         evaluate_every_s=0.0)
    runner.registry.load(store)
    runner.attach(p)
    gws = [g.id for g in site.gateways if g.level == "A1"][:4]
    for k in range(5):
        await p.put([Reading(T0 + k + 0.1 * j, gw, "t-pump-1", rssi=-55.0 - 4 * j)
                     for j, gw in enumerate(gws)])
        await p.tick(T0 + k + 0.9)
    assert [t for t, _, _ in seen] == [T0 + k + 0.9 for k in range(5)]
    assert any(f.asset == "pump-1" and f.building == "A" for _, fixes, _ in seen for f in fixes)
    assert any(s.asset == "pump-1" and s.t_exit is None for _, _, stays in seen for s in stays)
    # The pump is in building A: outside its geofence (building B), raised exactly once.
    assert await runner.record_pending() == 1
    [a] = AlertStore(store).unresolved()
    assert (a.rule, a.subject, a.details["building"]) == ("pumps-stay-in-b", "pump-1", "A")


def _service_settings(mqtt_url: str, prefix: str, database_url: str, tmp_path: Path,
                      rules: list[dict[str, Any]]) -> Settings:
    """An ingest-role service on its own topic prefix and client id, publishing alerts under
    ``<prefix>/alerts``."""
    return Settings.load(
        None, role="ingest",
        mqtt={"url": mqtt_url, "client_id": f"sporing-alerts-{uuid.uuid4().hex[:8]}",
              "topic_prefix": prefix},
        database={"url": database_url, "spool_dir": str(tmp_path / "spool")},
        api={"host": "127.0.0.1", "ops_port": 0},
        alerts={"topic_prefix": f"{prefix}/alerts", "rules": rules})


@pytest.mark.integration
async def test_the_service_raises_and_publishes_alerts(site: Site, tmp_path: Path,
                                                      mqtt_url: str, unique_topic: str) -> None:
    url = f"sqlite:///{tmp_path / 'svc.db'}"
    s = open_store(url)
    s.upgrade()
    s.upsert_assets(list(ASSETS.values()), at=T0)
    s.write(WriteBatch(fixes=[fix(site, "pump-1", "A1.113", T0)]))  # last seen: restricted
    s.close()

    def settings(rooms: list[str]) -> Settings:
        return _service_settings(mqtt_url, unique_topic, url, tmp_path, [
            {"id": "no-pumps-in-1113", "kind": "restricted_area",
             "asset_types": ["infusion_pump"], "rooms": rooms}])

    with pytest.raises(AlertConfigError, match=r"alerts.rules\[0\].rooms: unknown room 'Z9'"):
        async with Service(settings(["Z9"]), site=site):
            pass
    broker = MqttSettings.from_url(mqtt_url)
    async with aiomqtt.Client(broker.host, broker.port,
                              identifier=f"sub-{uuid.uuid4().hex[:8]}") as sub:
        await sub.subscribe(f"{unique_topic}/alerts/#", qos=1)
        async with Service(settings(["A1.113"]), site=site) as svc:
            assert isinstance(svc.alerts, AlertRunner)
            msg = await asyncio.wait_for(anext(aiter(sub.messages)), timeout=60)
    assert str(msg.topic) == f"{unique_topic}/alerts/no-pumps-in-1113"
    assert isinstance(msg.payload, bytes)
    body = orjson.loads(msg.payload)
    assert body["event"] == "raised" and body["alert"]["subject"] == "pump-1"
    s = open_store(url)
    try:
        [a] = AlertStore(s).unresolved()
        assert a.subject == "pump-1"
        assert [i.state for i in AlertStore(s).outbox()] == ["delivered"]
    finally:
        s.close()


@pytest.mark.integration
async def test_a_low_tag_battery_reported_by_a_minew_gateway_raises_an_alert(
        site: Site, tmp_path: Path, mqtt_url: str, unique_topic: str) -> None:
    """Real Mosquitto: a Minew batch whose sensor tag reports 9 % battery → ``low_battery``
    alert published, and the battery level in the alert's details."""
    url = f"sqlite:///{tmp_path / 'battery.db'}"
    settings = _service_settings(mqtt_url, unique_topic, url, tmp_path, [
        {"id": "tag-battery", "kind": "low_battery", "below_pct": 20}])
    gw = site.gateways[0].id
    batch = orjson.dumps([
        {"type": "Gateway", "mac": "AC233FC03641", "gatewayFree": 89, "gatewayLoad": 0.03},
        {"type": "S1", "mac": "AC233FA018E7", "rssi": -61, "battery": 9},
        {"type": "iBeacon", "mac": "C3000025EF6A", "rssi": -65, "battery": 0},
    ])
    broker = MqttSettings.from_url(mqtt_url)
    async with aiomqtt.Client(broker.host, broker.port,
                              identifier=f"sub-{uuid.uuid4().hex[:8]}") as sub:
        await sub.subscribe(f"{unique_topic}/alerts/#", qos=1)
        async with Service(settings, site=site) as svc:
            await svc.ingestor.wait_connected(10)
            async with aiomqtt.Client(broker.host, broker.port) as pub:
                await pub.publish(f"{unique_topic}/gw/{gw}/status", batch, qos=1)
            msg = await asyncio.wait_for(anext(aiter(sub.messages)), timeout=60)
            held = svc.alerts.engine.world.batteries
            assert "c3000025ef6a" not in held  # 0: not reported
    assert str(msg.topic) == f"{unique_topic}/alerts/tag-battery"
    assert isinstance(msg.payload, bytes)
    body = orjson.loads(msg.payload)
    assert body["event"] == "raised" and body["alert"]["subject"] == "ac233fa018e7"
    assert body["alert"]["details"]["battery_pct"] == 9.0
