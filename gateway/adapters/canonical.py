"""Sporing's own canonical JSON over MQTT (``sporing/readings/#``): one reading object or an
array of them, exactly as :mod:`gateway.canonical` defines (``ts``, ``gateway``, ``tag``, one of
``rssi``/``range_m``, optional ``tx_power``).

``ts`` is the producer's clock: it goes through the same time policy as vendor device times.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from gateway.adapters import _common as c
from gateway.adapters.types import DEFAULT_OPTIONS, ParseOptions, ParseResult
from gateway.canonical import RSSI_MAX_DBM, RSSI_MIN_DBM, ReadingBatch
from gateway.errors import PayloadError
from gateway.timebase import choose_ts_array

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
    # one fast path: arrays of well-formed BLE readings, column-wise; anything else (a single
    # object, whose column-wise checks would cost more than they save), and every error,
    # element by element through the validating path, with the same result (tested)
    if isinstance(doc, list):
        fast = _well_formed_ble(doc, received_at, options)
        if fast is not None:
            return fast
    b = c.ResultBuilder(received_at, options)
    if isinstance(doc, dict):
        _checked(b, doc)
    elif isinstance(doc, list):
        b.each(doc, lambda _i, el: _checked(b, el))
    else:
        c.as_object(doc)
    return b.build()


_NUMBER = {int, float}


def _well_formed_ble(doc: list[Any], received_at: float,
                     options: ParseOptions) -> ParseResult | None:
    """The result of an array of well-formed BLE readings, column by column (a few list
    comprehensions and NumPy checks instead of a Python call per element); None when any
    element is not one (then every element goes through the validating path)."""
    if not doc or not all(type(el) is dict for el in doc):
        return None
    n = len(doc)
    ts = [el.get("ts") for el in doc]
    gws = [el.get("gateway") for el in doc]
    tags = [el.get("tag") for el in doc]
    rssi = [el.get("rssi") for el in doc]
    txp = [el.get("tx_power") for el in doc]
    if not (set(map(type, ts)) <= _NUMBER and set(map(type, rssi)) <= _NUMBER
            and set(map(type, gws)) == {str} and set(map(type, tags)) == {str}
            and set(map(type, txp)) <= {int, float, type(None)}
            and all(el.get("range_m") is None for el in doc)):
        return None
    gw_index: dict[str, int] = {}
    tag_index: dict[str, int] = {}
    gw_code = [gw_index.setdefault(g, len(gw_index)) for g in gws]
    tag_code = [tag_index.setdefault(t, len(tag_index)) for t in tags]
    if "" in gw_index or "" in tag_index:
        return None
    dts = np.array(ts, dtype=np.float64)
    r = np.array(rssi, dtype=np.float64)
    tx = np.array(txp, dtype=np.float64)  # None becomes NaN
    if not (np.isfinite(dts).all() and ((r >= RSSI_MIN_DBM) & (r <= RSSI_MAX_DBM)).all()
            and not np.isinf(tx).any()):
        return None
    gateways = tuple(gw_index)
    batch = ReadingBatch(choose_ts_array(dts, received_at, options.time_policy),
                         np.array(gw_code, dtype=np.int32), np.array(tag_code, dtype=np.int32),
                         r, np.full(n, np.nan), c.tx_power_array(tx), gateways,
                         tuple(tag_index))
    return ParseResult(batch, device_time=dts)


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
