"""The ingest loop's processing without a broker (Ingestor.handle), the MQTT settings, the
reconnect backoff and the gateway map."""

from __future__ import annotations

import random
from pathlib import Path

import numpy as np
import orjson
import pytest

from gateway.adapters import DEFAULT_TOPIC_MAP, ParseOptions, parse_message
from gateway.canonical import Reading, ReadingBatch
from gateway.errors import PayloadError, TopicFilterError
from gateway.gatewaymap import GatewayMap, GatewayMapError, normalize_gateway_key
from gateway.ingest import Ingestor
from gateway.mqtt import Backoff, MqttConfigError, MqttSettings
from tests.conftest import shared_path

NOW = 1_700_000_000.0
SETTINGS = MqttSettings(client_id="unit-test")


class Collect:
    def __init__(self) -> None:
        self.batches: list[list[Reading]] = []
        self.fail = 0

    async def __call__(self, readings: ReadingBatch) -> None:
        if self.fail:
            self.fail -= 1
            raise ConnectionError("sink down")
        self.batches.append(readings.to_readings())

    @property
    def readings(self) -> list[Reading]:
        return [r for b in self.batches for r in b]


def fixture(name: str) -> tuple[str, bytes]:
    p: Path = shared_path("fixtures", "gateway-payloads", name)
    return p.with_suffix(".topic").read_text().strip(), p.read_bytes()


def canon(gw: str, tag: str, rssi: float, ts: float = NOW) -> bytes:
    return orjson.dumps({"ts": ts, "gateway": gw, "tag": tag, "rssi": rssi})


# ----------------------------------------------------------------------------- Ingestor.handle
async def test_fixtures_give_the_adapters_readings() -> None:
    sink = Collect()
    ing = Ingestor(SETTINGS, sink, batch_size=10_000)
    expected = []
    for name in ("espresense-1.json", "omg-1.json", "ruuvi-1.json", "ruuvi-5.json",
                 "omg-presence-1.json"):
        topic, payload = fixture(name)
        expected += parse_message(topic, payload, NOW).readings
        assert await ing.handle(topic, payload, NOW) == 1
    await ing.flush()
    key = [(r.gateway, r.tag, r.rssi, r.tx_power) for r in sink.readings]
    assert key == [(r.gateway, r.tag, r.rssi, r.tx_power) for r in expected]
    assert ing.stats.messages == {"espresense": 1, "openmqttgateway": 2, "ruuvi": 2}
    assert sum(ing.stats.readings.values()) == 5 and not ing.stats.rejects
    by_format: dict[str, int] = {}
    for (_gw, fmt), n in ing.stats.readings.items():
        by_format[fmt] = by_format.get(fmt, 0) + n
    assert by_format == {"espresense": 1, "openmqttgateway": 2, "ruuvi": 2}


async def test_bad_input_is_counted_per_gateway_and_reason_and_never_raises() -> None:
    sink = Collect()
    gmap = GatewayMap(["gw-1", "gw-2"], {"kitchen": "gw-2"})
    ing = Ingestor(SETTINGS, sink, gateway_map=gmap, options=ParseOptions(max_bytes=10_000))
    bad = [
        ("sporing/readings/gw-1", b"{not json"),
        ("sporing/readings/gw-1", b'{"ts": "x", "gateway": "gw-1", "tag": "a", "rssi": -50}'),
        ("sporing/readings/gw-1", canon("gw-1", "a", 42.0)),       # absurd RSSI
        ("sporing/readings/gw-1", b'[{"ts": 1, "gateway": "gw-1"'),  # truncated array
        ("sporing/readings/gw-9", canon("gw-9", "a", -60.0)),      # unknown gateway
        ("sporing/readings/gw-1", b"[" + b" " * 20_000 + b"]"),    # too large
        ("no/adapter/here", b"{}"),
        ("espresense/devices/x/kitchen", b"\xff\xfe"),
    ]
    for topic, payload in bad:
        assert await ing.handle(topic, payload, NOW) == 0
    assert await ing.handle("espresense/devices/tag1/kitchen", b'{"id":"tag1","rssi":-70}',
                            NOW) == 1
    await ing.flush()
    assert [(r.gateway, r.tag) for r in sink.readings] == [("gw-2", "tag1")]
    rej = ing.stats.rejects
    assert rej[("gw-1", "invalid_json")] == 1 and rej[("gw-1", "wrong_type")] == 1
    assert rej[("gw-1", "absurd_rssi")] == 1 and rej[("gw-1", "truncated")] == 1
    assert rej[("gw-9", "unknown_gateway")] == 1 and rej[("gw-1", "too_large")] == 1
    assert rej[("unknown", "unsupported")] == 1
    assert rej[("gw-2", "invalid_utf8")] == 1  # labelled by the alias found in the topic
    assert ing.stats.reject_total() == len(bad)
    assert ing.stats.messages["unmatched"] == 1 and ing.stats.messages["too_large"] == 1


