"""The whole live path at hospital-trust scale: gateways publish batched canonical payloads to
the real Mosquitto → ``Service`` (ingest role: MQTT ingest, pipeline, engine, change filter,
StoreWriter) → TimescaleDB. Beside it, in the same run: raw Mosquitto throughput (the same
payloads, QoS 1, publish → subscriber) and raw store throughput (``TimescaleStore.write`` of
one big batch of fixes, binary COPY + upsert).

Scale (environment variables):

* ``SPORING_BENCH_TAGS`` (default 3000; the documented full run is 15000),
* ``SPORING_BENCH_SECONDS`` (default 30; full run 60),
* every tag is heard by its 6 nearest gateways once per second; each gateway publishes one
  JSON array per second (Minew/Cassia-style batches).

Run: ``SPORING_BENCH_TAGS=15000 SPORING_BENCH_SECONDS=60 python -m pytest
benchmarks/bench_pipeline.py -s``. Needs ``scripts/services start``.
"""

from __future__ import annotations

import asyncio
import multiprocessing as mp
import os
import time
import uuid
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from floorplans.sample import load_sample_site

TAGS = int(os.environ.get("SPORING_BENCH_TAGS", "3000"))
SECONDS = float(os.environ.get("SPORING_BENCH_SECONDS", "30"))
PER_TAG = 6
WARM_UP_S = 5.0
MQTT = os.environ.get("SPORING_MQTT_URL", "mqtt://127.0.0.1:18830")
DB = os.environ.get("SPORING_DATABASE_URL",
                    "postgresql://sporing:sporing@127.0.0.1:15432/sporing")


def _layout(n_tags: int, seed: int = 3) -> tuple[list[str], list[list[tuple[str, float]]]]:
    """Tags placed on random gateways' levels; per gateway, its (tag, mean RSSI) list."""
    site = load_sample_site()
    rng = np.random.default_rng(seed)
    gws = site.gateways
    gx = np.array([g.x for g in gws])
    gy = np.array([g.y for g in gws])
    glv = np.array([g.level for g in gws])
    tags = [f"b0{i:010x}" for i in range(n_tags)]
    per_gw: list[list[tuple[str, float]]] = [[] for _ in gws]
    for tag in tags:
        home = int(rng.integers(len(gws)))
        same = np.flatnonzero(glv == glv[home])
        x = gx[home] + rng.uniform(-6, 6)
        y = gy[home] + rng.uniform(-3, 3)
        d = np.hypot(gx[same] - x, gy[same] - y)
        for j in np.argsort(d)[:PER_TAG]:
            rssi = -59.0 - 26.0 * np.log10(max(float(d[j]), 1.0))
            per_gw[int(same[j])].append((tag, rssi))
    return [g.id for g in gws], per_gw


def _bodies(gid: str, lst: list[tuple[str, float]], rng: np.random.Generator,
            variants: int) -> list[list[bytes]]:
    """``variants`` renderings of one gateway's array (fresh RSSI noise in each), split at the
    time stamps: a real gateway renders its own payloads, so the publisher only pastes the
    current time in and its CPU is not charged to the service under test."""
    out = []
    for _ in range(variants):
        noise = rng.normal(0, 4, len(lst))
        body = ",".join(f'{{"ts":@TS@,"gateway":"{gid}","tag":"{t}","rssi":{int(r + e)}}}'
                        for (t, r), e in zip(lst, noise, strict=True))
        out.append(f"[{body}]".encode().split(b"@TS@"))
    return out


def _publish(url: str, prefix: str, n_tags: int, seconds: float, counter: Any) -> None:
    """Publisher process: every second, one canonical array per gateway, QoS 1 (one of 8
    pre-rendered noise variants per gateway, all its readings stamped with the send time)."""
    import paho.mqtt.client as paho

    from simulator.mqtt import parse_url

    gw_ids, per_gw = _layout(n_tags)
    rng = np.random.default_rng(1)
    gws = [(gid, len(lst), _bodies(gid, lst, rng, 8))
           for gid, lst in zip(gw_ids, per_gw, strict=True) if lst]
    b = parse_url(url)
    c = paho.Client(paho.CallbackAPIVersion.VERSION2, client_id=f"bench-{uuid.uuid4().hex[:8]}")
    c.max_inflight_messages_set(2000)
    c.max_queued_messages_set(0)
    c.connect(b.host, b.port)
    c.loop_start()
    t_end = time.time() + seconds
    nxt = time.time()
    last = None
    k = 0
    while nxt < t_end:
        now = time.time()
        if nxt > now:
            time.sleep(nxt - now)
        for gid, n, variants in gws:
            ts = b"%.3f" % time.time()
            last = c.publish(f"{prefix}/sporing/readings/{gid}",
                             ts.join(variants[k % len(variants)]), qos=1)
            with counter.get_lock():
                counter.value += n
        k += 1
        nxt += 1.0
    if last is not None:
        last.wait_for_publish(60)
    c.loop_stop()
    c.disconnect()


