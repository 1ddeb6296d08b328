"""Live ingest throughput through the real Mosquitto: readings/s into the sink, beside the raw
broker throughput (paho publish → aiomqtt receive, no parsing) of the same messages measured
in the same run. ``extra_info["ratio"]`` is ingest time / raw time (1.0 = parsing is free).

Skips cleanly when the broker is not reachable (the ``mqtt_url`` fixture).
"""

from __future__ import annotations

import asyncio
import threading
import time
import uuid
from typing import Any

import aiomqtt
import orjson
import paho.mqtt.client as paho
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from gateway.canonical import ReadingBatch
from gateway.ingest import Ingestor
from gateway.mqtt import MqttSettings
from tests.conftest import mqtt_url  # noqa: F401  (the fixture)

N_BATCHES = 400        # Minew-style messages of 50 records
N_SINGLES = 4000       # single canonical readings


def _minew(i: int, n: int = 50) -> bytes:
    now = time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime())
    recs: list[dict[str, Any]] = [{"timestamp": now, "type": "Gateway",
                                   "mac": f"AC233FC0{i % 16:04X}", "gatewayFree": 89,
                                   "gatewayLoad": 0.03}]
    recs += [{"timestamp": now, "type": "iBeacon", "mac": f"C30000{(i * n + k) % 5000:06X}",
              "rssi": -60 - k % 30, "ibeaconUuid": "E2C56DB5DFFB48D2B060D0F5A71096E0",
              "ibeaconMajor": 1, "ibeaconMinor": k, "ibeaconTxPower": -59}
             for k in range(n)]
    return orjson.dumps(recs)


def _single(i: int) -> bytes:
    return orjson.dumps({"ts": time.time(), "gateway": f"gw-{i % 40}",
                         "tag": f"c3{i % 5000:010x}", "rssi": -50 - i % 40})


def _publish(url: str, items: list[tuple[str, bytes]]) -> None:
    s = MqttSettings.from_url(url)
    c = paho.Client(CallbackAPIVersion.VERSION2, protocol=paho.MQTTv5)
    c.max_inflight_messages_set(1000)
    c.connect(s.host, s.port)
    c.loop_start()
    try:
        info = None
        for topic, payload in items:
            info = c.publish(topic, payload, qos=1)
        if info is not None:
            info.wait_for_publish(60)
    finally:
        c.loop_stop()
        c.disconnect()


async def _raw(url: str, prefix: str, items: list[tuple[str, bytes]]) -> float:
    s = MqttSettings.from_url(url)
    async with aiomqtt.Client(s.host, s.port, identifier=f"raw-{uuid.uuid4().hex[:8]}",
                              protocol=aiomqtt.ProtocolVersion.V5) as c:
        await c.subscribe(f"{prefix}/#", qos=1)
        t0 = time.perf_counter()
        th = threading.Thread(target=_publish, args=(url, items))
        th.start()
        n = 0
        async for _m in c.messages:
            n += 1
            if n == len(items):
                break
        dt = time.perf_counter() - t0
        th.join()
    return dt


async def _ingest(url: str, prefix: str, items: list[tuple[str, bytes]],
                  n_readings: int) -> float:
    got = 0
    done = asyncio.Event()

    async def sink(readings: ReadingBatch) -> None:
        nonlocal got
        got += len(readings)
        if got >= n_readings:
            done.set()

    st = MqttSettings.from_url(url, client_id=f"bench-{uuid.uuid4().hex[:8]}",
                               clean_session=True)
    async with Ingestor(st, sink, topic_prefix=prefix, batch_size=2000) as ing:
        await ing.wait_connected()
        t0 = time.perf_counter()
        th = threading.Thread(target=_publish, args=(url, items))
        th.start()
        await asyncio.wait_for(done.wait(), timeout=120)
        dt = time.perf_counter() - t0
        th.join()
    return dt


