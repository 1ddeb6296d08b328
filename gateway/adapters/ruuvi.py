"""Ruuvi Gateway (https://docs.ruuvi.com), MQTT ``ruuvi/<gateway MAC>/<tag MAC>``, plus the
HTTP(S) POST body of its custom-server mode.

MQTT fields used: ``gw_mac`` (the gateway; the topic's when absent), ``rssi``, ``ts`` (when the
advertisement was received) or else ``gwts`` (when the gateway relayed it): integers since
firmware 1.15, strings before; a payload with only a ``cnt`` counter has no device time.
``data`` is the raw advertisement. The tag is the topic's tag MAC; without one, the decoded
``id`` field, then the MAC inside a RuuviTag data-format-5 frame. Firmware ≤ 1.14 publishes
tab-indented pretty JSON (decoded the same). ``txPower`` in decoded payloads is the tag's TX
power level, not RSSI at 1 m, and is not used.

``ruuvi/<gateway MAC>/gw_status`` (``{"state": "online"}``, or plain text) is gateway health.

The HTTP body is ``{"data": {"gw_mac", "timestamp", "tags": {<tag MAC>: {"rssi",
"timestamp", "data"}}}}``: one reading per tag; a bad tag entry is reported by its MAC.
"""

from __future__ import annotations

from typing import Any

from gateway.adapters import _common as c
from gateway.adapters.types import DEFAULT_OPTIONS, GatewayStatus, ParseOptions, ParseResult
from gateway.errors import PayloadError
from gateway.identity import decode_advertisement, is_mac, normalize_mac

__all__ = ["parse"]


def parse(topic: str, payload: bytes, received_at: float, *,
          options: ParseOptions = DEFAULT_OPTIONS) -> ParseResult:
    """Parse one Ruuvi Gateway message or HTTP body (see the module docstring).

    Raises:
        PayloadError: On a malformed payload or an unusable gateway/tag identity.
    """
    c.check(payload, received_at, options)
    levels = topic.split("/")
    b = c.ResultBuilder(received_at, options)
    if levels[-1] == "gw_status":
        gw = c.mac_in_topic(topic)
        if gw is None:
            raise PayloadError("unknown_gateway", f"no gateway MAC in topic {topic[:100]!r}")
        text = c.decode_text(payload).strip()
        if text.startswith("{"):
            state = c.text(c.as_object(c.decode_json(payload)), "state", required=True)
        else:
            state = text
        assert state is not None
        if state.lower() not in ("online", "offline"):
            raise PayloadError("bad_value", f"field 'state' = {state[:20]!r} is not "
                                            "online/offline")
        return b.build(GatewayStatus(gw, received_at, online=state.lower() == "online"))

    d = c.as_object(c.decode_json(payload))
    http = d.get("data")
    if isinstance(http, dict) and "tags" in http:
        return _http(http, b)

    raw_gw = d.get("gw_mac")
    if raw_gw is not None:
        gw = c.gateway_mac(raw_gw, "gw_mac")
    elif len(levels) >= 2 and is_mac(levels[1]):
        gw = normalize_mac(levels[1])
    else:
        raise PayloadError("missing_field", "missing field 'gw_mac' and no gateway MAC in the "
                                            "topic")
    if len(levels) >= 3 and is_mac(levels[2]):
        tag = normalize_mac(levels[2])
    elif d.get("id") is not None:
        tag = normalize_mac(d.get("id"), field="id")
    else:
        data = c.text(d, "data", required=True)
        assert data is not None
        mac = decode_advertisement(data).ruuvi_mac
        if mac is None:
            raise PayloadError("bad_identity", "no tag MAC in the topic, 'id' or 'data'")
        tag = mac
    rssi = c.rssi(c.number(d, "rssi", required=True))
    dts = c.device_time(d.get("ts"), "ts")
    if dts is None:
        dts = c.device_time(d.get("gwts"), "gwts")
    b.add(gw, tag, rssi_dbm=rssi, device_ts=dts)
    return b.build()


def _http(data: dict[str, Any], b: c.ResultBuilder) -> ParseResult:
    gw = c.gateway_mac(data.get("gw_mac"), "gw_mac")
    b.gateway(gw)
    tags = data.get("tags")
    gw_ts = c.device_time(data.get("timestamp"), "timestamp")
    if not isinstance(tags, dict):
        raise PayloadError("wrong_type", "field 'data.tags' must be a JSON object")
    for mac, entry in tags.items():
        try:
            tag = normalize_mac(mac, field="tags key")
            e = c.as_object(entry, "a tag entry")
            rssi = c.rssi(c.number(e, "rssi", required=True))
            dts = c.device_time(e.get("timestamp"), "timestamp")
            b.add(gw, tag, rssi_dbm=rssi, device_ts=dts if dts is not None else gw_ts)
        except PayloadError as exc:
            b.errors.append(exc.at(f"tag {str(mac)[:40]!r}"))
    return b.build()
