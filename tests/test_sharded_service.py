"""The scale-out deployment run from configuration, on the real services: one ``sporing serve
--role parse`` process (vendor payloads → shard stream) and two ``--role ingest`` positioning
workers (``[sharding] workers = 2``, ``worker = 0`` / ``1``), all in-process
:class:`tracker.service.Service` objects, fed by the simulator over the real Mosquitto in
several vendor formats and writing to the real TimescaleDB.

Every tag must be positioned by exactly one worker (the one owning its shard), every
published reading must reach a worker, the parser must store gateway health and the workers
must not, and the stored positions must be as good as the one-process service's.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from pathlib import Path

import httpx
import pytest

from floorplans.sample import load_sample_site
from gateway.sharding import assign_shards, shard_of
from positioning.evaluate import score_fixes
from simulator.engine import Simulation
from tests.test_e2e_service import (
    LIVE_MEDIAN_BOUND_M,
    WARMUP_S,
    Publisher,
    scenario,
    service_settings,
    stored_fixes,
    truth_rows,
    wait_idle,
)
from tracker.service import Service
from tracker.settings import Settings, SettingsError

pytestmark = pytest.mark.integration

SHARDS = 16


def test_sharding_settings_are_checked() -> None:
    with pytest.raises(SettingsError, match=r"sharding: .*worker 2 is not in \[0, 2\)"):
        Settings.load(None, sharding={"shards": 16, "workers": 2, "worker": 2})
    with pytest.raises(SettingsError, match="4 shards cannot feed 8 workers"):
        Settings.load(None, role="ingest", sharding={"shards": 4, "workers": 8})
    with pytest.raises(SettingsError, match="needs separate processes"):
        Settings.load(None, role="all", sharding={"shards": 16, "workers": 2})


def test_parse_role_needs_shards_and_topics_without_wildcards() -> None:
    with pytest.raises(SettingsError, match=r"role parse needs sharding\.shards > 0"):
        Settings.load(None, role="parse")
    with pytest.raises(SettingsError, match="prefix 'shards/#' must be a topic"):
        Settings.load(None, role="parse", sharding={"shards": 8, "prefix": "shards/#"})
    with pytest.raises(SettingsError, match="group 'a/b' must be one topic level"):
        Settings.load(None, role="parse", sharding={"shards": 8, "group": "a/b"})


async def test_a_parser_and_two_positioning_workers_split_the_hospital(
        mqtt_url: str, fresh_database: str, unique_topic: str, tmp_path: Path) -> None:
    site = load_sample_site()
    start = time.time() + 4.0
    scen = scenario(assets=60, duration_s=35.0, seed=5, start=start)
    base = service_settings(site, mqtt_url, fresh_database, unique_topic, tmp_path / "spool")
    shard_prefix = f"{unique_topic}/shards"

    def role(name: str, worker: int = 0) -> Settings:
        mqtt = base.mqtt.model_copy(update={"client_id": f"sporing-{name}-{uuid.uuid4().hex[:8]}"})
        db = base.database.model_copy(update={"spool_dir": str(tmp_path / f"spool-{name}")})
        sharding = base.sharding.model_copy(update={
            "shards": SHARDS, "workers": 2, "worker": worker, "prefix": shard_prefix,
            "group": f"parse-{uuid.uuid4().hex[:8]}"})
        return base.model_copy(update={"role": "parse" if name == "parse" else "ingest",
                                       "mqtt": mqtt, "database": db, "sharding": sharding,
                                       "alerts": {"rules": [{"id": "gw-down",
                                                             "kind": "gateway_offline"}]}})

    async with Service(role("pos0", 0), site=site) as w0, \
            Service(role("pos1", 1), site=site) as w1, \
            Service(role("parse"), site=site) as parser:
        assert parser.pipeline is None and parser.writer is not None
        for svc in (w0, w1, parser):
            await svc.ingestor.wait_connected(10.0)
        pub = Publisher(Simulation(site, scen), mqtt_url, "mixed", unique_topic).start()
        await asyncio.to_thread(pub.join)
        for w in (w0, w1):
            await wait_idle(w)
        parsed = parser.ingestor.stats
        assert parsed.reject_total() == 0, dict(parsed.rejects)
        assert {"espresense", "openmqttgateway", "minew"} <= set(parsed.messages)
        received = [w.pipeline.stats.readings_in for w in (w0, w1)]
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{parser.http_port}") as c:
            ready = await c.get("/readyz")
            metrics = (await c.get("/metrics")).text
        assert ready.status_code == 200, ready.text
        assert ready.json()["checks"] == {"broker": "ok", "database": "ok"}
        assert "ingest_readings_total" in metrics and "pipeline_ticks_total" not in metrics
        stored_status = parser.submit_gateway_status()
        assert w0.submit_gateway_status() == 0 and w1.submit_gateway_status() == 0
        # the workers' gateway_offline rule sees the health the parser stored
        assert await asyncio.to_thread(parser.writer.flush, 30.0)
        await w0.alerts.sample_store()
        w0.alerts.on_tick(time.time(), [], [])
        seen = w0.alerts.engine.world.statuses
        heard = {g for (g, _fmt), n in parser.ingestor.stats.readings.items() if n}
        tags = [set(w.pipeline.latest) for w in (w0, w1)]
        t_end = time.time()

    # every reading reached a worker (QoS 1: at least once); both had work
    assert sum(received) >= pub.readings > 5_000 and min(received) > 0
    # every tag positioned, each by the worker owning its shard only
    assert tags[0] and tags[1] and not tags[0] & tags[1]
    for w, owned in enumerate(tags):
        assert {shard_of(t, SHARDS) for t in owned} <= set(assign_shards(w, 2, SHARDS))
    assert tags[0] | tags[1] == {r["tag"] for r in truth_rows(pub, start)}
    # gateway health comes from the parser, which sees the vendor messages
    assert stored_status > 0 and heard
    assert all(seen[g].online for g in heard)

    fixes = stored_fixes(fresh_database, start - 60, t_end + 60)
    assert len({(f["tag"], f["ts"]) for f in fixes}) == len(fixes)  # no duplicate rows
    live = score_fixes(fixes, truth_rows(pub, start + WARMUP_S), None)
    assert live.coverage > 0.95
    assert live.median_error_m < LIVE_MEDIAN_BOUND_M
    assert live.level_accuracy > 0.95


def test_alert_rules_no_sharded_worker_can_evaluate_are_refused() -> None:
    for kind, extra in (("par_level", {"asset_type": "bed", "minimum": 2, "rooms": ["A1.101"]}),
                        ("low_battery", {"below_pct": 20})):
        rules = {"rules": [{"id": "r", "kind": kind, **extra}]}
        Settings.load(None, role="ingest", alerts=rules)  # fine without sharding
        with pytest.raises(SettingsError, match=f"'r' \\({kind}\\).*not available"):
            Settings.load(None, role="ingest", alerts=rules,
                          sharding={"shards": 8, "workers": 2})
