"""Alert delivery: signed webhooks with retry against a real local HTTP server, giving up,
order per target, the outbox surviving a restart, and MQTT on the real Mosquitto."""

from __future__ import annotations

import asyncio
import random
import socket
import threading
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import aiomqtt
import orjson
import pytest

from gateway.mqtt import MqttSettings
from tests.alertutil import T0, Clock, raised
from tracker.alerts.delivery import SIGNATURE_HEADER, Dispatcher, sign, verify_signature
from tracker.alerts.rules import AlertsConfig, parse_config
from tracker.alerts.store import AlertStore
from tracker.store import open_store
from tracker.store.base import Store

NOW = T0 + 5.0


@dataclass
class Hook:
    """A local webhook receiver answering with scripted statuses (then 200)."""

    url: str
    script: list[int] = field(default_factory=list)
    requests: list[tuple[dict[str, str], bytes]] = field(default_factory=list)


@pytest.fixture
def hook() -> Iterator[Hook]:
    state = Hook("")

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            state.requests.append(({k.lower(): v for k, v in self.headers.items()}, body))
            status = state.script.pop(0) if state.script else 200
            self.send_response(status)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    state.url = f"http://127.0.0.1:{server.server_address[1]}/hook"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield state
    server.shutdown()
    server.server_close()


def config(url: str, **extra: Any) -> AlertsConfig:
    return parse_config({"mqtt": False, "backoff_base_s": 1.0, "backoff_cap_s": 8.0,
                         "webhooks": [{"name": "ops", "url": url, "secret": "k3y"}], **extra})


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def test_webhook_retries_with_backoff_until_delivered(store: Store, hook: Hook) -> None:
    hook.script = [503, 503]  # the first two attempts fail
    alerts = AlertStore(store)
    clock = Clock(NOW)
    d = Dispatcher(alerts, config(hook.url, max_attempts=5), clock=clock, rng=random.Random(7))
    await d.register_targets()
    [ev] = alerts.record([raised(severity="critical")], now=clock())
    ceilings = []
    for attempt in range(2):
        assert await d.deliver_due() == 1
        [item] = alerts.outbox(state="pending")
        assert item.attempts == attempt + 1 and item.last_error == "ops: HTTP 503 Service " \
                                                                  "Unavailable"
        wait = item.next_attempt_at - clock.t
        ceilings.append(d.backoff.ceiling(attempt))
        assert 0 <= wait <= ceilings[-1]  # exponential backoff with full jitter
        assert await d.deliver_due() == (1 if wait == 0 else 0)  # not before it is due
        clock.t += ceilings[-1]
    assert ceilings == [1.0, 2.0]
    assert await d.deliver_due() == 1
    [done] = alerts.outbox(state="delivered")
    assert done.attempts == 3 and alerts.outbox(state="pending") == []
    assert len(hook.requests) == 3 and d.stats == {"delivered": 1, "retried": 2, "failed": 0}
    headers, body = hook.requests[-1]
    assert all(b == body for _, b in hook.requests)  # every attempt sends the same bytes
    assert headers["content-type"] == "application/json"
    assert headers["x-sporing-event"] == "raised"
    assert headers["x-sporing-delivery"] == str(ev.id)
    assert headers[SIGNATURE_HEADER.lower()] == sign("k3y", body)
    assert verify_signature("k3y", body, headers[SIGNATURE_HEADER.lower()])
    assert not verify_signature("other", body, headers[SIGNATURE_HEADER.lower()])
    msg = orjson.loads(body)
    assert msg["event_id"] == ev.id and msg["event"] == "raised"
    assert msg["alert"]["subject"] == "pump-1" and msg["alert"]["severity"] == "critical"
    await d.close()


async def test_gives_up_after_max_attempts_or_a_permanent_refusal(store: Store,
                                                                  hook: Hook) -> None:
    hook.script = [500] * 10
    alerts = AlertStore(store)
    clock = Clock(NOW)
    d = Dispatcher(alerts, config(hook.url, max_attempts=3), clock=clock)
    await d.register_targets()
    alerts.record([raised()], now=clock())
    for _ in range(5):
        await d.deliver_due()
        clock.t += 10.0
    [failed] = alerts.outbox(state="failed")
    assert failed.attempts == 3 and failed.last_error == "ops: HTTP 500 Internal Server Error"
    assert len(hook.requests) == 3
    # A 4xx (other than 408/425/429) is a refusal: no retry.
    hook.script = [400]
    alerts.record([raised("pump-2")], now=clock())
    await d.deliver_due()
    assert [i.attempts for i in alerts.outbox(state="failed")] == [3, 1]
    assert len(hook.requests) == 4
    await d.close()


