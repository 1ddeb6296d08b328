"""Pozyx Enterprise (UWB RTLS), MQTT topic ``tags`` on the local broker.

Each message is a JSON array of tag records: ``tagId``, ``success``, ``timestamp`` (UNIX
seconds, float) and ``data.coordinates`` ``{x, y, z}`` in **millimetres**. Pozyx computes the
positions itself, so they are passed through as :class:`PositionReport` (metres, source
``"pozyx"``) rather than turned into readings. A record with ``success: false`` or without
coordinates has no position and yields nothing (it is not an error).

``data.anchorData`` is empty in the recorded captures; when it lists per-anchor entries with
``anchorId`` and ``rss`` (dBm) or ``range``/``distance`` (mm) they are emitted as readings
from that anchor (this shape is taken from the Pozyx docs' field names and is not verified
against a capture).
"""

from __future__ import annotations

from typing import Any

from gateway.adapters import _common as c
from gateway.adapters.types import DEFAULT_OPTIONS, ParseOptions, ParseResult, PositionReport
from gateway.errors import PayloadError

__all__ = ["SOURCE", "parse"]

SOURCE = "pozyx"


def _id(value: Any, key: str) -> str:
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise PayloadError("wrong_type", f"field {key!r} must be a string or an integer")
    s = str(value).strip().lower()
    if not s:
        raise PayloadError("missing_field", f"field {key!r} is empty")
    return s


def parse(topic: str, payload: bytes, received_at: float, *,
          options: ParseOptions = DEFAULT_OPTIONS) -> ParseResult:
    """Parse one Pozyx ``tags`` message (see the module docstring).

    Raises:
        PayloadError: Not JSON, or neither an array nor an object of tag records.
    """
    c.check(payload, received_at, options)
    doc = c.decode_json(payload)
    records = [doc] if isinstance(doc, dict) else c.as_list(doc)
    b = c.ResultBuilder(received_at, options)

    def one(i: int, el: Any) -> None:
        d = c.as_object(el, "a tag record")
        tag = _id(d.get("tagId"), "tagId")
        dts = c.device_time(d.get("timestamp"), "timestamp")
        data = d.get("data")
        if data is None:
            return
        data = c.as_object(data, "field 'data'")
        anchors = data.get("anchorData") or []
        for j, a in enumerate(c.as_list(anchors, "field 'anchorData'")):
            try:
                ad = c.as_object(a, "an anchorData entry")
                anchor = _id(ad.get("anchorId"), "anchorId")
                rss = c.number(ad, "rss")
                dist = c.number(ad, "range")
                if dist is None:
                    dist = c.number(ad, "distance")
                if rss is not None:
                    b.add(anchor, tag, rssi_dbm=c.rssi(rss, "rss"), device_ts=dts)
                elif dist is not None:
                    b.add(anchor, tag, range_metres=c.range_m(dist / 1000.0, "range"),
                          device_ts=dts)
            except PayloadError as exc:  # a bad anchor entry: report it, keep the others
                b.errors.append(exc.at(f"anchorData {j}").at(f"element {i}"))
        coords = data.get("coordinates")
        if d.get("success") is False or coords is None:
            return
        xyz = c.as_object(coords, "field 'coordinates'")
        x = c.number(xyz, "x", required=True)
        y = c.number(xyz, "y", required=True)
        z = c.number(xyz, "z")
        assert x is not None and y is not None
        b.positions.append(PositionReport(
            b.ts(dts), tag, x / 1000.0, y / 1000.0, None if z is None else z / 1000.0,
            None, SOURCE))

    b.each(records, one)
    return b.build()