async def test_one_array_from_aliased_and_unknown_gateways_is_mapped_per_reading() -> None:
    """Vendor ids are resolved once per distinct id: two aliases of one floor-plan gateway
    merge, readings of an unknown gateway are dropped (and counted), order is kept."""
    sink = Collect()
    gmap = GatewayMap(["gw-1", "gw-2"], {"kitchen": "gw-2", "kjokken": "gw-2"})
    ing = Ingestor(SETTINGS, sink, gateway_map=gmap)
    rows = [("kitchen", "a", -60), ("gw-9", "b", -61), ("kjokken", "c", -62),
            ("gw-1", "d", -63), ("gw-9", "e", -64), ("kitchen", "f", -65)]
    payload = orjson.dumps([{"ts": NOW, "gateway": g, "tag": t, "rssi": r} for g, t, r in rows])
    assert await ing.handle("sporing/readings/mixed", payload, NOW) == 4
    await ing.flush()
    assert [(r.gateway, r.tag, r.rssi) for r in sink.readings] == [
        ("gw-2", "a", -60.0), ("gw-2", "c", -62.0), ("gw-1", "d", -63.0), ("gw-2", "f", -65.0)]
    assert ing.stats.rejects[("gw-9", "unknown_gateway")] == 1
    assert ing.stats.readings[("gw-2", "canonical")] == 3
    assert {r.gateway: r.readings for r in ing.health.snapshot(NOW)}["gw-2"] == 3


async def test_batch_element_errors_keep_the_rest() -> None:
    sink = Collect()
    ing = Ingestor(SETTINGS, sink)
    payload = b"[" + canon("gw-1", "a", -50) + b"," + canon("gw-1", "b", 99) + b"," + \
        canon("gw-1", "c", -60) + b"]"
    assert await ing.handle("sporing/readings/x", payload, NOW) == 2
    assert ing.stats.rejects[("gw-1", "absurd_rssi")] == 1


async def test_large_payload_parsed_in_a_thread_gives_the_same_readings() -> None:
    rows = [{"ts": NOW, "gateway": f"gw-{i % 7}", "tag": f"t{i}", "rssi": -40 - i % 50}
            for i in range(3000)]
    payload = orjson.dumps(rows)
    outs = []
    for threshold in (10**9, 1024):
        sink = Collect()
        ing = Ingestor(SETTINGS, sink, thread_threshold_bytes=threshold, batch_size=100_000)
        assert len(payload) > 1024
        assert await ing.handle("sporing/readings/all", payload, NOW) == 3000
        await ing.flush()
        outs.append(sink.readings)
    assert outs[0] == outs[1] and len(outs[0]) == 3000


