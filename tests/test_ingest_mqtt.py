"""Live ingestion through the real Mosquitto: fixtures end to end, bad payloads in the stream,
a 10 MB payload, dead letters, the persistent session and a broker restart."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import subprocess
import time
import uuid
from pathlib import Path

import aiomqtt
import orjson
import pytest

from gateway.adapters import DEFAULT_TOPIC_MAP, parse_message
from gateway.canonical import Reading, ReadingBatch
from gateway.gatewaymap import GatewayMap
from gateway.ingest import Ingestor
from gateway.mqtt import Backoff, MqttSettings
from tests.conftest import ROOT, shared_path

pytestmark = pytest.mark.integration

FIXTURES = ("espresense-1.json", "espresense-2.json", "espresense-3.json", "omg-1.json",
            "omg-3.json", "omg-4.json", "omg-presence-1.json", "ruuvi-1.json", "ruuvi-2.json",
            "ruuvi-5.json", "minew-1.json", "cassia-1.json", "cassia-2.json",
            "ruuvi-status-1.json", "theengs-1.json")


class Collect:
    """A sink that records readings and lets a test wait for a count."""

    def __init__(self) -> None:
        self.readings: list[Reading] = []
        self._changed = asyncio.Event()

    async def __call__(self, readings: ReadingBatch) -> None:
        self.readings.extend(readings.to_readings())
        self._changed.set()

    async def wait_for(self, n: int, timeout: float = 20.0) -> list[Reading]:
        deadline = time.monotonic() + timeout
        while len(self.readings) < n:
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError(f"received {len(self.readings)} of {n} readings")
            self._changed.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._changed.wait(), timeout=left)
        return self.readings


def prefix_of(unique_topic: str) -> str:
    return unique_topic


def settings(url: str, **kw: object) -> MqttSettings:
    kw.setdefault("client_id", f"sporing-t-{uuid.uuid4().hex[:10]}")
    kw.setdefault("session_expiry_s", 300)
    return MqttSettings.from_url(url, **kw)


async def publish(url: str, items: list[tuple[str, bytes]], qos: int = 1) -> None:
    s = MqttSettings.from_url(url)
    async with aiomqtt.Client(s.host, s.port, identifier=f"pub-{uuid.uuid4().hex[:8]}",
                              protocol=aiomqtt.ProtocolVersion.V5) as c:
        for topic, payload in items:
            await c.publish(topic, payload, qos=qos)


def canon(i: int, tag: str = "t") -> bytes:
    return orjson.dumps({"ts": time.time(), "gateway": f"gw-{i % 3}", "tag": f"{tag}{i}",
                         "rssi": -50 - i % 40})


async def test_fixtures_end_to_end(mqtt_url: str, unique_topic: str) -> None:
    prefix = prefix_of(unique_topic)
    tmap = [*DEFAULT_TOPIC_MAP, ("/sur/+/status", "minew")]
    expected: list[tuple[str, str, float | None, float | None]] = []
    items = []
    for name in FIXTURES:
        p: Path = shared_path("fixtures", "gateway-payloads", name)
        topic = p.with_suffix(".topic").read_text().strip()
        payload = p.read_bytes()
        items.append((f"{prefix}/{topic}", payload))
        try:
            res = parse_message(topic, payload, time.time(), patterns=tmap)
        except Exception:
            continue
        expected += [(r.gateway, r.tag, r.rssi, r.tx_power) for r in res.readings]
    sink = Collect()
    async with Ingestor(settings(mqtt_url), sink, topic_map=tmap, topic_prefix=prefix) as ing:
        await ing.wait_connected()
        await publish(mqtt_url, items)
        got = await sink.wait_for(len(expected))
        await asyncio.sleep(0.3)
    assert sorted((r.gateway, r.tag, r.rssi, r.tx_power) for r in got) == sorted(expected)
    assert len(expected) >= 10
    assert ing.stats.messages["espresense"] == 3 and ing.stats.messages["ruuvi"] == 4
    assert ing.stats.rejects[("unknown", "bad_identity")] == 1  # theengs-1's truncated id
    assert ing.stats.reject_total() == 1
    assert ing.stats.statuses >= 3  # minew Gateway record, cassia x2, ruuvi gw_status
    states = {row.gateway: row for row in ing.health.snapshot()}
    assert states["ac233fc03641"].state == "online" and states["basement"].readings == 1


async def test_bad_payload_does_not_stop_the_stream_and_goes_to_dead_letter(
        mqtt_url: str, unique_topic: str) -> None:
    prefix = prefix_of(unique_topic)
    sink = Collect()
    ing = Ingestor(settings(mqtt_url), sink, topic_prefix=prefix, dead_letter=True,
                   gateway_map=GatewayMap(["gw-0", "gw-1", "gw-2"]),
                   dead_letter_prefix=f"{prefix}/deadletter")
    dead: list[aiomqtt.Message] = []
    s = MqttSettings.from_url(mqtt_url)
    async with aiomqtt.Client(s.host, s.port, protocol=aiomqtt.ProtocolVersion.V5) as watch:
        await watch.subscribe(f"{prefix}/deadletter/#", qos=1)
        async with ing:
            await ing.wait_connected()
            topic = f"{prefix}/sporing/readings/gw-1"
            await publish(mqtt_url, [(topic, canon(1)), (topic, b'{"ts": 1, "rssi": [}'),
                                      (topic, canon(2))])
            got = await sink.wait_for(2)
            async with asyncio.timeout(10):
                async for m in watch.messages:
                    dead.append(m)
                    break
    assert sorted(r.tag for r in got) == ["t1", "t2"]
    assert ing.stats.rejects[("gw-1", "invalid_json")] == 1
    (m,) = dead
    assert m.topic.value == f"{prefix}/deadletter/invalid_json"
    assert isinstance(m.payload, bytes)
    doc = orjson.loads(m.payload)
    assert doc["topic"] == topic and doc["payload_truncated"] is False
    assert doc["reason"] == "invalid_json"
    assert base64.b64decode(doc["payload_b64"]) == b'{"ts": 1, "rssi": [}'


async def test_ten_megabyte_payload_is_rejected_as_too_large(
        mqtt_url: str, unique_topic: str) -> None:
    prefix = prefix_of(unique_topic)
    sink = Collect()
    async with Ingestor(settings(mqtt_url), sink, topic_prefix=prefix,
                        gateway_map=GatewayMap(["gw-0", "gw-1", "gw-2"])) as ing:
        await ing.wait_connected()
        topic = f"{prefix}/sporing/readings/gw-2"
        huge = b"[" + b"1," * 5_000_000 + b"1]"
        assert len(huge) > 10_000_000
        await publish(mqtt_url, [(topic, huge), (topic, canon(3))])
        got = await sink.wait_for(1)
    assert [r.tag for r in got] == ["t3"]
    assert ing.stats.rejects[("gw-2", "too_large")] == 1
    assert ing.stats.bytes_in > 10_000_000


@pytest.mark.parametrize("protocol", ["5", "3.1.1"])
async def test_persistent_session_receives_what_was_published_while_away(
        mqtt_url: str, unique_topic: str, protocol: str) -> None:
    prefix = prefix_of(unique_topic)
    st = settings(mqtt_url, protocol=protocol)
    topic = f"{prefix}/sporing/readings/gw-0"
    sink = Collect()
    async with Ingestor(st, sink, topic_prefix=prefix) as ing:
        await ing.wait_connected()
        await publish(mqtt_url, [(topic, canon(i, "a")) for i in range(5)])
        await sink.wait_for(5)
    # away: the broker queues QoS 1 messages for the session of this client id
    await publish(mqtt_url, [(topic, canon(i, "b")) for i in range(200)])
    sink2 = Collect()
    async with Ingestor(st, sink2, topic_prefix=prefix) as ing2:
        await ing2.wait_connected()
        got = await sink2.wait_for(200)
        await asyncio.sleep(0.3)
    assert sorted(r.tag for r in got) == sorted(f"b{i}" for i in range(200))
    if protocol == "3.1.1":  # end the 3.1.1 session (it would otherwise live for a day)
        async with aiomqtt.Client(st.host, st.port, identifier=st.client_id,
                                  protocol=aiomqtt.ProtocolVersion.V311, clean_session=True):
            pass


def services(action: str) -> None:
    subprocess.run([str(ROOT / "scripts" / "services"), action], check=True,
                   capture_output=True, timeout=60)


async def test_broker_restart_reconnects_and_loses_no_qos1_message(
        mqtt_url: str, unique_topic: str) -> None:
    prefix = prefix_of(unique_topic)
    topic_live = f"{prefix}/sporing/readings/gw-live"
    topic_away = f"{prefix}/sporing/readings/gw-away"
    fast = Backoff(base_s=0.2, cap_s=1.0)
    live_sink, away_sink = Collect(), Collect()
    live = Ingestor(settings(mqtt_url), live_sink, topic_map=[(topic_live, "canonical")],
                    backoff=fast)
    st_away = settings(mqtt_url)
    # the away client subscribes once (creating its session), then goes away
    async with Ingestor(st_away, away_sink, topic_map=[(topic_away, "canonical")]) as away:
        await away.wait_connected()
    try:
        async with live:
            await live.wait_connected()
            await publish(mqtt_url, [(topic_live, canon(i, "before")) for i in range(50)])
            await publish(mqtt_url, [(topic_away, canon(i, "queued")) for i in range(100)])
            await live_sink.wait_for(50)
            await asyncio.sleep(2.5)  # autosave_interval 1: the queue is on disk
            await asyncio.to_thread(services, "mqtt-stop")
            await asyncio.sleep(1.0)
            assert not live.connected.is_set()
            await asyncio.to_thread(services, "mqtt-start")
            await live.wait_connected(timeout=30)  # by itself
            await publish(mqtt_url, [(topic_live, canon(i, "after")) for i in range(100)])
            await live_sink.wait_for(150)
            await asyncio.sleep(0.3)
    finally:
        await asyncio.to_thread(services, "mqtt-start")
    tags = [r.tag for r in live_sink.readings]
    assert live.stats.connections == 2
    # every message published after the restart arrived (QoS 1; duplicates are allowed)
    assert {f"after{i}" for i in range(100)} <= set(tags)
    assert {f"before{i}" for i in range(50)} <= set(tags)
    # the queue of the absent session survived the restart (Mosquitto persistence)
    async with Ingestor(st_away, away_sink, topic_map=[(topic_away, "canonical")]) as away:
        await away.wait_connected()
        got = await away_sink.wait_for(100)
    assert {r.tag for r in got} == {f"queued{i}" for i in range(100)}
