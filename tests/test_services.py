"""The test services are real: a message crosses Mosquitto; a hypertable lives in TimescaleDB."""

from __future__ import annotations

import threading
from urllib.parse import urlsplit

import paho.mqtt.client as mqtt
import psycopg
import pytest

pytestmark = pytest.mark.integration


def test_publish_and_receive_through_mosquitto(mqtt_url: str, unique_topic: str) -> None:
    parts = urlsplit(mqtt_url)
    got: list[tuple[str, bytes, int]] = []
    subscribed = threading.Event()
    done = threading.Event()

    def on_subscribe(*_args: object) -> None:
        subscribed.set()

    def on_message(_c: mqtt.Client, _u: object, msg: mqtt.MQTTMessage) -> None:
        got.append((msg.topic, msg.payload, msg.qos))
        if len(got) == 3:
            done.set()

    sub = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv5)
    sub.on_subscribe = on_subscribe
    sub.on_message = on_message
    sub.connect(parts.hostname or "127.0.0.1", parts.port or 1883)
    sub.subscribe(f"{unique_topic}/#", qos=1)
    sub.loop_start()
    try:
        assert subscribed.wait(5), "SUBACK not received"
        pub = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv311)
        pub.connect(parts.hostname or "127.0.0.1", parts.port or 1883)
        pub.loop_start()
        for i in range(3):
            info = pub.publish(f"{unique_topic}/gw-{i}", f'{{"n": {i}}}'.encode(), qos=1)
            info.wait_for_publish(5)
        pub.loop_stop()
        pub.disconnect()
        assert done.wait(5), f"received only {len(got)} of 3 messages"
    finally:
        sub.loop_stop()
        sub.disconnect()
    expected = [(f"{unique_topic}/gw-{i}", f'{{"n": {i}}}'.encode(), 1) for i in range(3)]
    assert sorted(got) == expected


def test_hypertable_roundtrip_in_timescaledb(fresh_database: str) -> None:
    with psycopg.connect(fresh_database, autocommit=True) as conn:
        conn.execute("CREATE EXTENSION IF NOT EXISTS timescaledb")
        conn.execute(
            "CREATE TABLE positions (time timestamptz NOT NULL, tag text NOT NULL, x real, y real)"
        )
        row = conn.execute("SELECT create_hypertable('positions', by_range('time'))").fetchone()
        assert row is not None
        with conn.cursor().copy("COPY positions (time, tag, x, y) FROM STDIN") as copy:
            for i in range(100):
                copy.write_row((f"2026-11-26 08:{i // 60:02d}:{i % 60:02d}+00", f"t{i % 7}", i, -i))
        row = conn.execute("SELECT count(*), count(DISTINCT tag) FROM positions").fetchone()
        n, tags = row if row is not None else (0, 0)
        assert (n, tags) == (100, 7)
        ht = conn.execute(
            "SELECT hypertable_name FROM timescaledb_information.hypertables"
        ).fetchall()
        assert ht == [("positions",)]
        chunks = conn.execute("SELECT count(*) FROM show_chunks('positions')").fetchone()
        assert chunks is not None and chunks[0] >= 1
