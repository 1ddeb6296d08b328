"""Simulator encoders against the real gateway payload fixtures, config loading and the CLI."""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import Any

import numpy as np
import orjson
import pytest

from simulator.cli import parse_duration
from simulator.config import ConfigError, load_scenario, scenario_from_mapping, scenario_names
from simulator.formats import (
    ENCODERS,
    EncodeContext,
    GatewayBatch,
    encode_tick,
    format_for_gateway,
    gateway_mac,
)
from simulator.formats.ble import ruuvi_df5
from tests.conftest import shared_path


def _ctx() -> EncodeContext:
    def pos(tags: Any, ts: float) -> tuple[Any, Any, Any]:
        n = len(tags)
        return np.full(n, 1.5), np.full(n, 2.5), np.full(n, 1.2)

    return EncodeContext(gateway_ids=("gw-a1-001", "uwb-1"),
                         tag_ids=("c3000025ef6a", "c3000025ef6b"),
                         asset_ids=("infusion-pump-00001", "bed-00001"),
                         rssi_1m=np.array([-59.0, -62.0]), interval_s=np.array([1.0, 2.0]),
                         position=pos)


def _ble_batch() -> GatewayBatch:
    return GatewayBatch(0, np.array([1764147600.12, 1764147600.5]), np.array([0, 1], np.int32),
                        np.array([-71.0, -80.0]), np.array([np.nan, np.nan]))