async def test_one_target_keeps_event_order_while_retrying(store: Store, hook: Hook) -> None:
    hook.script = [503]
    alerts = AlertStore(store)
    clock = Clock(NOW)
    d = Dispatcher(alerts, config(hook.url), clock=clock)
    await d.register_targets()
    first, second = alerts.record([raised("pump-1"), raised("pump-2")], now=clock())
    await d.deliver_due()
    assert len(hook.requests) == 1  # the second waits behind the first's retry
    clock.t += 8.0
    await d.deliver_due()
    assert [orjson.loads(b)["event_id"] for _, b in hook.requests] == [first.id, first.id,
                                                                      second.id]
    await d.close()


async def test_a_restart_does_not_lose_undelivered_alerts(tmp_path: Path, hook: Hook) -> None:
    url = f"sqlite:///{tmp_path / 'alerts.db'}"
    s = open_store(url)
    s.upgrade()
    alerts = AlertStore(s)
    down = f"http://127.0.0.1:{free_port()}/hook"  # nothing listens there
    d = Dispatcher(alerts, config(down), clock=Clock(NOW))
    await d.register_targets()
    [ev] = alerts.record([raised()], now=NOW)
    await d.deliver_due()
    [item] = alerts.outbox(state="pending")
    assert item.attempts == 1 and "ConnectError" in (item.last_error or "")
    await d.close()
    s.close()
    # The process restarts; the receiver is back (same name, new address).
    s = open_store(url)
    try:
        alerts = AlertStore(s)
        d = Dispatcher(alerts, config(hook.url), clock=Clock(NOW + 60))
        await d.register_targets()
        assert await d.deliver_due() == 1
        assert [orjson.loads(b)["event_id"] for _, b in hook.requests] == [ev.id]
        assert [i.attempts for i in alerts.outbox(state="delivered")] == [2]
        await d.close()
    finally:
        s.close()


async def test_events_for_a_target_no_longer_configured_are_given_up(store: Store,
                                                                     hook: Hook) -> None:
    alerts = AlertStore(store)
    alerts.set_targets(["webhook:old"], at=NOW)
    alerts.record([raised()], now=NOW)
    d = Dispatcher(alerts, config(hook.url), clock=Clock(NOW))
    await d.deliver_due()
    [failed] = alerts.outbox(state="failed")
    assert failed.target == "webhook:old" and "not configured" in (failed.last_error or "")
    assert hook.requests == []
    await d.close()


async def test_run_delivers_until_stopped(store: Store, hook: Hook) -> None:
    alerts = AlertStore(store)
    d = Dispatcher(alerts, config(hook.url), poll_s=0.05)
    stop = asyncio.Event()
    task = asyncio.create_task(d.run(stop))
    for _ in range(200):  # wait (bounded) until the targets are registered
        if alerts.store.query("SELECT count(*) FROM alert_targets")[0][0]:
            break
        await asyncio.sleep(0.01)
    alerts.record([raised()], now=0.0)
    d.wake()
    for _ in range(500):
        if hook.requests:
            break
        await asyncio.sleep(0.01)
    stop.set()
    await asyncio.wait_for(task, timeout=10)
    assert len(hook.requests) == 1 and alerts.outbox(state="pending") == []
    await d.close()


@pytest.mark.integration
async def test_mqtt_delivery_on_the_real_broker(store: Store, mqtt_url: str,
                                                unique_topic: str) -> None:
    alerts = AlertStore(store)
    broker = MqttSettings.from_url(mqtt_url, client_id=f"t-{uuid.uuid4().hex[:8]}",
                                   clean_session=True)
    cfg = parse_config({"topic_prefix": unique_topic})
    d = Dispatcher(alerts, cfg, mqtt=broker, clock=Clock(NOW))
    await d.register_targets()
    async with aiomqtt.Client(broker.host, broker.port,
                              identifier=f"sub-{uuid.uuid4().hex[:8]}") as sub:
        await sub.subscribe(f"{unique_topic}/#", qos=1)
        [ev] = alerts.record([raised(rule="pumps-1a")], now=NOW)
        assert await d.deliver_due() == 1
        msg = await asyncio.wait_for(anext(aiter(sub.messages)), timeout=10)
    assert str(msg.topic) == f"{unique_topic}/pumps-1a" and msg.qos == 1
    assert isinstance(msg.payload, bytes)
    body = orjson.loads(msg.payload)
    assert body["event_id"] == ev.id and body["event"] == "raised"
    assert body["alert"]["rule"] == "pumps-1a"
    assert [i.target for i in alerts.outbox(state="delivered")] == ["mqtt"]
    await d.close()


async def test_mqtt_broker_down_is_retried(store: Store) -> None:
    alerts = AlertStore(store)
    broker = MqttSettings.from_url(f"mqtt://127.0.0.1:{free_port()}", client_id="t-down",
                                   clean_session=True, timeout_s=2.0)
    d = Dispatcher(alerts, parse_config({}), mqtt=broker, clock=Clock(NOW))
    await d.register_targets()
    alerts.record([raised()], now=NOW)
    await d.deliver_due()
    [item] = alerts.outbox(state="pending")
    assert item.target == "mqtt" and item.attempts == 1 and "MQTT" in (item.last_error or "")
    await d.close()