def _raw_mosquitto(url: str, n_tags: int, seconds: float = 5.0) -> float:
    """Readings/s through the broker alone: the same payloads, published flat out (QoS 1)
    and counted by a plain paho subscriber."""
    import threading

    import paho.mqtt.client as paho

    from simulator.mqtt import parse_url

    gw_ids, per_gw = _layout(n_tags)
    payloads = []
    for gid, lst in zip(gw_ids, per_gw, strict=True):
        if lst:
            body = ",".join(f'{{"ts":1.0,"gateway":"{gid}","tag":"{t}","rssi":{int(r)}}}'
                            for t, r in lst)
            payloads.append((len(lst), f"[{body}]"))
    b = parse_url(url)
    topic = f"bench-raw/{uuid.uuid4().hex[:8]}"
    got = {"readings": 0}
    done = threading.Event()
    sub = paho.Client(paho.CallbackAPIVersion.VERSION2)

    def on_message(_c: Any, _u: Any, msg: Any) -> None:
        got["readings"] += int(msg.topic.rsplit("/", 1)[1])

    sub.on_message = on_message
    sub.connect(b.host, b.port)
    sub.subscribe(f"{topic}/#", qos=1)
    sub.loop_start()
    time.sleep(0.5)
    pub = paho.Client(paho.CallbackAPIVersion.VERSION2)
    pub.max_inflight_messages_set(2000)
    pub.max_queued_messages_set(0)
    pub.connect(b.host, b.port)
    pub.loop_start()
    sent = 0
    rounds: list[Any] = []
    t0 = time.perf_counter()
    while time.perf_counter() - t0 < seconds:
        info = None
        for n, p in payloads:
            info = pub.publish(f"{topic}/{n}", p, qos=1)
            sent += n
        # at most two rounds unacknowledged: paho's queue is unbounded, and flooding it would
        # time the drain of a backlog (minutes), not the broker
        rounds.append(info)
        if len(rounds) > 2:
            rounds.pop(0).wait_for_publish(30)
    deadline = time.perf_counter() + 60
    while got["readings"] < sent and time.perf_counter() < deadline:
        time.sleep(0.05)
    elapsed = time.perf_counter() - t0
    done.set()
    for c in (pub, sub):
        c.loop_stop()
        c.disconnect()
    return got["readings"] / elapsed


def _raw_copy(database_url: str, n: int = 20_000) -> float:
    """Fixes/s of one ``TimescaleStore.write`` of ``n`` fixes (binary COPY + upsert)."""
    from tracker.records import FixRecord, WriteBatch
    from tracker.store import open_store

    store = open_store(database_url)
    store.upgrade()
    t = time.time() - 3600
    batch = WriteBatch([FixRecord(t + i * 1e-3, f"raw{i % 5000}", None, "fjellvik", "A", "A1",
                                  None, 1.0, 2.0, 1.5, 0.9, False) for i in range(n)])
    t0 = time.perf_counter()
    store.write(batch)
    dt = time.perf_counter() - t0
    store.close()
    return n / dt