def _types(obj: Any) -> Any:
    """The structure of a JSON value: keys and JSON types (numbers unified)."""
    if isinstance(obj, dict):
        return {k: _types(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_types(obj[0])] if obj else []
    if isinstance(obj, bool):
        return "bool"
    if isinstance(obj, int | float):
        return "number"
    return type(obj).__name__


def _fixture(name: str) -> tuple[str | None, Any]:
    p = shared_path("fixtures", "gateway-payloads", f"{name}.json")
    t = p.with_suffix(".topic")
    return (t.read_text().strip() if t.exists() else None), orjson.loads(p.read_bytes())


@pytest.mark.parametrize(("fmt", "fixture", "topic_levels"), [
    ("espresense", "espresense-1", ["espresense", "devices", None, None]),
    ("omg", "omg-1", ["home", None, "BTtoMQTT", None]),
    ("ruuvi", "ruuvi-1", ["ruuvi", None, None]),
])
def test_per_sighting_formats_match_fixture_fields(fmt: str, fixture: str,
                                                   topic_levels: list[str | None]) -> None:
    topic, ref = _fixture(fixture)
    msgs = ENCODERS[fmt](_ble_batch(), _ctx())
    assert len(msgs) == 2
    doc = orjson.loads(msgs[0].payload)
    assert _types(doc) == _types(ref)
    assert list(doc) == list(ref)  # same field order, as the firmware writes it
    levels = msgs[0].topic.split("/")
    assert topic is not None and len(levels) == len(topic.split("/")) == len(topic_levels)
    for got, want in zip(levels, topic_levels, strict=True):
        assert want is None or got == want


def test_minew_batch_matches_fixture() -> None:
    _, ref = _fixture("minew-1")
    msgs = ENCODERS["minew"](_ble_batch(), _ctx())
    assert len(msgs) == 1
    doc = orjson.loads(msgs[0].payload)
    assert _types(doc[0]) == _types(ref[0])  # gateway status record first
    assert _types(doc[1]) == _types(ref[1])
    assert len(doc) == 3
    assert msgs[0].topic == f"/gw/{gateway_mac('gw-a1-001')}/status"
    assert doc[1]["timestamp"].endswith("Z") and len(doc[1]["timestamp"]) == 24


@pytest.mark.parametrize(("fmt", "fixture"), [("pozyx", "pozyx-1"), ("dwm", "dwm-1")])
def test_uwb_position_formats_match_fixture(fmt: str, fixture: str) -> None:
    _, ref = _fixture(fixture)
    b = GatewayBatch(1, np.array([10.0, 10.1]), np.array([0, 0], np.int32),
                     np.array([np.nan, np.nan]), np.array([3.0, 3.1]))
    msgs = ENCODERS[fmt](b, _ctx())
    assert len(msgs) == 1  # one position per tag and step
    doc = orjson.loads(msgs[0].payload)
    assert _types(doc) == _types(ref)
    if fmt == "pozyx":
        assert msgs[0].topic == "tags"
        assert doc[0]["data"]["coordinates"] == {"x": 1500, "y": 2500, "z": 1200}
    else:
        assert msgs[0].topic == "dwm/node/ef6a/uplink/location"


def test_ruuvi_df5_is_a_valid_raw_v2_advertisement() -> None:
    data = bytes.fromhex(ruuvi_df5("f41f0c28cbd6", 7))
    ref = bytes.fromhex(_fixture("ruuvi-1")[1]["data"])
    assert len(data) == len(ref) == 31
    assert data[:7] == ref[:7]  # flags + manufacturer header (Ruuvi 0x0499, DF5)
    assert data[7] == 5 and data[-6:].hex() == "f41f0c28cbd6"


def test_canonical_batches_parse_as_canonical_readings() -> None:
    from gateway.canonical import parse_reading

    msgs = ENCODERS["canonical"](_ble_batch(), _ctx())
    assert msgs[0].topic == "sporing/readings/gw-a1-001"
    readings = [parse_reading(d) for d in orjson.loads(msgs[0].payload)]
    assert [r.rssi for r in readings] == [-71.0, -80.0]
    assert readings[0].tag == "c3000025ef6a" and readings[0].tx_power == -59


@pytest.mark.parametrize("fmt", ["canonical", "espresense", "omg", "minew", "ruuvi"])
def test_encoded_payloads_parse_with_the_gateway_adapters(fmt: str) -> None:
    name = {"omg": "openmqttgateway"}.get(fmt, fmt)
    try:
        mod = importlib.import_module(f"gateway.adapters.{name}")
    except ModuleNotFoundError:
        pytest.skip(f"gateway.adapters.{name} not available yet")
    total = 0
    for m in ENCODERS[fmt](_ble_batch(), _ctx()):
        res = mod.parse(m.topic, m.payload, 1764147601.0)
        total += len(res.readings)
        assert not res.errors
    assert total == 2


def test_mixed_format_is_stable_and_tech_aware() -> None:
    assert format_for_gateway("mixed", "gw-1", "ble") == format_for_gateway("mixed", "gw-1", "ble")
    fm = {format_for_gateway("mixed", f"gw-{i}", "ble") for i in range(60)}
    assert fm == {"canonical", "espresense", "omg", "minew", "ruuvi"}
    assert format_for_gateway("espresense", "u", "uwb") == "canonical"
    with pytest.raises(ValueError, match="unknown format"):
        format_for_gateway("nope", "g", "ble")


def test_encode_tick_groups_per_gateway() -> None:
    ctx = _ctx()
    msgs = encode_tick(np.array([1.0, 1.1, 1.2]), np.array([0, 1, 0]),
                       np.array([0, 1, 1], np.int32), np.array([-70.0, np.nan, -75.0]),
                       np.array([np.nan, 2.0, np.nan]), ["minew", "pozyx"], ctx)
    assert [m.topic for m in msgs] == [f"/gw/{gateway_mac('gw-a1-001')}/status", "tags"]


def test_gateway_mac_keeps_mac_ids() -> None:
    assert gateway_mac("ac:23:3f:c0:36:41") == "AC233FC03641"
    assert gateway_mac("gw-a1-001") == gateway_mac("gw-a1-001")
    assert len(gateway_mac("gw-a1-001")) == 12


def test_named_scenarios_load() -> None:
    names = scenario_names()
    assert {"small-ward", "hospital-day", "health-trust-stress", "gateway-failures",
            "uwb-operating-suite"} <= set(names)
    for n in names:
        scen, path = load_scenario(n)
        assert path is not None and scen.name == n


def test_bad_scenarios_name_the_key(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"\[radio\]: unknown key 'exponent'"):
        scenario_from_mapping({"radio": {"exponent": 2}})
    with pytest.raises(ConfigError, match="path_loss_exponent must be a number"):
        scenario_from_mapping({"radio": {"path_loss_exponent": "2"}})
    with pytest.raises(ConfigError, match="unknown section"):
        scenario_from_mapping({"radios": {}})
    with pytest.raises(ConfigError, match="end_s must be > start_s"):
        scenario_from_mapping({"outages": [{"gateway": "g", "start_s": 5.0, "end_s": 1.0}]})
    with pytest.raises(ConfigError, match="unknown scenario"):
        load_scenario("no-such-scenario")
    bad = tmp_path / "x.toml"
    bad.write_text("[scenario\n")
    with pytest.raises(ConfigError, match="invalid TOML"):
        load_scenario(bad)


def test_parse_duration() -> None:
    assert parse_duration("1h") == 3600
    assert parse_duration("90") == 90
    assert parse_duration("1.5m") == 90
    with pytest.raises(Exception, match="invalid duration"):
        parse_duration("soon")


def test_cli_simulate_writes_readings_and_truth(tmp_path: Path) -> None:
    from gateway.canonical import open_readings
    from tracker.cli import main

    out, truth = tmp_path / "r.jsonl", tmp_path / "t.jsonl"
    code = main(["simulate", "--assets", "20", "--duration", "5s", "--seed", "3",
                 "--out", str(out), "--truth", str(truth)])
    assert code == 0
    readings = list(open_readings(out))
    assert len(readings) > 20
    rows = [orjson.loads(x) for x in truth.read_bytes().splitlines()]
    assert {"ts", "tag", "x", "y", "level", "room"} <= set(rows[0])
    assert {r.tag for r in readings} <= {r["tag"] for r in rows}
    assert main(["simulate", "--scenario", "nope", "--out", str(out)]) == 2
