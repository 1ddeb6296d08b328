"""Minew gateways (G1, MG3, G2; JSON format), MQTT ``/gw/<gateway MAC>/status`` by default,
or an HTTP POST body.

The payload is a JSON array of records, each with ``type``, ``mac``, ``timestamp`` (ISO 8601,
UTC) and usually ``rssi``. A record of type ``Gateway`` is the gateway itself (``mac``,
``gatewayLoad``, ``gatewayFree``): it is not a reading but the gateway's health and its MAC
names the gateway. Without it the gateway MAC is taken from the topic (the first level that is
a MAC address); with neither the payload is rejected (``unknown_gateway``).

Other records are readings keyed by the advertiser's ``mac``. ``iBeacon`` records carry
``ibeaconTxPower`` (measured power at 1 m → ``tx_power``); for ``Unknown`` records with
``rawData`` an iBeacon frame inside supplies it. A record's ``battery`` (percent) is the tag's
battery level when it is in (0, 100]; Minew sends 0 for beacons that do not report one. A bad
record is reported by index and the rest kept.
"""

from __future__ import annotations

from typing import Any

from gateway.adapters import _common as c
from gateway.adapters.types import DEFAULT_OPTIONS, GatewayStatus, ParseOptions, ParseResult
from gateway.errors import PayloadError
from gateway.identity import decode_advertisement, normalize_mac

__all__ = ["parse"]


def parse(topic: str, payload: bytes, received_at: float, *,
          options: ParseOptions = DEFAULT_OPTIONS) -> ParseResult:
    """Parse one Minew batch (see the module docstring).

    Raises:
        PayloadError: Not a JSON array of objects, or no gateway id anywhere.
    """
    c.check(payload, received_at, options)
    doc = c.decode_json(payload)
    records = [doc] if isinstance(doc, dict) else c.as_list(doc)
    b = c.ResultBuilder(received_at, options)
    status = None
    gateway = None
    for i, rec in enumerate(records):
        if isinstance(rec, dict) and rec.get("type") == "Gateway":
            try:
                status = _status(rec, b)
                gateway = status.gateway
            except PayloadError as exc:
                b.errors.append(exc.at(f"element {i}"))
            break
    if gateway is None:
        gateway = c.mac_in_topic(topic)
    if gateway is None:
        raise PayloadError("unknown_gateway", "no 'Gateway' record and no gateway MAC in "
                                              f"topic {topic[:100]!r}")
    gw: str = gateway

    def one(_i: int, el: Any) -> None:
        d = c.as_object(el, "a record")
        if d.get("type") == "Gateway":
            return
        tag = normalize_mac(d.get("mac"), field="mac")
        rssi = c.rssi(c.number(d, "rssi", required=True))
        txp = c.number(d, "ibeaconTxPower")
        raw = d.get("rawData")
        if txp is None and isinstance(raw, str) and raw:
            try:
                adv = decode_advertisement(raw, field="rawData")
            except PayloadError:
                adv = None
            if adv is not None and adv.ibeacon is not None:
                txp = adv.ibeacon.measured_power
        b.add(gw, tag, rssi_dbm=rssi, tx_power_dbm=txp,
              device_ts=c.device_time(d.get("timestamp"), "timestamp"))
        b.battery(tag, d.get("battery"))

    b.each(records, one)
    return b.build(status)


def _status(d: dict[str, Any], b: c.ResultBuilder) -> GatewayStatus:
    gw = normalize_mac(d.get("mac"), field="mac")
    dts = c.device_time(d.get("timestamp"), "timestamp")
    used = {"type", "mac", "timestamp", "gatewayLoad", "gatewayFree"}
    return GatewayStatus(
        gateway=gw, ts=b.ts(dts), online=True, load=c.number(d, "gatewayLoad"),
        free_memory=c.number(d, "gatewayFree"),
        extra={k: v for k, v in d.items() if k not in used},
    )
