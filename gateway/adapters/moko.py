"""MOKO (MokoSmart) MKGW BLE gateways, MQTT (``mokosmart/#`` by convention; the topic is
user-configured).

Message ``msg_id`` 3004 is a scan report: ``device_info.mac`` is the gateway, ``data`` a list
of ``{"type", "value": {"timestamp", "mac", "rssi", "raw"}}``. The timestamp is local time with
an hour offset and ``&`` between date and time (``2021-01-01&17:10:16+08``). An iBeacon frame
in ``raw`` supplies ``tx_power``. Other ``msg_id`` values are ``unsupported``. The only fixture
is reelyActive's simulated test message, not a hardware capture.
"""

from __future__ import annotations

from typing import Any

from gateway.adapters import _common as c
from gateway.adapters.types import DEFAULT_OPTIONS, ParseOptions, ParseResult
from gateway.errors import PayloadError
from gateway.identity import decode_advertisement, normalize_mac

__all__ = ["parse"]

SCAN_REPORT = 3004


def parse(topic: str, payload: bytes, received_at: float, *,
          options: ParseOptions = DEFAULT_OPTIONS) -> ParseResult:
    """Parse one MOKO gateway message (see the module docstring).

    Raises:
        PayloadError: Malformed, no gateway MAC, or not a scan report.
    """
    c.check(payload, received_at, options)
    d = c.as_object(c.decode_json(payload))
    msg_id = c.number(d, "msg_id", required=True)
    if msg_id != SCAN_REPORT:
        raise PayloadError("unsupported", f"MOKO msg_id {msg_id:g} is not a scan report "
                                          f"({SCAN_REPORT})")
    info = c.as_object(d.get("device_info"), "field 'device_info'")
    gw = normalize_mac(info.get("mac"), field="device_info.mac")
    b = c.ResultBuilder(received_at, options)
    b.gateway(gw)

    def one(_i: int, el: Any) -> None:
        v = c.as_object(c.as_object(el, "a data entry").get("value"), "field 'value'")
        tag = normalize_mac(v.get("mac"), field="mac")
        rssi = c.rssi(c.number(v, "rssi", required=True))
        txp = None
        raw = v.get("raw")
        if isinstance(raw, str) and raw:
            try:
                beacon = decode_advertisement(raw, field="raw").ibeacon
            except PayloadError:
                beacon = None
            txp = None if beacon is None else beacon.measured_power
        b.add(gw, tag, rssi_dbm=rssi, tx_power_dbm=txp,
              device_ts=c.device_time(v.get("timestamp"), "timestamp"))

    b.each(c.as_list(d.get("data"), "field 'data'"), one)
    return b.build()
