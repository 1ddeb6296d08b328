"""BLE gateway formats: canonical, ESPresense, OpenMQTTGateway/Theengs, Minew, Ruuvi Gateway.

Field sets and types follow the real payloads in ``shared/fixtures/gateway-payloads``.
"""

from __future__ import annotations

from typing import Any

import orjson

from simulator.formats.base import EncodeContext, GatewayBatch, Message, gateway_mac, iso_utc
from simulator.formats.base import mac_colons as _colons

__all__ = [
    "IBEACON_UUID",
    "encode_canonical",
    "encode_espresense",
    "encode_minew",
    "encode_omg",
    "encode_ruuvi",
    "ruuvi_df5",
]

#: The iBeacon UUID simulated tags advertise (major/minor carry the tag index).
IBEACON_UUID = "e2c56db5dffb48d2b060d0f5a71096e0"


def encode_canonical(b: GatewayBatch, ctx: EncodeContext) -> list[Message]:
    """Sporing canonical JSON: one array of readings per gateway and step on
    ``sporing/readings/<gateway>``."""
    gw = ctx.gateway_ids[b.gateway]
    out: list[dict[str, Any]] = []
    for i in range(b.ts.shape[0]):
        t = int(b.tag[i])
        d: dict[str, Any] = {"ts": round(float(b.ts[i]), 3), "gateway": gw, "tag": ctx.tag_ids[t]}
        if b.rssi[i] == b.rssi[i]:
            d["rssi"] = int(b.rssi[i])
            d["tx_power"] = round(float(ctx.rssi_1m[t]))
        else:
            d["range_m"] = round(float(b.range_m[i]), 3)
        out.append(d)
    if not out:
        return []
    return [Message(ctx.topic(f"sporing/readings/{gw}"), orjson.dumps(out))]


def _distance(rssi: float, rssi_1m: float) -> float:
    return round(float(10.0 ** ((rssi_1m - rssi) / 20.0)), 2)


def encode_espresense(b: GatewayBatch, ctx: EncodeContext) -> list[Message]:
    """ESPresense: one message per sighting on ``espresense/devices/<id>/<room>``."""
    gw = ctx.gateway_ids[b.gateway]
    msgs = []
    for i in range(b.ts.shape[0]):
        t = int(b.tag[i])
        tag = ctx.tag_ids[t]
        rssi = int(b.rssi[i])
        ref = round(float(ctx.rssi_1m[t]))
        raw = _distance(rssi, ref)
        payload = {"mac": tag, "id": tag, "name": ctx.asset_ids[t], "idType": 35,
                   "rssi@1m": ref, "rssi": rssi, "raw": raw, "distance": raw,
                   "int": round(float(ctx.interval_s[t]) * 1000)}
        msgs.append(Message(ctx.topic(f"espresense/devices/{tag}/{gw}"), orjson.dumps(payload)))
    return msgs


def _major_minor(t: int) -> tuple[int, int]:
    return (t >> 16) & 0xFFFF, t & 0xFFFF


def encode_omg(b: GatewayBatch, ctx: EncodeContext) -> list[Message]:
    """OpenMQTTGateway / Theengs Gateway: one decoded iBeacon per sighting on
    ``home/<gateway>/BTtoMQTT/<MAC>``."""
    gw = ctx.gateway_ids[b.gateway]
    msgs = []
    for i in range(b.ts.shape[0]):
        t = int(b.tag[i])
        mac = ctx.tag_ids[t].upper()
        major, minor = _major_minor(t)
        payload = {"id": _colons(mac), "mac_type": 1, "rssi": int(b.rssi[i]),
                   "brand": "GENERIC", "model": "iBeacon", "model_id": "IBEACON",
                   "mfid": "4c00", "uuid": IBEACON_UUID, "major": major, "minor": minor,
                   "txpower": round(float(ctx.rssi_1m[t]))}
        msgs.append(Message(ctx.topic(f"home/{gw}/BTtoMQTT/{mac}"), orjson.dumps(payload)))
    return msgs


def encode_minew(b: GatewayBatch, ctx: EncodeContext) -> list[Message]:
    """Minew G1/MG3: one JSON array per gateway and step on ``/gw/<gateway MAC>/status``,
    starting with the gateway status record, then one iBeacon record per sighting."""
    mac = gateway_mac(ctx.gateway_ids[b.gateway])
    if b.ts.shape[0] == 0:
        return []
    ts0 = float(b.ts[0])
    items: list[dict[str, Any]] = [{"timestamp": iso_utc(ts0), "type": "Gateway", "mac": mac,
                                    "gatewayFree": 90, "gatewayLoad": 0.03}]
    for i in range(b.ts.shape[0]):
        t = int(b.tag[i])
        major, minor = _major_minor(t)
        items.append({"timestamp": iso_utc(float(b.ts[i])), "type": "iBeacon",
                      "mac": ctx.tag_ids[t].upper(), "bleName": "",
                      "ibeaconUuid": IBEACON_UUID.upper(), "ibeaconMajor": major,
                      "ibeaconMinor": minor, "rssi": int(b.rssi[i]),
                      "ibeaconTxPower": round(float(ctx.rssi_1m[t])), "battery": 100})
    return [Message(ctx.topic(f"/gw/{mac}/status"), orjson.dumps(items))]


def ruuvi_df5(mac: str, seq: int, *, temperature_c: float = 21.5, humidity: float = 35.0) -> str:
    """A Ruuvi data format 5 (RAWv2) advertisement, hex, with flags, as a Ruuvi Gateway relays
    it (``0201061BFF9904 05 ...`` ending in the tag MAC)."""
    t = round(temperature_c / 0.005) & 0xFFFF
    h = round(humidity / 0.0025) & 0xFFFF
    p = 50000  # (pressure - 50000 Pa)
    body = (bytes([0x05]) + t.to_bytes(2, "big") + h.to_bytes(2, "big") + p.to_bytes(2, "big")
            + (0).to_bytes(2, "big", signed=True) + (0).to_bytes(2, "big", signed=True)
            + (1000).to_bytes(2, "big", signed=True)
            + ((1400 << 5) | 0x0C).to_bytes(2, "big") + bytes([seq & 0xFF])
            + (seq & 0xFFFF).to_bytes(2, "big") + bytes.fromhex(mac))
    return ("0201061BFF9904" + body.hex()).upper()


def encode_ruuvi(b: GatewayBatch, ctx: EncodeContext) -> list[Message]:
    """Ruuvi Gateway (firmware >= 1.15, timestamps on): one message per sighting on
    ``ruuvi/<GW MAC>/<TAG MAC>`` with the raw advertisement in ``data``."""
    gw_mac = _colons(gateway_mac(ctx.gateway_ids[b.gateway]))
    msgs = []
    key = f"ruuvi:{b.gateway}"
    for i in range(b.ts.shape[0]):
        t = int(b.tag[i])
        mac = ctx.tag_ids[t]
        seq = ctx.counters.get(key, 0) + 1
        ctx.counters[key] = seq
        ts = int(b.ts[i])
        payload = {"gw_mac": gw_mac, "rssi": int(b.rssi[i]), "aoa": [], "gwts": ts, "ts": ts,
                   "data": ruuvi_df5(mac, seq), "coords": ""}
        msgs.append(Message(ctx.topic(f"ruuvi/{gw_mac}/{_colons(mac)}"), orjson.dumps(payload)))
    return msgs
