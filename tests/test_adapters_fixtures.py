"""Every adapter on the real fixture payloads in ../shared/fixtures/gateway-payloads."""

from __future__ import annotations

from pathlib import Path

import pytest

from gateway.adapters import ADAPTERS, ParseResult, match_adapter
from gateway.adapters.types import ParseOptions
from gateway.errors import PayloadError
from gateway.timebase import TimePolicy
from tests.conftest import shared_path

NOW = 1_700_000_000.0


def fixture(name: str) -> tuple[str, bytes]:
    """(topic, payload) of a fixture; the topic is '' when the fixture has none."""
    p: Path = shared_path("fixtures", "gateway-payloads", name)
    t = p.with_suffix(".topic")
    return (t.read_text().strip() if t.exists() else ""), p.read_bytes()


def run(fmt: str, name: str, topic: str | None = None, now: float = NOW,
        **opts: object) -> ParseResult:
    t, payload = fixture(name)
    options = ParseOptions(**opts)  # type: ignore[arg-type]
    return ADAPTERS[fmt](topic if topic is not None else t, payload, now, options=options)


def test_espresense_fixture() -> None:
    r = run("espresense", "espresense-1.json")
    (rd,) = r.readings
    assert (rd.gateway, rd.tag, rd.rssi, rd.tx_power, rd.ts) == (
        "basement", "watch:darrell", -86.0, -64.0, NOW)
    assert r.gateways == ("basement",) and r.device_ts == [None] and not r.errors
    assert run("espresense", "espresense-3.json").readings[0].gateway == "office"


def test_omg_ibeacon_txpower_and_mac_identity() -> None:
    (rd,) = run("openmqttgateway", "omg-1.json").readings
    assert (rd.gateway, rd.tag, rd.rssi, rd.tx_power) == (
        "OpenMQTTGateway", "58782076bc24", -79.0, -66.0)
    # pubBeaconUuidForTopic: the topic names the UUID, the payload id is still the MAC
    (rd,) = run("openmqttgateway", "omg-3.json").readings
    assert rd.tag == "7b63c682dc57" and rd.rssi == -83.0


def test_omg_variants() -> None:
    (rd,) = run("openmqttgateway", "omg-4.json").readings  # lowercase id, not an iBeacon
    assert (rd.tag, rd.rssi, rd.tx_power) == ("45e174126e00", -89.0, None)
    (rd,) = run("openmqttgateway", "omg-5.json").readings  # id = UUID, mac field present
    assert (rd.gateway, rd.tag, rd.tx_power) == ("OpenMQTTGateway", "6087574c9bc2", -66.0)
    (rd,) = run("openmqttgateway", "omg-presence-1.json").readings
    assert (rd.gateway, rd.tag, rd.rssi) == ("OpenMQTTGateway_ESP32_BLE_House",
                                             "59d6880247b8", -56.0)
    (rd,) = run("openmqttgateway", "omg-undecoded-1.json").readings
    assert (rd.tag, rd.rssi, rd.tx_power) == ("54945e9f64c4", -74.0, None)  # txpower 12 = level


def test_omg_ibeacon_only_identity() -> None:
    payload = (b'{"id":"1de4b189115e45f6b44e509352269977","rssi":-70,"uuid":'
               b'"1de4b189115e45f6b44e509352269977","major":3,"minor":4,"txpower":-60}')
    (rd,) = ADAPTERS["openmqttgateway"]("home/presence/gw1", payload, NOW).readings
    assert rd.tag == "ibeacon:1de4b189115e45f6b44e509352269977:3:4" and rd.tx_power == -60


def test_theengs_truncated_id_is_rejected() -> None:
    with pytest.raises(PayloadError) as ei:
        run("theengs", "theengs-1.json")
    assert ei.value.reason == "bad_identity" and "'id'" in ei.value.detail


def test_omg_health() -> None:
    sys_payload = b'{"uptime":3600,"version":"v1.7.0","freemem":120000,"rssi":-61,"ip":"10.0.0.5"}'
    r = ADAPTERS["openmqttgateway"]("home/gw7/SYStoMQTT", sys_payload, NOW)
    assert r.status is not None and (r.status.gateway, r.status.uptime_s, r.status.firmware,
                                     r.status.rssi) == ("gw7", 3600.0, "v1.7.0", -61.0)
    r = ADAPTERS["openmqttgateway"]("home/gw7/LWT", b"offline", NOW)
    assert r.status is not None and r.status.online is False and r.readings == []