def _run(benchmark: Any, url: str, items_of: Any, n_readings: int) -> None:
    raw = min(asyncio.run(_raw(url, p, items_of(p)))
              for p in (f"bench/{uuid.uuid4().hex[:10]}" for _ in range(3)))
    times: list[float] = []

    def once() -> None:
        p = f"bench/{uuid.uuid4().hex[:10]}"
        times.append(asyncio.run(_ingest(url, p, items_of(p), n_readings)))

    benchmark.pedantic(once, rounds=3, iterations=1)
    best = min(times)
    n_msgs = len(items_of("x"))
    benchmark.extra_info.update({
        "messages": n_msgs, "readings": n_readings,
        "ingest_readings_per_s": round(n_readings / best),
        "ingest_messages_per_s": round(n_msgs / best),
        "raw_messages_per_s": round(n_msgs / raw),
        "ratio": round(best / raw, 2),
    })
    print(f"\n{benchmark.name}: ingest {n_readings / best:,.0f} readings/s "
          f"({n_msgs / best:,.0f} msg/s); raw Mosquitto {n_msgs / raw:,.0f} msg/s; "
          f"ingest/raw time ratio {best / raw:.2f}")


def test_ingest_minew_batches_of_50(benchmark: Any, mqtt_url: str) -> None:  # noqa: F811
    payloads = [_minew(i) for i in range(N_BATCHES)]
    _run(benchmark, mqtt_url,
         lambda p: [(f"{p}//gw/ac233fc0{i % 16:04x}/status", pl)
                    for i, pl in enumerate(payloads)], N_BATCHES * 50)


def test_ingest_single_canonical_readings(benchmark: Any, mqtt_url: str) -> None:  # noqa: F811
    payloads = [_single(i) for i in range(N_SINGLES)]
    _run(benchmark, mqtt_url,
         lambda p: [(f"{p}/sporing/readings/gw-{i % 40}", pl) for i, pl in enumerate(payloads)],
         N_SINGLES)


def _canonical_array(i: int, n: int = 90) -> bytes:
    t = time.time()
    return orjson.dumps([{"ts": round(t - k * 0.01, 3), "gateway": f"gw-{i % 40}",
                          "tag": f"c3{(i * n + k) % 15000:010x}", "rssi": -50 - k % 40,
                          "tx_power": -59} for k in range(n)])


@pytest.mark.parametrize("per_message", [90, 1])
def test_handle_canonical_arrays_in_process(benchmark: Any, per_message: int) -> None:
    """Parse, re-time and accept canonical messages (arrays of 90, the simulator's and
    ``bench_pipeline``'s format; or single readings, as ESPresense-like gateways send them),
    without the broker: the ingest CPU cost per reading and per message."""
    n_messages = N_BATCHES if per_message > 1 else N_SINGLES
    payloads = [_canonical_array(i, per_message) for i in range(n_messages)]
    if per_message == 1:
        payloads = [p[1:-1] for p in payloads]  # the bare object, not an array of one
    n_readings = n_messages * per_message

    class _Count:
        n = 0

        async def __call__(self, readings: Any) -> None:
            self.n += len(readings)

    async def once() -> tuple[float, int]:
        sink = _Count()
        ing = Ingestor(MqttSettings(client_id="bench"), sink, batch_size=10_000)
        c0 = time.process_time()
        for i, p in enumerate(payloads):
            await ing.handle(f"sporing/readings/gw-{i % 40}", p)
        await ing.flush()
        return time.process_time() - c0, sink.n

    runs: list[tuple[float, int]] = []
    benchmark.pedantic(lambda: runs.append(asyncio.run(once())), rounds=5, iterations=1)
    assert all(n == n_readings for _cpu, n in runs)
    cpu = min(c for c, _n in runs)  # the least disturbed round
    us = 1e6 * cpu / n_readings
    benchmark.extra_info.update({"readings": n_readings, "cpu_us_per_reading": round(us, 2),
                                 "cpu_us_per_message": round(1e6 * cpu / n_messages, 2)})
    print(f"\ncanonical, {per_message} per message, in process: {us:.2f} CPU-µs per reading, "
          f"{1e6 * cpu / n_messages:.1f} per message ({n_readings} readings in {n_messages} "
          "messages)")
