"""Sporing's own canonical JSON over MQTT (``sporing/readings/#``): one reading object or an
array of them, exactly as :mod:`gateway.canonical` defines (``ts``, ``gateway``, ``tag``, one of
``rssi``/``range_m``, optional ``tx_power``).

``ts`` is the producer's clock: it goes through the same time policy as vendor device times.
"""

from __future__ import annotations

from typing import Any

from gateway.adapters import _common as c
from gateway.adapters.types import DEFAULT_OPTIONS, ParseOptions, ParseResult
from gateway.errors import PayloadError

__all__ = ["parse"]


def parse(topic: str, payload: bytes, received_at: float, *,
          options: ParseOptions = DEFAULT_OPTIONS) -> ParseResult:
    """Parse canonical readings (see the module docstring).

    Raises:
        PayloadError: The payload is not JSON, not an object or array, or (for a single
            object) not a valid reading. Bad elements of an array are reported in
            ``ParseResult.errors`` instead.
    """
    c.check(payload, received_at, options)
    doc = c.decode_json(payload)
    b = c.ResultBuilder(received_at, options)

    def one(_i: int, el: Any) -> None:
        d = c.as_object(el, "a reading")
        ts = c.number(d, "ts", required=True)
        gw = c.text(d, "gateway", required=True)
        tag = c.text(d, "tag", required=True)
        assert gw is not None and tag is not None
        r = c.number(d, "rssi")
        rng = c.number(d, "range_m")
        if (r is None) == (rng is None):
            raise PayloadError("missing_field" if r is None else "bad_value",
                               "a reading needs exactly one of 'rssi' or 'range_m'")
        b.add(gw, tag,
              rssi_dbm=None if r is None else c.rssi(r),
              range_metres=None if rng is None else c.range_m(rng),
              tx_power_dbm=c.number(d, "tx_power"), device_ts=ts)

    if isinstance(doc, dict):
        one(0, doc)
    elif isinstance(doc, list):
        b.each(doc, one)
    else:
        c.as_object(doc)
    return b.build()