def test_minew_gateway_record_is_health_not_reading() -> None:
    r = run("minew", "minew-1.json")
    assert r.status is not None
    assert (r.status.gateway, r.status.free_memory) == ("ac233fc03641", 89.0)
    assert r.status.load == pytest.approx(0.03)
    (rd,) = r.readings
    assert (rd.gateway, rd.tag, rd.rssi, rd.tx_power) == ("ac233fc03641", "c3000025ef6a",
                                                          -65.0, -59.0)
    assert r.device_ts == [pytest.approx(1770596033.667)]  # 2026-02-09T00:13:53.667Z
    assert rd.ts == NOW  # device time far from receipt → receipt time


def test_minew_device_time_used_when_plausible() -> None:
    r = run("minew", "minew-2.json", now=1565676382.0)  # one second after the records
    assert [x.ts for x in r.readings] == [1565676381.0] * 3
    assert [x.tag for x in r.readings] == ["ac233fa018e7", "ac233fa018e7", "ac233fa031fa"]


def test_minew_batch_without_gateway_record_uses_topic() -> None:
    r = run("minew", "minew-3.json", topic="/gw/ac233fc00000/status")
    assert len(r.readings) == 14 and r.status is None and r.gateways == ("ac233fc00000",)
    beacons = [x for x in r.readings if x.tx_power is not None]
    assert [x.tag for x in beacons] == ["1918fc051f5a", "1918fc051f5b", "1918fc051f63"]
    with pytest.raises(PayloadError) as ei:
        run("minew", "minew-3.json", topic="")
    assert ei.value.reason == "unknown_gateway"


def test_minew_bad_element_reported_rest_kept() -> None:
    payload = (b'[{"type":"Gateway","mac":"AC233FC03641","timestamp":"2026-02-09T00:13:53Z"},'
               b'{"type":"iBeacon","mac":"C3000025EF6A","rssi":42},'
               b'{"type":"Unknown","mac":"C3000025EF6B","rssi":-70},7]')
    r = ADAPTERS["minew"]("x", payload, NOW)
    assert [x.tag for x in r.readings] == ["c3000025ef6b"]
    assert [(e.reason, e.detail.split(":")[0]) for e in r.errors] == [
        ("absurd_rssi", "element 1"), ("wrong_type", "element 3")]


@pytest.mark.parametrize("name", ["ruuvi-1.json", "ruuvi-5.json"])
def test_ruuvi_integer_and_string_timestamps(name: str) -> None:
    r = run("ruuvi", name, now=1653668028.0)
    (rd,) = r.readings
    assert (rd.gateway, rd.tag, rd.rssi, rd.ts) == ("c8252d8e9c2c", "f41f0c28cbd6", -26.0,
                                                    1653668027.0)


def test_ruuvi_counter_only_and_legacy_pretty_json() -> None:
    r = run("ruuvi", "ruuvi-2.json")
    assert r.device_ts == [None] and r.readings[0].ts == NOW and r.readings[0].rssi == -25.0
    r = run("ruuvi", "ruuvi-4.json", now=1612358930.0)  # tabs, string gwts/ts
    (rd,) = r.readings
    assert (rd.gateway, rd.tag, rd.rssi, rd.ts) == ("aaccee001122", "aabbcc010203", -70.0,
                                                    1612358929.0)


def test_ruuvi_tag_from_decoded_id_or_df5_frame() -> None:
    _, payload = fixture("ruuvi-3.json")
    r = ADAPTERS["ruuvi"]("ruuvi/AA:CC:EE:00:11:22", payload, NOW)
    assert r.readings[0].tag == "e375cf374e23"  # the decoded 'id' field
    _, payload = fixture("ruuvi-1.json")
    r = ADAPTERS["ruuvi"]("ruuvi/C8:25:2D:8E:9C:2C", payload, NOW)
    assert r.readings[0].tag == "f41f0c28cbd6"  # the MAC inside the DF5 frame


