"""Record and replay through the real Mosquitto: a real ESPresense capture comes back unchanged."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from gateway.capture import iter_capture
from tests.conftest import shared_path
from tracker.cli import main

pytestmark = pytest.mark.integration


def test_replayed_capture_is_recorded_unchanged(mqtt_url: str, unique_topic: str,
                                                tmp_path: Path) -> None:
    capture = shared_path("fixtures", "gateway-payloads", "espresense-capture-stationary.jsonl")
    original = list(iter_capture(capture))
    out = tmp_path / "recorded.jsonl"
    codes: list[int] = []
    recorder = threading.Thread(target=lambda: codes.append(main(
        ["record", "--mqtt", mqtt_url, "--topic", f"{unique_topic}/#", "-o", str(out),
         "--count", str(len(original)), "--duration", "60s"])))
    recorder.start()
    import time

    time.sleep(1.0)  # let the recorder subscribe
    assert main(["replay", str(capture), "--mqtt", mqtt_url, "--speed", "0", "--qos", "1",
                 "--prefix", f"{unique_topic}/"]) == 0
    recorder.join(90)
    assert codes == [0]
    recorded = list(iter_capture(out))
    assert len(recorded) == len(original) == 1693
    assert [(m.topic, m.payload) for m in recorded] == [
        (f"{unique_topic}/{m.topic}", m.payload) for m in original]


def test_replay_of_a_missing_file_fails_clearly(mqtt_url: str, capsys) -> None:
    assert main(["replay", "/nonexistent/capture.jsonl", "--mqtt", mqtt_url]) == 2
    assert "does not exist" in capsys.readouterr().err
