"""Sharding by tag: the stable hash, the batch codec, and two parser workers on a shared
subscription feeding two positioning workers through the real Mosquitto."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import time
import uuid
from collections import Counter, defaultdict
from datetime import UTC, datetime

import aiomqtt
import orjson
import pytest

from gateway.canonical import Reading, ReadingBatch
from gateway.errors import PayloadError
from gateway.gatewaymap import GatewayMap
from gateway.mqtt import MqttSettings
from gateway.sharding import (
    ShardingError,
    assign_shards,
    encode_batch,
    parse_shard_payload,
    parser_worker,
    positioning_worker,
    shard_of,
    stable_hash,
)


def test_stable_hash_is_stable_across_processes() -> None:
    tags = ["c3000025ef6a", "ibeacon:e2c56db5dffb48d2b060d0f5a71096e0:0:0", "watch:darrell"]
    code = ("from gateway.sharding import stable_hash; import sys; "
            "print([stable_hash(t) for t in sys.argv[1:]])")
    out = subprocess.run([sys.executable, "-c", code, *tags], capture_output=True, text=True,
                         check=True, env={"PYTHONHASHSEED": "123", "PATH": ""}).stdout
    assert out.strip() == str([stable_hash(t) for t in tags])
    assert stable_hash("c3000025ef6a") == int.from_bytes(
        __import__("hashlib").blake2b(b"c3000025ef6a", digest_size=8).digest(), "big")


def test_shards_spread_evenly_and_assignment_partitions() -> None:
    counts = Counter(shard_of(f"{i:012x}", 16) for i in range(16_000))
    assert set(counts) == set(range(16)) and max(counts.values()) < 1.15 * 1000
    owned = [assign_shards(w, 3, 16) for w in range(3)]
    assert sorted(k for ks in owned for k in ks) == list(range(16))
    with pytest.raises(ShardingError):
        assign_shards(3, 3, 16)
    with pytest.raises(ShardingError):
        shard_of("x", 0)


def test_shard_codec_roundtrip_and_errors() -> None:
    """What a parser worker publishes, a positioning worker reads back as it was (times kept
    even when they are not the receipt time; ms and 0.1 mm as in reading_to_json); bad
    elements are reported by index and the rest kept."""
    rs = [Reading(1_700_000_000.1234567, "gw-1", "a", rssi=-60.0, tx_power=-59.0),
          Reading(1_700_000_000.5, "gw-2", "b", range_m=3.123456789),
          Reading(1_700_000_001.0, "gw-1", "a", rssi=-61.0)]
    payload = encode_batch(ReadingBatch.from_readings(rs))
    assert b"1700000000.123," in payload and b"3.1235" in payload
    back = parse_shard_payload("s/0", payload, 1_800_000_000.0)
    assert back.readings == [orjson_roundtrip(r) for r in rs] and not back.errors
    bad = parse_shard_payload("s/0", b'[{"ts": 1700000000, "gateway": "g", "tag": "t", '
                                     b'"rssi": 99}, {"ts": 1700000000, "gateway": "g", '
                                     b'"tag": "u", "rssi": -70}]', 1_700_000_001.0)
    assert [r.tag for r in bad.readings] == ["u"]
    assert bad.errors[0].reason == "absurd_rssi" and "element 0" in bad.errors[0].detail
    with pytest.raises(PayloadError, match="truncated"):
        parse_shard_payload("s/0", b"[", 0.0)
    with pytest.raises(PayloadError, match="invalid_json"):
        parse_shard_payload("s/0", b"[}", 0.0)
    with pytest.raises(PayloadError, match="wrong_type"):
        parse_shard_payload("s/0", b"42", 0.0)


def orjson_roundtrip(r: Reading) -> Reading:
    """``r`` as reading_to_json writes it."""
    return Reading(round(r.ts, 3), r.gateway, r.tag, r.rssi,
                   None if r.range_m is None else round(r.range_m, 4), r.tx_power)


def test_parser_worker_refuses_to_consume_its_own_output() -> None:
    with pytest.raises(ShardingError, match="match the shard output"):
        parser_worker(MqttSettings(client_id="p"), 4, prefix="sporing/readings")


def minew_batch(gw_mac: str, records: list[tuple[str, int]]) -> bytes:
    now = datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
    body: list[dict[str, object]] = [{"timestamp": now, "type": "Gateway", "mac": gw_mac,
                                      "gatewayFree": 90, "gatewayLoad": 0.1}]
    body += [{"timestamp": now, "type": "Unknown", "mac": tag, "rssi": rssi}
             for tag, rssi in records]
    return orjson.dumps(body)


@pytest.mark.integration
async def test_two_parsers_two_positioners_every_tag_to_exactly_one_worker(
        mqtt_url: str, unique_topic: str) -> None:
    n_shards, n_tags, n_gws, per_pair = 8, 40, 4, 10
    gw_macs = [f"ac233fc0{i:04x}" for i in range(n_gws)]
    gmap = GatewayMap([f"gw-{i}" for i in range(n_gws)],
                      {mac: f"gw-{i}" for i, mac in enumerate(gw_macs)})
    tags = [f"c30000{i:06x}" for i in range(n_tags)]
    base = MqttSettings.from_url(mqtt_url, session_expiry_s=300)
    run = uuid.uuid4().hex[:8]
    shard_prefix = f"{unique_topic}/shards"
    group = f"g{run}"
    received: dict[int, list[Reading]] = defaultdict(list)

    def sink_for(w: int):  # type: ignore[no-untyped-def]
        async def sink(readings: ReadingBatch) -> None:
            received[w].extend(readings.to_readings())
        return sink

    positioners = [positioning_worker(base.with_client_id(f"pos-{run}-{w}"),
                                      assign_shards(w, 2, n_shards), sink_for(w),
                                      prefix=shard_prefix) for w in range(2)]
    parsers = [parser_worker(base.with_client_id(f"parse-{run}-{p}"), n_shards,
                             topic_map=[("/gw/+/status", "minew")], group=group,
                             prefix=shard_prefix, topic_prefix=unique_topic,
                             gateway_map=gmap) for p in range(2)]
    # every (gateway, tag) pair heard per_pair times with distinct RSSI: readings are unique
    messages = []
    for j in range(per_pair):
        for g, mac in enumerate(gw_macs):
            recs = [(tag, -40 - j - 10 * g) for tag in tags]
            for k in range(0, n_tags, 20):  # 20 records per message
                messages.append((f"{unique_topic}//gw/{mac}/status", minew_batch(mac,
                                                                                 recs[k:k + 20])))
    expected = {(f"gw-{g}", tag, float(-40 - j - 10 * g))
                for j in range(per_pair) for g in range(n_gws) for tag in tags}
    n = len(expected)
    assert n == n_tags * n_gws * per_pair

    async with positioners[0], positioners[1], parsers[0], parsers[1]:
        for ing in (*positioners, *parsers):
            await ing.wait_connected()
        async with aiomqtt.Client(base.host, base.port, identifier=f"pub-{run}",
                                  protocol=aiomqtt.ProtocolVersion.V5) as pub:
            for topic, payload in messages:
                await pub.publish(topic, payload, qos=1)
        deadline = time.monotonic() + 30
        while sum(len(v) for v in received.values()) < n and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
        await asyncio.sleep(0.5)  # nothing more (no duplicates) should arrive

    # the shared subscription spread the vendor messages over both parsers
    per_parser = [p.stats.messages["minew"] for p in parsers]
    assert sum(per_parser) == len(messages) and min(per_parser) > 0
    keys = {w: [(r.gateway, r.tag, r.rssi) for r in rs] for w, rs in received.items()}
    all_keys = [k for ks in keys.values() for k in ks]
    # every reading received by exactly one positioning worker, exactly once
    assert len(all_keys) == n and set(all_keys) == expected
    # every tag's readings all went to the same worker: the one owning its shard
    owner = {tag: {w for w, ks in keys.items() for (_g, t, _r) in ks if t == tag}
             for tag in tags}
    assert all(len(ws) == 1 for ws in owner.values())
    for tag, (w,) in owner.items():
        assert shard_of(tag, n_shards) in assign_shards(w, 2, n_shards)
    assert set(keys) == {0, 1}