def test_ruuvi_status_and_http() -> None:
    r = run("ruuvi", "ruuvi-status-1.json")
    assert r.status is not None and (r.status.gateway, r.status.online) == ("aabbccddeeff", True)
    r = run("ruuvi", "ruuvi-http-1.json", topic="", now=1653633988.0)
    assert [(x.tag, x.rssi) for x in r.readings] == [
        ("c6a5b9e0ad06", -71.0), ("e375cf374e23", -72.0), ("e19df34f8aa5", -44.0),
        ("fd546f6c5292", -77.0)]
    # the last two tags claim 2026 timestamps: timed by receipt instead
    assert [x.ts for x in r.readings] == [1653633986.0, 1653633986.0, 1653633988.0,
                                          1653633988.0]


def test_pozyx_positions_in_metres() -> None:
    r = run("pozyx", "pozyx-1.json", now=1589960921.5)
    assert r.readings == [] and not r.errors
    (p,) = r.positions
    assert (p.tag, p.x, p.y, p.z, p.source, p.ts) == ("27196", 11.68, 44.505, 0.783, "pozyx",
                                                      1589960921.2)


def test_pozyx_anchor_data_becomes_readings() -> None:
    payload = (b'[{"tagId":"27196","success":false,"timestamp":1589960921.2,"data":{'
               b'"anchorData":[{"anchorId":"6a11","rss":-81.5},{"anchorId":"6a12",'
               b'"range":2500},{"anchorId":"6a13","rss":99}]}}]')
    r = ADAPTERS["pozyx"]("tags", payload, NOW)
    assert [(x.gateway, x.tag, x.rssi, x.range_m) for x in r.readings] == [
        ("6a11", "27196", -81.5, None), ("6a12", "27196", None, 2.5)]
    assert r.positions == []  # success: false → no position
    assert [e.reason for e in r.errors] == ["absurd_rssi"]
    assert r.errors[0].detail.startswith("element 0: anchorData 2")


def test_dwm_location_status_and_gateway() -> None:
    r = run("dwm1001", "dwm-1.json", topic="dwm/node/1A2B/uplink/location")
    (p,) = r.positions
    assert (p.tag, p.x, p.y, p.quality, p.source) == ("1a2b", 0.5443446, 8.3553429, 0.77,
                                                      "dwm1001")
    r = run("dwm1001", "dwm-2.json", now=1679494411.0)
    assert r.status is not None
    assert (r.status.gateway, r.status.battery_pct, r.status.online) == ("0f07", 100.0, True)
    assert r.status.ts == pytest.approx(1679494411.479191)  # µs string
    r = run("dwm1001", "dwm-3.json")
    assert r.status is not None
    assert (r.status.gateway, r.status.firmware, r.status.ip) == ("deca1e1cef720714", "2.2.2",
                                                                  "10.0.1.10")


def test_dwm_anchor_distances_become_range_readings() -> None:
    payload = (b'{"position":{"x":1,"y":2,"z":0,"quality":90},"an0":{"id":"0C2F","dist":2.52,'
               b'"qf":100},"an1":{"id":"1D3A","dist":{"dist":3.1,"qf":90}},'
               b'"an2":{"id":"2B4C","dist":-4}}')
    r = ADAPTERS["dwm1001"]("dwm/node/5a5a/uplink/location", payload, NOW)
    assert [(x.gateway, x.tag, x.range_m) for x in r.readings] == [
        ("0c2f", "5a5a", 2.52), ("1d3a", "5a5a", 3.1)]
    assert [e.reason for e in r.errors] == ["bad_range"] and r.errors[0].detail.startswith("an2")


def test_cassia_status_and_heartbeat() -> None:
    r = run("cassia", "cassia-1.json")
    s = r.status
    assert s is not None and (s.gateway, s.model, s.firmware, s.uptime_s, s.ip, s.rssi) == (
        "cc1be0e28f2c", "M2000", "7.7.161.2401041522", 8721.0, "192.168.3.134", -21.0)
    r = run("cassia", "cassia-2.json")
    assert r.status is not None and r.status.online is True and r.readings == []


