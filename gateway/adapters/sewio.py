"""Sewio RTLS Studio (UWB) feed messages, as its WebSocket (or an MQTT bridge of it) delivers
them: ``{"body": {"id": <feed id>, "datastreams": [{"id", "current_value", "at"}, ...]},
"resource": "/feeds/<id>"}``.

A feed with ``posX``/``posY`` (and optionally ``posZ``) datastreams is a tag position computed
by Sewio, passed through as a :class:`PositionReport` (metres, source ``"sewio"``; ``clr`` is not
a documented quality and is not used). ``current_value`` is a string with leading spaces;
``at`` is the server's local time without a zone (taken as UTC: configure the Sewio server in
UTC). Feeds without a position (battery, firmware) are ``unsupported``.
"""

from __future__ import annotations

from typing import Any

from gateway.adapters import _common as c
from gateway.adapters.types import DEFAULT_OPTIONS, ParseOptions, ParseResult, PositionReport
from gateway.errors import PayloadError

__all__ = ["SOURCE", "parse"]

SOURCE = "sewio"


def parse(topic: str, payload: bytes, received_at: float, *,
          options: ParseOptions = DEFAULT_OPTIONS) -> ParseResult:
    """Parse one Sewio feed message (see the module docstring).

    Raises:
        PayloadError: Malformed, or a feed that carries no position (``unsupported``).
    """
    c.check(payload, received_at, options)
    d = c.as_object(c.decode_json(payload))
    body = c.as_object(d.get("body"), "field 'body'")
    feed = body.get("id")
    if isinstance(feed, bool) or not isinstance(feed, str | int) or str(feed) == "":
        raise PayloadError("missing_field", "missing field 'body.id'")
    streams = c.as_list(body.get("datastreams"), "field 'body.datastreams'")
    values: dict[str, float] = {}
    at: Any = None
    for i, s in enumerate(streams):
        try:
            sd = c.as_object(s, "a datastream")
            sid = c.text(sd, "id", required=True)
            if sid in ("posX", "posY", "posZ"):
                v = c.number(sd, "current_value", required=True, numeric_string=True)
                assert v is not None
                values[sid] = v
                at = sd.get("at", at)
        except PayloadError as exc:
            raise exc.at(f"datastream {i}") from None
    if "posX" not in values or "posY" not in values:
        names = [s.get("id") for s in streams if isinstance(s, dict)][:8]
        raise PayloadError("unsupported", f"feed {str(feed)[:20]!r} carries no position "
                                          f"(datastreams {names})")
    b = c.ResultBuilder(received_at, options)
    dts = c.device_time(at, "at")
    b.positions.append(PositionReport(b.ts(dts), str(feed).lower(), values["posX"],
                                      values["posY"], values.get("posZ"), None, SOURCE))
    return b.build()
