"""Qorvo/Decawave DWM1001 with the PANS / LEAPS RTLS MQTT bridge.

Topics:

* ``dwm/node/<node id>/uplink/location``: ``{"position": {x, y, z, quality},
  "superFrameNumber"}`` in metres, quality in percent → a :class:`PositionReport` (source
  ``"dwm1001"``). When the tag also reports anchor distances as ``an0``, ``an1``, ... objects
  (``{"id"|"addr": <anchor id>, "dist": <m>, "qf": <percent>}``, ``dist`` possibly itself
  ``{"dist", "qf"}``) each becomes a range reading from that anchor. The anchor-distance shape
  follows the PANS ``lec``/``les`` outputs and is not verified against an MQTT capture.
  Positions with all-NaN coordinates (no fix) are dropped. No device time.
* ``dwm/node/<node id>/uplink/status``: ``present``, ``batt``, ``temp``, ``timestamp``
  (µs as a string) → node health.
* ``dwm/gateway/<gateway id>/uplink``: the bridge's own status (version, IP, UWB state).
* ``dwm/node/<node id>/uplink/data``: user IoT data, not handled (``unsupported``).

Node and anchor ids are lowercase hex as they appear.
"""

from __future__ import annotations

import math
import re
from typing import Any

from gateway.adapters import _common as c
from gateway.adapters.types import (
    DEFAULT_OPTIONS,
    GatewayStatus,
    ParseOptions,
    ParseResult,
    PositionReport,
)
from gateway.errors import PayloadError

__all__ = ["SOURCE", "parse"]

SOURCE = "dwm1001"
_ANCHOR_KEY = re.compile(r"^an\d+$", re.IGNORECASE)


def parse(topic: str, payload: bytes, received_at: float, *,
          options: ParseOptions = DEFAULT_OPTIONS) -> ParseResult:
    """Parse one DWM1001 / PANS MQTT message (see the module docstring).

    Raises:
        PayloadError: On a malformed payload or an unhandled topic.
    """
    c.check(payload, received_at, options)
    levels = topic.split("/")
    b = c.ResultBuilder(received_at, options)
    if len(levels) >= 4 and levels[1] == "gateway" and levels[2] and levels[3] == "uplink":
        d = c.as_object(c.decode_json(payload))
        return b.build(_gateway_status(levels[2].lower(), d, b))
    if len(levels) < 5 or levels[1] != "node" or not levels[2] or levels[3] != "uplink":
        raise PayloadError("unsupported", f"DWM topic {topic[:100]!r} is not "
                                          "dwm/node/<id>/uplink/<kind>")
    node = levels[2].lower()
    kind = levels[4]
    if kind == "status":
        d = c.as_object(c.decode_json(payload))
        dts = c.device_time(d.get("timestamp"), "timestamp")
        present = d.get("present")
        return b.build(GatewayStatus(
            node, b.ts(dts), online=present if isinstance(present, bool) else None,
            battery_pct=c.number(d, "batt"),
            extra={k: v for k, v in d.items() if k not in ("present", "batt", "timestamp")}))
    if kind != "location":
        raise PayloadError("unsupported", f"DWM uplink {kind[:40]!r} carries no location")
    d = c.as_object(c.decode_json(payload))
    for key in sorted(k for k in d if _ANCHOR_KEY.match(k)):
        try:
            _anchor(node, c.as_object(d[key], f"field {key!r}"), b)
        except PayloadError as exc:
            b.errors.append(exc.at(key))
    pos = d.get("position")
    if pos is not None:
        p = c.as_object(pos, "field 'position'")
        x = c.number(p, "x", required=True)
        y = c.number(p, "y", required=True)
        z = c.number(p, "z")
        q = c.number(p, "quality")
        assert x is not None and y is not None
        b.positions.append(PositionReport(b.ts(None), node, x, y, z,
                                          None if q is None else min(max(q, 0.0), 100.0) / 100,
                                          SOURCE))
    elif not len(b) and not b.errors:
        raise PayloadError("missing_field", "missing field 'position' (and no anchor "
                                            "distances)")
    return b.build()


def _anchor(node: str, a: dict[str, Any], b: c.ResultBuilder) -> None:
    anchor = a.get("id", a.get("addr"))
    if not isinstance(anchor, str | int) or isinstance(anchor, bool) or str(anchor) == "":
        raise PayloadError("missing_field", "missing anchor 'id'")
    dist: Any = a.get("dist")
    if isinstance(dist, dict):
        dist = dist.get("dist")
    if dist is None:
        raise PayloadError("missing_field", "missing field 'dist'")
    value = c.number({"dist": dist}, "dist", required=True)
    if value is None or math.isnan(value):
        raise PayloadError("bad_value", "field 'dist' is not a number")
    b.add(str(anchor).lower(), node, range_metres=c.range_m(value, "dist"))


def _gateway_status(gw: str, d: dict[str, Any], b: c.ResultBuilder) -> GatewayStatus:
    version = d.get("version")
    release = version.get("release") if isinstance(version, dict) else None
    conf = d.get("configuration")
    ips = conf.get("ipAddress") if isinstance(conf, dict) else None
    ip = ips[0] if isinstance(ips, list) and ips and isinstance(ips[0], str) else None
    uwb = d.get("uwb")
    return GatewayStatus(
        gw, b.ts(c.device_time(d.get("timestamp"), "timestamp")),
        online=None if not isinstance(uwb, str) else uwb.startswith("CONNECTED"),
        firmware=release if isinstance(release, str) else None, ip=ip,
        extra={k: v for k, v in d.items() if k in ("networkId", "bridgeNodeId", "uwb")},
    )