def test_moko_kontakt_ingics_sewio() -> None:
    (rd,) = run("moko", "moko-1.json", topic="mokosmart/x", now=1609492217.0).readings
    assert (rd.gateway, rd.tag, rd.rssi, rd.ts) == ("112233445566", "abdf01fc9e98", -78.0,
                                                    1609492216.0)  # 17:10:16+08
    (rd,) = run("kontakt", "kontakt-1.json", topic="k").readings
    assert (rd.gateway, rd.tag, rd.rssi) == ("abcdef", "abcdef", -77.0)
    r = run("ingics", "ingics-1.txt", topic="i", now=1574921086.0)
    (rd,) = r.readings
    assert (rd.gateway, rd.tag, rd.rssi, rd.ts) == ("cb412f0c8edc", "ccb97e7361a4", -49.0,
                                                    1574921085.0)
    (rd,) = run("ingics", "ingics-2.txt", topic="i").readings
    assert (rd.tag, rd.rssi, rd.tx_power) == ("0c61cfc1452e", -44.0, -42.0)  # iBeacon 0xD6
    r = run("ingics", "ingics-3.txt", topic="i")
    assert r.readings == [] and r.status is not None and r.status.gateway == "fece97089146"
    (p,) = run("sewio", "sewio-1.json", topic="s").positions
    assert (p.tag, p.x, p.y, p.source) == ("18", 6.34, 2.27, "sewio")
    with pytest.raises(PayloadError) as ei:
        run("sewio", "sewio-3.json", topic="s")
    assert ei.value.reason == "unsupported"


def test_ingics_multiline_with_bad_line() -> None:
    payload = (b"$GPRP,CCB97E7361A4,CB412F0C8EDC,-49,0201061AFF,1574921085\r\n"
               b"$GPRP,CCB97E7361A5,CB412F0C8EDC\r\n$XXXX,1\r\n"
               b"$GPRP,CCB97E7361A6,CB412F0C8EDC,-60,020106\r\n")
    r = ADAPTERS["ingics"]("i", payload, NOW)
    assert [x.tag for x in r.readings] == ["ccb97e7361a6"]  # line 0: AD structure overruns
    assert [(e.reason, e.detail[:6]) for e in r.errors] == [
        ("bad_value", "line 0"), ("truncated", "line 1"), ("unsupported", "line 2")]


@pytest.mark.parametrize(("name", "fmt"), [
    ("espresense-1", "espresense"), ("omg-1", "openmqttgateway"), ("omg-5", "openmqttgateway"),
    ("omg-presence-1", "openmqttgateway"), ("ruuvi-1", "ruuvi"),
    ("ruuvi-status-1", "ruuvi"), ("pozyx-1", "pozyx"), ("dwm-2", "dwm1001"),
    ("dwm-3", "dwm1001"), ("cassia-1", "cassia"), ("theengs-1", "openmqttgateway"),
])
def test_default_topic_map_selects_the_format(name: str, fmt: str) -> None:
    topic, _ = fixture(name + ".json")
    found = match_adapter(topic)
    assert found is not None and found[0] == fmt


def test_time_policy_modes() -> None:
    r = run("minew", "minew-1.json", time_policy=TimePolicy(mode="device"))
    assert r.readings[0].ts == pytest.approx(1770596033.667)
    r = run("minew", "minew-2.json", now=1565676382.0, time_policy=TimePolicy(mode="receipt"))
    assert {x.ts for x in r.readings} == {1565676382.0}


def test_tag_battery_levels_from_the_formats_that_carry_them() -> None:
    # Minew: a sensor tag reports 100 %; iBeacons without the Minew battery frame report 0,
    # which means "not reported" (minew-1, minew-3), never an empty battery.
    r = run("minew", "minew-2.json")
    assert [(b.tag, b.percent, b.ts) for b in r.batteries] == [("ac233fa018e7", 100.0, NOW)]
    assert run("minew", "minew-1.json").batteries == []
    assert run("minew", "minew-3.json", topic="/gw/ac233fc00000/status").batteries == []
    # Kontakt.io telemetry: batteryLevel.
    r = run("kontakt", "kontakt-1.json", topic="k")
    assert [(b.tag, b.percent) for b in r.batteries] == [("abcdef", 100.0)]
    # Theengs decoders add "batt"; an implausible value is "not reported", the reading stays.
    topic = "home/gw1/BTtoMQTT/AABBCCDDEEFF"
    r = ADAPTERS["theengs"](topic, b'{"id":"AA:BB:CC:DD:EE:FF","rssi":-70,"batt":14}', NOW)
    assert [(b.tag, b.percent) for b in r.batteries] == [("aabbccddeeff", 14.0)]
    r = ADAPTERS["theengs"](topic, b'{"id":"AA:BB:CC:DD:EE:FF","rssi":-70,"batt":250}', NOW)
    assert r.batteries == [] and len(r.readings) == 1 and not r.errors
