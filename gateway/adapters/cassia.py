"""Cassia Networks gateways (X1000, E1000, M2000) with the MQTT API: topic
``up/<gateway MAC>/<action>``, JSON ``{"id", "action", "timestamp" (ms), "gateway", "data"}``.

* ``gateway_status``: health (model, version, uptime, private_ip, cellular/Wi-Fi RSSI).
* ``heartbeat``: an empty ``data``; the gateway is online.
* ``scan`` / ``advertisement``: ``data`` is a list (or one object) of advertisements with
  ``bdaddrs[0].bdaddr`` (or ``mac``), ``rssi`` and ``adData``/``scanData``. This shape follows
  Cassia's scan-result JSON and is not verified against an MQTT capture.

Other actions are ``unsupported``.
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
    """Parse one Cassia MQTT message (see the module docstring).

    Raises:
        PayloadError: Malformed, unknown gateway, or an unhandled action.
    """
    c.check(payload, received_at, options)
    d = c.as_object(c.decode_json(payload))
    b = c.ResultBuilder(received_at, options)
    raw_gw = d.get("gateway")
    gw = c.gateway_mac(raw_gw, "gateway") if raw_gw is not None else c.mac_in_topic(topic)
    if gw is None:
        raise PayloadError("unknown_gateway", "missing field 'gateway' and no MAC in the topic")
    action = c.text(d, "action") or topic.rsplit("/", 1)[-1]
    dts = c.device_time(d.get("timestamp"), "timestamp")
    data = d.get("data")
    if action in ("gateway_status", "heartbeat"):
        info = c.as_object(data if data is not None else {}, "field 'data'")
        used = {"model", "version", "uptime", "private_ip", "RSSI"}
        return b.build(GatewayStatus(
            gw, b.ts(dts), online=True, uptime_s=c.number(info, "uptime"),
            firmware=c.text(info, "version"), model=c.text(info, "model"),
            ip=c.text(info, "private_ip"), rssi=c.number(info, "RSSI"),
            extra={k: v for k, v in info.items() if k not in used}))
    if action not in ("scan", "advertisement"):
        raise PayloadError("unsupported", f"Cassia action {action[:40]!r} carries no readings")
    items = [data] if isinstance(data, dict) else c.as_list(data, "field 'data'")

    def one(_i: int, el: Any) -> None:
        a = c.as_object(el, "an advertisement")
        addrs = a.get("bdaddrs")
        if isinstance(addrs, list) and addrs and isinstance(addrs[0], dict):
            tag = normalize_mac(addrs[0].get("bdaddr"), field="bdaddr")
        else:
            tag = normalize_mac(a.get("mac"), field="mac")
        rssi = c.rssi(c.number(a, "rssi", required=True))
        txp = None
        raw = a.get("adData") or a.get("scanData")
        if isinstance(raw, str) and raw:
            try:
                beacon = decode_advertisement(raw, field="adData").ibeacon
            except PayloadError:
                beacon = None
            txp = None if beacon is None else beacon.measured_power
        b.add(gw, tag, rssi_dbm=rssi, tx_power_dbm=txp, device_ts=dts)

    b.each(items, one)
    return b.build()
