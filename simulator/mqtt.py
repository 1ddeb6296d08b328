"""MQTT: publish simulated traffic, record a broker's traffic, replay a capture.

Uses paho-mqtt >= 2 (``CallbackAPIVersion.VERSION2``). Broker URLs look like
``mqtt://user:pass@host:1883`` or ``mqtts://host:8883``.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

import paho.mqtt.client as paho

from gateway.capture import CapturedMessage, capture_line, iter_capture
from simulator.formats.base import Message

__all__ = ["BrokerUrl", "connect", "pace", "parse_url", "publish_all", "record"]


@dataclass(frozen=True, slots=True)
class BrokerUrl:
    """A parsed broker URL."""

    host: str
    port: int
    tls: bool
    username: str | None
    password: str | None


def parse_url(url: str) -> BrokerUrl:
    """Parse ``mqtt[s]://[user[:pass]@]host[:port]``.

    Raises:
        ValueError: naming what is wrong with the URL.
    """
    u = urlsplit(url)
    if u.scheme not in ("mqtt", "mqtts", "tcp", "ssl"):
        raise ValueError(f"broker URL {url!r}: scheme must be mqtt:// or mqtts://")
    if not u.hostname:
        raise ValueError(f"broker URL {url!r}: missing host")
    tls = u.scheme in ("mqtts", "ssl")
    try:
        port = u.port or (8883 if tls else 1883)
    except ValueError:
        raise ValueError(f"broker URL {url!r}: bad port") from None
    return BrokerUrl(u.hostname, port, tls, unquote(u.username) if u.username else None,
                     unquote(u.password) if u.password else None)


def connect(url: str, *, client_id: str | None = None, timeout_s: float = 10.0) -> Any:
    """Connect a paho client (network loop running in a thread).

    Raises:
        ValueError: bad URL.
        ConnectionError: the broker is unreachable or refused the connection.
    """
    b = parse_url(url)
    c = paho.Client(paho.CallbackAPIVersion.VERSION2,  # type: ignore[attr-defined]
                    client_id=client_id or f"sporing-sim-{uuid.uuid4().hex[:8]}")
    if b.username:
        c.username_pw_set(b.username, b.password)
    if b.tls:
        c.tls_set()
    c.max_queued_messages_set(0)
    c.max_inflight_messages_set(1000)
    try:
        c.connect(b.host, b.port, keepalive=30)
    except OSError as exc:
        raise ConnectionError(f"cannot connect to MQTT broker {b.host}:{b.port}: {exc}") from None
    c.loop_start()
    deadline = time.monotonic() + timeout_s
    while not c.is_connected():
        if time.monotonic() > deadline:
            c.loop_stop()
            raise ConnectionError(f"MQTT broker {b.host}:{b.port} did not accept the connection")
        time.sleep(0.01)
    return c


def pace(items: Iterable[tuple[float, list[Message]]], speed: float) -> Iterator[list[Message]]:
    """Release ``(sim_time, messages)`` groups at ``speed`` × real time (0: no waiting)."""
    t_wall0 = time.monotonic()
    t_sim0: float | None = None
    for t, msgs in items:
        if speed > 0:
            if t_sim0 is None:
                t_sim0 = t
            wait = (t - t_sim0) / speed - (time.monotonic() - t_wall0)
            if wait > 0:
                time.sleep(wait)
        yield msgs


def publish_all(client: Any, groups: Iterable[list[Message]], *, qos: int = 0) -> int:
    """Publish message groups; waits for QoS>0 acknowledgements. Returns messages sent."""
    n = 0
    last: Any = None
    for msgs in groups:
        for m in msgs:
            last = client.publish(m.topic, m.payload, qos=qos)
            n += 1
    if last is not None and qos > 0:
        last.wait_for_publish(timeout=30)
    return n


def record(url: str, topic: str, out: Path, *, duration_s: float | None = None,
           count: int | None = None, qos: int = 0) -> int:
    """Record messages of ``topic`` into a ``mosquitto_sub -F %j``-style capture file.

    Returns:
        The number of messages recorded.
    """
    client = connect(url)
    got = 0
    fh = out.open("wb")

    def on_message(_c: Any, _u: Any, msg: Any) -> None:
        nonlocal got
        if count is not None and got >= count:
            return
        fh.write(capture_line(CapturedMessage(msg.topic, bytes(msg.payload), time.time(),
                                              int(msg.qos), bool(msg.retain))) + b"\n")
        got += 1

    client.on_message = on_message
    client.subscribe(topic, qos=qos)
    t0 = time.monotonic()
    try:
        while True:
            if count is not None and got >= count:
                break
            if duration_s is not None and time.monotonic() - t0 >= duration_s:
                break
            time.sleep(0.02)
    finally:
        client.loop_stop()
        client.disconnect()
        fh.close()
    return got


def replay_groups(path: Path, *, prefix: str = "") -> Iterator[tuple[float, list[Message]]]:
    """Messages of a capture file grouped by receipt time (for :func:`pace`), with ``prefix``
    prepended to every topic."""
    for m in iter_capture(path):
        yield m.received_at, [Message(prefix + m.topic, m.payload)]