async def test_batches_by_size_and_a_failing_sink_keeps_its_batch() -> None:
    sink = Collect()
    ing = Ingestor(SETTINGS, sink, batch_size=3, max_buffer=5)
    for i in range(3):
        await ing.handle("sporing/readings/g", canon("g", f"t{i}", -50), NOW)
    assert len(sink.batches) == 1 and len(sink.batches[0]) == 3
    sink.fail = 4
    for i in range(3, 6):
        await ing.handle("sporing/readings/g", canon("g", f"t{i}", -50), NOW)
    assert ing.stats.sink_errors == 1 and len(sink.batches) == 1
    for i in range(6, 9):  # buffer over max_buffer: the oldest are dropped and counted
        await ing.handle("sporing/readings/g", canon("g", f"t{i}", -50), NOW)
    await ing.flush()
    got = [r.tag for r in sink.readings]
    assert got[:3] == ["t0", "t1", "t2"] and ing.stats.dropped_readings == 1
    assert ing.stats.sink_errors == 4
    assert got[3:] == ["t4", "t5", "t6", "t7", "t8"]


async def test_readings_are_retimed_by_the_clock_tracker() -> None:
    sink = Collect()
    ing = Ingestor(SETTINGS, sink, batch_size=1)
    # a gateway whose clock is 5 s behind: device ts - 5 → corrected to receipt scale
    for i in range(10):
        t = NOW + i
        await ing.handle("sporing/readings/g", canon("g", "t", -50, ts=t - 5.0), t)
    ts = [r.ts for r in sink.readings]
    assert ts[-1] == pytest.approx(NOW + 9) and ing.clock.offset("g") == pytest.approx(-5.0)


async def test_status_records_reach_health() -> None:
    ing = Ingestor(SETTINGS, Collect())
    _topic, payload = fixture("minew-1.json")
    await ing.handle("/gw/x/status", payload, NOW)
    (row,) = ing.health.snapshot(NOW)
    assert row.gateway == "ac233fc03641" and row.status is not None
    assert row.status.load == pytest.approx(0.03) and row.readings == 1
    assert ing.stats.statuses == 1


def test_constructor_rejects_bad_configuration() -> None:
    with pytest.raises(TopicFilterError, match="unknown format"):
        Ingestor(SETTINGS, Collect(), topic_map=[("a/#", "nope")])
    with pytest.raises(TopicFilterError, match="'#'"):
        Ingestor(SETTINGS, Collect(), topic_map=[("a/#/b", "canonical")])
    with pytest.raises(TopicFilterError, match="share group"):
        Ingestor(SETTINGS, Collect(), share_group="a/b")
    ing = Ingestor(SETTINGS, Collect(), share_group="grp")
    assert ing.subscriptions[0] == f"$share/grp/{DEFAULT_TOPIC_MAP[0][0]}"


# ----------------------------------------------------------------------------- settings
def test_settings_from_url() -> None:
    s = MqttSettings.from_url("mqtts://u%40x:p%3Aw@broker.example:8884?client_id=sp-1"
                              "&protocol=3.1.1&ca=/etc/ca.pem&insecure=1&session_expiry=60")
    assert (s.host, s.port, s.username, s.password, s.client_id, s.protocol) == (
        "broker.example", 8884, "u@x", "p:w", "sp-1", "3.1.1")
    assert s.tls is not None and s.tls.ca_file == "/etc/ca.pem" and s.tls.insecure
    assert s.session_expiry_s == 60 and not s.clean_session and s.qos == 1
    assert "p:w" not in repr(s)
    d = MqttSettings.from_url("mqtt://h")
    assert (d.port, d.tls, d.protocol) == (1883, None, "5") and d.client_id
    assert MqttSettings.from_url("mqtts://h").port == 8883


@pytest.mark.parametrize(("url", "match"), [
    ("http://h", "scheme"), ("mqtt://h:99999", "port"), ("mqtt://", "host"),
    ("mqtt://h?foo=1", "unknown option"), ("mqtt://h?keepalive=x", "keepalive"),
    ("mqtt://h?protocol=4", "protocol"), ("mqtt://h?client_id=", "client_id"),
])
def test_settings_from_bad_url(url: str, match: str) -> None:
    with pytest.raises(MqttConfigError, match=match):
        MqttSettings.from_url(url)