async def _run_service(database_url: str, spool: Path) -> dict[str, Any]:
    from tracker.service import Service
    from tracker.settings import Settings

    prefix = f"bench/{uuid.uuid4().hex[:8]}"
    settings = Settings.load(None, role="ingest",
                             mqtt={"url": f"{MQTT}?session_expiry=60",
                                   "client_id": f"bench-{uuid.uuid4().hex[:8]}",
                                   "topic_prefix": prefix, "batch_size": 5000},
                             database={"url": database_url, "spool_dir": str(spool)},
                             api={"ops_port": 0}, log={"level": "WARNING"})
    latencies: list[tuple[float, float]] = []  # (when observed, seconds)
    stored_lag: list[float] = []
    async with Service(settings) as svc:
        await svc.ingestor.wait_connected(10)
        inner = svc.pipeline.observe_latency
        svc.pipeline.observe_latency = lambda s: (latencies.append((time.time(), s)),
                                                  inner and inner(s))
        probe = svc.writer.store

        class Lag:
            def write(self, batch: Any) -> None:
                probe.write(batch)
                if batch.fixes:
                    stored_lag.append(time.time() - max(f.ts for f in batch.fixes))

            def __getattr__(self, name: str) -> Any:
                return getattr(probe, name)

        svc.writer.store = Lag()
        counter = mp.Value("q", 0)
        proc = mp.get_context("fork").Process(target=_publish,
                                              args=(MQTT, prefix, TAGS, SECONDS, counter))
        t0 = time.perf_counter()
        started = time.time()
        proc.start()
        while proc.is_alive():
            await asyncio.sleep(0.5)
        t_pub = time.perf_counter() - t0
        published = counter.value
        deadline = time.perf_counter() + 120
        while (svc.pipeline.stats.readings_in < published and time.perf_counter() < deadline):
            await asyncio.sleep(0.2)
        t_in = time.perf_counter() - t0
        await asyncio.sleep(3.0)
        await asyncio.to_thread(svc.writer.flush, 120)
        st = svc.pipeline.stats
        return {"published": published, "received": st.readings_in, "t_publish": t_pub,
                "t_received": t_in, "ticks": st.ticks, "ticks_skipped": st.ticks_skipped,
                "fixes": st.fixes, "fixes_stored": st.fixes_stored,
                "max_tick_s": st.max_tick_duration_s, "latencies": latencies,
                "started": started,
                "stored_lag": stored_lag}


@pytest.mark.integration
def test_pipeline_end_to_end_throughput(benchmark: Any, tmp_path: Path) -> None:
    import psycopg

    name = f"sporing_bench_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(DB, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    url = DB.rsplit("/", 1)[0] + f"/{name}"
    try:
        raw_mqtt = _raw_mosquitto(MQTT, TAGS)
        raw_copy = _raw_copy(url)
        out: dict[str, Any] = {}

        def run() -> None:
            out.update(asyncio.run(_run_service(url, tmp_path / "spool")))

        benchmark.pedantic(run, rounds=1, iterations=1)
    finally:
        with psycopg.connect(DB, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    rate = out["received"] / out["t_received"]
    offered = out["published"] / out["t_publish"]
    lat = np.array([s for _t, s in out["latencies"]] or [np.nan])
    # after the first WARM_UP_S seconds: every tag is new then (first fix and stay of 15,000
    # tags stored at once), which a running service sees only at start-up
    steady = np.array([s for t, s in out["latencies"] if t >= out["started"] + WARM_UP_S]
                      or [np.nan])
    lag = np.array(out["stored_lag"]) if out["stored_lag"] else np.array([np.nan])
    info = {
        "tags": TAGS, "seconds": SECONDS, "readings_published": out["published"],
        "offered_readings_per_s": round(offered), "sustained_readings_per_s": round(rate),
        "received_to_stored_p50_s": round(float(np.percentile(lat, 50)), 3),
        "received_to_stored_p99_s": round(float(np.percentile(lat, 99)), 3),
        "steady_received_to_stored_p50_s": round(float(np.percentile(steady, 50)), 3),
        "steady_received_to_stored_p99_s": round(float(np.percentile(steady, 99)), 3),
        "steady_received_to_stored_max_s": round(float(np.max(steady)), 3),
        "fix_time_to_stored_p50_s": round(float(np.percentile(lag, 50)), 3),
        "fix_time_to_stored_p99_s": round(float(np.percentile(lag, 99)), 3),
        "ticks": out["ticks"], "ticks_skipped": out["ticks_skipped"],
        "max_tick_s": round(out["max_tick_s"], 3), "fixes": out["fixes"],
        "fixes_stored": out["fixes_stored"],
        "raw_mosquitto_readings_per_s": round(raw_mqtt),
        "raw_copy_fixes_per_s": round(raw_copy),
        "ratio_pipeline_vs_raw_mosquitto": round(rate / raw_mqtt, 3),
    }
    benchmark.extra_info.update(info)
    print("\n" + "\n".join(f"{k}: {v}" for k, v in info.items()))
    assert out["received"] >= out["published"]
