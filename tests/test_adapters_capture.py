"""The ESPresense mosquitto_sub capture replayed whole, and the capture line format."""

from __future__ import annotations

from collections import Counter

import pytest

from gateway.adapters import parse_message
from gateway.capture import CapturedMessage, capture_line, iter_capture, parse_capture_line
from gateway.errors import PayloadError
from tests.conftest import shared_path


def test_replay_stationary_capture() -> None:
    path = shared_path("fixtures", "gateway-payloads", "espresense-capture-stationary.jsonl")
    messages = list(iter_capture(path))
    assert len(messages) == 1693
    readings = []
    for m in messages:
        r = parse_message(m.topic, m.payload, m.received_at)
        assert not r.errors
        readings.extend(r.readings)
    assert len(readings) == len(messages)  # one sighting per message
    rooms = Counter(r.gateway for r in readings)
    assert len(rooms) == 10 and rooms["basement"] == 189 and rooms["dining"] == 123
    assert {r.tag for r in readings} == {"watch:darrell"}
    assert all(-100 <= r.rssi <= -30 for r in readings if r.rssi is not None)
    assert all(r.tx_power is not None for r in readings)
    # receipt times from "tst" (2023-11-27T19:47:59.913652-0500), in order, about 2 minutes
    assert readings[0].ts == pytest.approx(1701132479.913652)
    assert readings[0].rssi == -86.0 and readings[0].gateway == "basement"
    ts = [r.ts for r in readings]
    assert ts == sorted(ts) and 110 < ts[-1] - ts[0] < 130


def test_capture_line_roundtrip() -> None:
    msgs = [
        CapturedMessage("espresense/devices/a/b", b'{"id":"a","rssi":-70}', 1701132479.913652),
        CapturedMessage("home/gw/LWT", b"online", 1701132480.0, qos=1, retain=True),
        CapturedMessage("bin/x", b"\xff\x00\x01", 1701132481.5),
        CapturedMessage("minew", b'[{"mac":"AC233FC03641"}]', 1701132482.0, qos=2),
    ]
    for m in msgs:
        back = parse_capture_line(capture_line(m))
        assert back.topic == m.topic and back.payload == m.payload
        assert back.qos == m.qos and back.retain == m.retain
        assert back.received_at == pytest.approx(m.received_at, abs=1e-6)


def test_capture_line_errors_name_the_line() -> None:
    with pytest.raises(PayloadError, match=r"f\.jsonl:3"):
        parse_capture_line(b'{"topic":"a"}', where="f.jsonl:3")
    with pytest.raises(PayloadError) as ei:
        parse_capture_line(b'{"tst":"2023-11-27T19:47:59Z","topic":"a"}')
    assert ei.value.reason == "missing_field" and "payload" in ei.value.detail
    with pytest.raises(PayloadError) as ei:
        parse_capture_line(b"{oops")
    assert ei.value.reason == "invalid_json"
