"""Publishing a short simulation through a real Mosquitto (integration)."""

from __future__ import annotations

import os
import socket
import threading
import time
import uuid
from typing import Any

import orjson
import pytest

from simulator.config import Scenario
from simulator.mqtt import parse_url

URL = os.environ.get("SPORING_MQTT_URL", "mqtt://127.0.0.1:18830")


def test_parse_url() -> None:
    b = parse_url("mqtts://u%40x:p@broker:8884")
    assert (b.host, b.port, b.tls, b.username, b.password) == ("broker", 8884, True, "u@x", "p")
    assert parse_url("mqtt://h").port == 1883
    with pytest.raises(ValueError, match="scheme"):
        parse_url("http://h")


def _reachable() -> bool:
    b = parse_url(URL)
    try:
        with socket.create_connection((b.host, b.port), timeout=1.0):
            return True
    except OSError:
        return False


@pytest.mark.integration
@pytest.mark.parametrize("fmt", ["canonical", "mixed"])
def test_publish_scenario_through_mosquitto(fmt: str) -> None:
    from tests.conftest import service_unavailable

    if not _reachable():
        service_unavailable("Mosquitto")
    from floorplans.sample import load_sample_site
    from simulator.engine import Simulation
    from simulator.mqtt import connect, publish_all
    from simulator.run import encode_messages

    prefix = f"test-{uuid.uuid4().hex[:10]}"
    sim = Simulation(load_sample_site(), Scenario(assets=15, duration_s=3, seed=9))
    expected = [m for _, msgs in encode_messages(sim, fmt, prefix) for m in msgs]
    got: list[tuple[str, bytes]] = []
    done = threading.Event()
    sub = connect(URL)

    def on_message(_c: Any, _u: Any, msg: Any) -> None:
        got.append((msg.topic, bytes(msg.payload)))
        if len(got) >= len(expected):
            done.set()

    sub.on_message = on_message
    sub.subscribe(f"{prefix}/#", qos=1)
    time.sleep(0.3)
    sim2 = Simulation(load_sample_site(), Scenario(assets=15, duration_s=3, seed=9))
    pub = connect(URL)
    try:
        n = publish_all(pub, (msgs for _, msgs in encode_messages(sim2, fmt, prefix)), qos=1)
        assert n == len(expected) > 0
        done.wait(20)
    finally:
        for c in (pub, sub):
            c.loop_stop()
            c.disconnect()
    assert sorted(got) == sorted((m.topic, m.payload) for m in expected)
    for topic, payload in got:
        assert topic.startswith(prefix + "/")
        orjson.loads(payload)
