"""Adapter throughput: messages/s and readings/s on realistic payloads.

The baseline a user would write is "orjson.loads the payload and pick the fields" with no
validation; the ratio (adapter time / bare decode time) is recorded in ``extra_info``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import orjson
import pytest

from gateway.adapters import ADAPTERS, ParseResult
from gateway.capture import iter_capture
from tests.conftest import shared_path

NOW = 1_700_000_000.0


def _minew_batch(n: int = 50) -> bytes:
    recs: list[dict[str, Any]] = [{"timestamp": "2023-11-14T22:13:19.500Z", "type": "Gateway",
                                   "mac": "AC233FC03641", "gatewayFree": 89,
                                   "gatewayLoad": 0.03}]
    for i in range(n):
        recs.append({"timestamp": "2023-11-14T22:13:19.000Z", "type": "iBeacon",
                     "mac": f"C30000{i:06X}", "bleName": "", "rssi": -60 - i % 30,
                     "ibeaconUuid": "E2C56DB5DFFB48D2B060D0F5A71096E0", "ibeaconMajor": 1,
                     "ibeaconMinor": i, "ibeaconTxPower": -59, "battery": 90})
    return orjson.dumps(recs)


def _espresense() -> list[tuple[str, bytes, float]]:
    path = shared_path("fixtures", "gateway-payloads", "espresense-capture-stationary.jsonl")
    return [(m.topic, m.payload, m.received_at) for m in iter_capture(path)][:200]


def _baseline_ms(run: Callable[[], object], rounds: int = 30) -> float:
    import time
    best = float("inf")
    for _ in range(rounds):
        t0 = time.perf_counter()
        run()
        best = min(best, time.perf_counter() - t0)
    return best * 1e3


def test_minew_batch_50(benchmark: Any) -> None:
    payload = _minew_batch()
    parse = ADAPTERS["minew"]

    def run() -> ParseResult:
        return parse("/gw/AC233FC03641/status", payload, NOW)

    r = benchmark(run)
    assert len(r.readings) == 50

    def bare() -> list[tuple[Any, Any]]:
        return [(d["mac"], d.get("rssi")) for d in orjson.loads(payload)]

    mean = benchmark.stats.stats.mean
    benchmark.extra_info["messages_per_s"] = round(1 / mean)
    benchmark.extra_info["readings_per_s"] = round(50 / mean)
    benchmark.extra_info["ratio_vs_bare_orjson"] = round(mean * 1e3 / _baseline_ms(bare), 1)


def test_espresense_single_messages(benchmark: Any) -> None:
    msgs = _espresense()
    parse = ADAPTERS["espresense"]

    def run() -> int:
        return sum(len(parse(t, p, ts).readings) for t, p, ts in msgs)

    assert benchmark(run) == len(msgs)

    def bare() -> list[Any]:
        return [orjson.loads(p)["rssi"] for _, p, _ in msgs]

    mean = benchmark.stats.stats.mean
    benchmark.extra_info["messages_per_s"] = round(len(msgs) / mean)
    benchmark.extra_info["readings_per_s"] = round(len(msgs) / mean)
    benchmark.extra_info["ratio_vs_bare_orjson"] = round(mean * 1e3 / _baseline_ms(bare), 1)


@pytest.mark.parametrize(("fmt", "name", "topic"), [
    ("openmqttgateway", "omg-1.json", None), ("ruuvi", "ruuvi-http-1.json", "h"),
    ("ingics", "ingics-2.txt", "i"), ("pozyx", "pozyx-1.json", None),
])
def test_other_adapters(benchmark: Any, fmt: str, name: str, topic: str | None) -> None:
    p = shared_path("fixtures", "gateway-payloads", name)
    t = p.with_suffix(".topic")
    tp = topic if topic is not None else t.read_text().strip()
    payload = p.read_bytes()
    parse = ADAPTERS[fmt]
    r = benchmark(lambda: parse(tp, payload, NOW))
    mean = benchmark.stats.stats.mean
    benchmark.extra_info["messages_per_s"] = round(1 / mean)
    benchmark.extra_info["readings_per_s"] = round((len(r.readings) + len(r.positions)) / mean)
