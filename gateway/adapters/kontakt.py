"""Kontakt.io cloud "configured stream" telemetry: one JSON object (or an array of them) per
sighting with ``sourceId`` (the gateway/receiver), ``trackingId`` (the tag), ``rssi`` and
``timestamp`` (ISO 8601), and ``batteryLevel`` (percent: the tag's battery level). The topic
or endpoint is customer-configured.

Ids that are MAC addresses are normalised; other ids are kept as Kontakt spells them. The only
fixture is the documentation example, with placeholder ids.
"""

from __future__ import annotations

from typing import Any

from gateway.adapters import _common as c
from gateway.adapters.types import DEFAULT_OPTIONS, ParseOptions, ParseResult
from gateway.identity import is_mac, normalize_mac

__all__ = ["parse"]


def _ident(d: dict[str, Any], key: str) -> str:
    v = c.text(d, key, required=True)
    assert v is not None
    return normalize_mac(v, field=key) if is_mac(v) else v


def parse(topic: str, payload: bytes, received_at: float, *,
          options: ParseOptions = DEFAULT_OPTIONS) -> ParseResult:
    """Parse Kontakt.io telemetry (see the module docstring).

    Raises:
        PayloadError: Malformed (a single object) or not an object/array.
    """
    c.check(payload, received_at, options)
    doc = c.decode_json(payload)
    b = c.ResultBuilder(received_at, options)

    def one(_i: int, el: Any) -> None:
        d = c.as_object(el, "a telemetry record")
        gw = _ident(d, "sourceId")
        tag = _ident(d, "trackingId")
        rssi = c.rssi(c.number(d, "rssi", required=True))
        b.add(gw, tag, rssi_dbm=rssi, device_ts=c.device_time(d.get("timestamp"), "timestamp"))
        b.battery(tag, d.get("batteryLevel"))

    if isinstance(doc, dict):
        one(0, doc)
    else:
        b.each(c.as_list(doc), one)
    return b.build()
