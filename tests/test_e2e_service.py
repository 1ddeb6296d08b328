"""End to end on the real services: simulator → Mosquitto (several vendor formats) →
``sporing serve`` (in-process :class:`tracker.service.Service`) → TimescaleDB, with the stored
positions scored against the simulator's ground truth.

The live path (MQTT, vendor adapters, gateway aliases, clock correction, pipeline, change
filter, store) must position as well as the engine does offline on the same readings: the
test runs the same seeded simulation through :class:`positioning.engine.StreamingEngine`
directly as the reference and bounds the live error against it and absolutely.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import io
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import orjson
import pytest

from floorplans.model import Site
from floorplans.sample import load_sample_site
from gateway.canonical import ReadingBatch
from positioning.engine import StreamingEngine
from positioning.evaluate import score_fixes
from simulator.config import Scenario
from simulator.engine import Simulation
from simulator.formats.base import gateway_mac
from tracker.service import Service
from tracker.settings import Settings

pytestmark = pytest.mark.integration

# Measured on this data (80 assets, 50 s, mixed formats, seed 11): offline engine median
# 3.17 m (p95 6.95 m), live from the database median 3.13 m (p95 6.93 m), level accuracy 1.0.
# Bounds with margin; a live path that loses readings, mis-maps gateways or mis-times vendor
# formats lands well above them.
LIVE_MEDIAN_BOUND_M = 4.0
LIVE_VS_OFFLINE_MARGIN_M = 1.0
WARMUP_S = 12.0


def scenario(assets: int, duration_s: float, seed: int, start: float) -> Scenario:
    """A scenario starting at wall-clock time ``start`` (so receipt times and simulated
    times agree: some vendor formats carry no timestamp)."""
    iso = dt.datetime.fromtimestamp(start, dt.UTC).isoformat()
    return Scenario(name="e2e", assets=assets, duration_s=duration_s, start=iso, seed=seed)


def service_settings(site: Site, mqtt_url: str, database_url: str, prefix: str,
                     spool: Path, **engine: Any) -> Settings:
    """Settings of an ingest-role service on a unique topic prefix and client id."""
    aliases = {gateway_mac(g.id): g.id for g in site.gateways}
    return Settings.load(None, site="", role="ingest", gateway_aliases=aliases,
                         mqtt={"url": f"{mqtt_url}?session_expiry=300",
                               "client_id": f"sporing-e2e-{uuid.uuid4().hex[:10]}",
                               "topic_prefix": prefix},
                         database={"url": database_url, "spool_dir": str(spool)},
                         api={"host": "127.0.0.1", "ops_port": 0},
                         engine={"delay_s": 1.0, **engine})


class Publisher:
    """Publishes a simulation at real time (QoS 1) from a thread; counts what it published.

    Attributes:
        messages: Messages published.
        readings: Readings in them (from the simulator's ticks).
        truth: Ground-truth JSON lines.
    """

    def __init__(self, sim: Simulation, url: str, fmt: str, prefix: str) -> None:
        self.sim, self.url, self.fmt, self.prefix = sim, url, fmt, prefix
        self.messages = 0
        self.readings = 0
        self.truth = io.BytesIO()
        self.error: BaseException | None = None
        self.done = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def start(self) -> Publisher:
        self._thread.start()
        return self

    def join(self, timeout: float = 300.0) -> None:
        self._thread.join(timeout)
        if self.error is not None:
            raise self.error

    def _steps(self) -> Iterator[tuple[float, list[Any], int]]:
        from simulator.formats.registry import encode_tick, format_for_gateway
        from simulator.output import encode_context, truth_lines

        sim = self.sim
        formats = [format_for_gateway(self.fmt, g.id, g.tech) for g in sim.gateways]
        ctx = encode_context(sim, self.prefix)
        for tick in sim.ticks(truth_every_s=1.0):
            self.truth.write(truth_lines(tick, sim))
            msgs = encode_tick(tick.ts, tick.gateway, tick.tag, tick.rssi, tick.range_m,
                               formats, ctx)
            yield tick.t1, msgs, len(tick)

    def _run(self) -> None:
        import paho.mqtt.client as paho

        from simulator.mqtt import parse_url

        b = parse_url(self.url)
        client = paho.Client(paho.CallbackAPIVersion.VERSION2,
                             client_id=f"sporing-e2e-pub-{uuid.uuid4().hex[:8]}",
                             clean_session=False)
        client.max_queued_messages_set(0)
        client.max_inflight_messages_set(1000)
        client.reconnect_delay_set(0.2, 2.0)
        try:
            client.connect(b.host, b.port, keepalive=30)
            client.loop_start()
            last = None
            for t_end, msgs, n in self._steps():
                wait = t_end - time.time()
                if wait > 0:
                    time.sleep(wait)
                for m in msgs:
                    last = client.publish(m.topic, m.payload, qos=1)
                    self.messages += 1
                self.readings += n
            deadline = time.time() + 120
            while last is not None and not last.is_published() and time.time() < deadline:
                time.sleep(0.1)
        except BaseException as exc:  # surfaced by join()
            self.error = exc
        finally:
            client.loop_stop()
            client.disconnect()
            self.done.set()


def truth_rows(pub: Publisher, after: float) -> list[dict[str, Any]]:
    """Ground truth lines with ``ts >= after``."""
    rows = [orjson.loads(line) for line in pub.truth.getvalue().splitlines() if line]
    return [r for r in rows if r["ts"] >= after]


def offline_fixes(site: Site, scen: Scenario) -> list[dict[str, Any]]:
    """The same simulation through the engine directly (the reference)."""
    sim = Simulation(site, scen)
    engine = StreamingEngine(site, index=sim.index)
    out: list[dict[str, Any]] = []
    for tick in sim.ticks(truth_every_s=1.0):
        n = len(tick)
        engine.add_batch(ReadingBatch(tick.ts, tick.gateway.astype(np.int32),
                                      tick.tag.astype(np.int32), tick.rssi, tick.range_m,
                                      np.full(n, np.nan), sim.gateway_ids, sim.fleet.tags))
        out.extend(engine.tick(tick.t1).to_dicts())
    return out


def stored_fixes(database_url: str, t0: float, t1: float) -> list[dict[str, Any]]:
    """Every stored position as dicts (``ts, tag, x, y, level, room``)."""
    import psycopg

    with psycopg.connect(database_url) as conn:
        rows = conn.execute(
            "SELECT extract(epoch FROM time)::float8, tag, x, y, level, room FROM positions "
            "WHERE time >= to_timestamp(%s) AND time < to_timestamp(%s) ORDER BY time",
            (t0, t1)).fetchall()
    return [{"ts": r[0], "tag": r[1], "x": r[2], "y": r[3], "level": r[4], "room": r[5]}
            for r in rows]


async def wait_idle(svc: Service, quiet_s: float = 3.0, timeout: float = 60.0) -> None:
    """Wait until no reading arrived for ``quiet_s``, then until the writer has written all."""
    deadline = time.monotonic() + timeout
    last, since = -1, time.monotonic()
    while time.monotonic() < deadline:
        n = svc.pipeline.stats.readings_in
        if n != last:
            last, since = n, time.monotonic()
        elif time.monotonic() - since >= quiet_s and svc.pipeline.stats.pending_readings == 0:
            break
        await asyncio.sleep(0.25)
    await asyncio.sleep(svc.settings.engine.delay_s + svc.settings.engine.tick_s + 0.5)
    assert await asyncio.to_thread(svc.writer.flush, 60.0), "the writer did not drain"


async def test_simulated_hospital_end_to_end(mqtt_url: str, fresh_database: str,
                                             unique_topic: str, tmp_path: Path) -> None:
    site = load_sample_site()
    start = time.time() + 3.0
    scen = scenario(assets=80, duration_s=50.0, seed=11, start=start)
    settings = service_settings(site, mqtt_url, fresh_database, unique_topic,
                                tmp_path / "spool").model_copy(
        update={"state_dir": str(tmp_path / "state")})
    async with Service(settings, site=site) as svc:
        await svc.ingestor.wait_connected(10.0)
        pub = Publisher(Simulation(site, scen), mqtt_url, "mixed", unique_topic).start()
        await asyncio.to_thread(pub.join)
        await wait_idle(svc)
        ingest = svc.ingestor.stats
        formats = dict(ingest.messages)
        received = svc.pipeline.stats.readings_in
    # Every vendor format of the mix arrived and parsed, nothing rejected.
    assert {"canonical", "espresense", "openmqttgateway", "minew", "ruuvi"} <= set(formats)
    assert ingest.reject_total() == 0, dict(ingest.rejects)
    assert received >= pub.readings > 10_000
    fixes = stored_fixes(fresh_database, start - 60, time.time() + 60)
    assert fixes, "no positions were stored"
    truth = truth_rows(pub, start + WARMUP_S)
    live = score_fixes(fixes, truth, None)
    ref = score_fixes(offline_fixes(site, scen), truth, None)
    print(f"\nlive: n={live.n} median={live.median_error_m:.2f} m p95={live.p95_error_m:.2f} m "
          f"level={live.level_accuracy:.3f} room={live.room_accuracy:.3f} "
          f"coverage={live.coverage:.3f}; offline: median={ref.median_error_m:.2f} m "
          f"p95={ref.p95_error_m:.2f} m level={ref.level_accuracy:.3f}; "
          f"stored fixes {len(fixes)} of {svc.pipeline.stats.fixes}")
    assert live.coverage > 0.95
    assert live.median_error_m < LIVE_MEDIAN_BOUND_M
    assert live.median_error_m < ref.median_error_m + LIVE_VS_OFFLINE_MARGIN_M
    assert live.level_accuracy > 0.95
    # Thinning stored far fewer rows than fixes computed, and the store has no duplicates.
    assert len(fixes) < svc.pipeline.stats.fixes
    assert len({(f["tag"], f["ts"]) for f in fixes}) == len(fixes)
    # The self-calibration was saved at shutdown (its 10-minute save never came in 50 s).
    saved = orjson.loads((tmp_path / "state" / "calibration.json").read_bytes())
    assert saved["version"] == 1 and "gateways" in saved
