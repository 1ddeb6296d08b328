"""Sporing's own canonical JSON over MQTT (``sporing/readings/#``): one reading object or an
array of them, exactly as :mod:`gateway.canonical` defines (``ts``, ``gateway``, ``tag``, one of
``rssi``/``range_m``, optional ``tx_power``).

``ts`` is the producer's clock: it goes through the same time policy as vendor device times.
"""

from __future__ import annotations

import math
from typing import Any

from gateway.adapters import _common as c
from gateway.adapters.types import DEFAULT_OPTIONS, ParseOptions, ParseResult
from gateway.canonical import RSSI_MAX_DBM, RSSI_MIN_DBM
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
        if type(el) is dict:
            # Fast path for the common, well-formed BLE reading; anything else (and every
            # error) goes through the validating path, with the same result (tested).
            ts, gw, tag, r = el.get("ts"), el.get("gateway"), el.get("tag"), el.get("rssi")
            txp = el.get("tx_power")  # iBeacon tags advertise it: most readings carry it
            if (type(ts) is float or type(ts) is int) and math.isfinite(ts) \
                    and type(gw) is str and gw and type(tag) is str and tag \
                    and (type(r) is int or type(r) is float) \
                    and RSSI_MIN_DBM <= r <= RSSI_MAX_DBM and el.get("range_m") is None \
                    and (txp is None or ((type(txp) is int or type(txp) is float)
                                         and math.isfinite(txp))):
                b.add(gw, tag, rssi_dbm=float(r),
                      tx_power_dbm=None if txp is None else float(txp), device_ts=float(ts))
                return
        _checked(b, el)

    if isinstance(doc, dict):
        one(0, doc)
    elif isinstance(doc, list):
        b.each(doc, one)
    else:
        c.as_object(doc)
    return b.build()


def _checked(b: c.ResultBuilder, el: Any) -> None:
    """Validate one element field by field (``PayloadError`` naming the field) and add it."""
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