# ----------------------------------------------------------------------------- backoff
def test_backoff_full_jitter_bounds_and_cap() -> None:
    b = Backoff()
    assert [b.ceiling(n) for n in range(8)] == [0.5, 1, 2, 4, 8, 16, 30, 30]
    assert b.ceiling(10_000) == 30.0
    rng = random.Random(7)
    for n in range(12):
        delays = [b.delay(n, rng) for _ in range(2000)]
        assert all(0.0 <= d <= b.ceiling(n) for d in delays)
        # full jitter: spread over the whole range, not clustered near the ceiling
        assert min(delays) < 0.05 * b.ceiling(n) and max(delays) > 0.95 * b.ceiling(n)
        assert sum(delays) / len(delays) == pytest.approx(b.ceiling(n) / 2, rel=0.1)
    with pytest.raises(ValueError):
        Backoff(base_s=2.0, cap_s=1.0)


# ----------------------------------------------------------------------------- gateway map
def test_gateway_map_identity_alias_and_unknown() -> None:
    m = GatewayMap(["gw-a1-003", "gw-a3-014"],
                   {"kitchen": "gw-a1-003", "AC:23:3F:C0:A1:B2": "gw-a3-014"})
    assert m.resolve("gw-a1-003") == "gw-a1-003"
    assert m.resolve("Kitchen") == "gw-a1-003"
    for spelling in ("ac233fc0a1b2", "AC-23-3F-C0-A1-B2", "ac23.3fc0.a1b2"):
        assert m.resolve(spelling) == "gw-a3-014"
    assert m.resolve("garage") is None and m.resolve("ac233fc0a1b3") is None
    assert m.guess_from_topic("ruuvi/AC:23:3F:C0:A1:B2/x") == "gw-a3-014"
    assert m.guess_from_topic("a/b/c") is None
    ident = GatewayMap.identity()
    assert ident.resolve("anything") == "anything" and ident.guess_from_topic("a/b") is None
    assert normalize_gateway_key(" AA:BB:CC:DD:EE:FF ") == "aabbccddeeff"


def test_gateway_map_rejects_inconsistent_aliases() -> None:
    with pytest.raises(GatewayMapError, match="no gateway 'gw-x'"):
        GatewayMap(["gw-1"], {"kitchen": "gw-x"})
    with pytest.raises(GatewayMapError, match="already maps"):
        GatewayMap(["gw-1", "gw-2"], {"aa:bb:cc:dd:ee:ff": "gw-1", "AABBCCDDEEFF": "gw-2"})


def test_payload_error_reasons_used_are_known() -> None:
    PayloadError("unknown_gateway", "x")  # the reason the ingest layer adds exists


def test_reading_batches_concatenate_and_select_with_their_vocabularies() -> None:
    a = ReadingBatch.from_readings([Reading(1.0, "gw-1", "x", rssi=-60.0),
                                    Reading(2.0, "gw-2", "y", range_m=3.5)])
    b = ReadingBatch.from_readings([Reading(3.0, "gw-2", "z", rssi=-61.0, tx_power=-59.0),
                                    Reading(4.0, "gw-3", "x", rssi=-62.0)])
    both = ReadingBatch.concat([a, ReadingBatch.empty(), b])
    assert both.to_readings() == a.to_readings() + b.to_readings()
    assert both.gateway_ids == ("gw-1", "gw-2", "gw-3") and both.tag_ids == ("x", "y", "z")
    assert ReadingBatch.concat([a]) is a and len(ReadingBatch.concat([])) == 0
    assert both.take(both.ts > 2.5).to_readings() == b.to_readings()
    assert both.take(np.array([3, 0])).to_readings() == [b.to_readings()[1],
                                                         a.to_readings()[0]]
