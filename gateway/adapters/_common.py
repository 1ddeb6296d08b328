"""Private helpers shared by the adapters: decoding, typed field access, result building."""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from typing import Any

import numpy as np
import numpy.typing as npt
import orjson

from gateway.adapters.types import (
    GatewayStatus,
    ParseOptions,
    ParseResult,
    PositionReport,
    TagBattery,
)
from gateway.canonical import RANGE_MAX_M, RSSI_MAX_DBM, RSSI_MIN_DBM, ReadingBatch
from gateway.errors import PayloadError
from gateway.identity import is_mac, normalize_mac
from gateway.timebase import choose_ts, choose_ts_array, to_unix_seconds

#: Plausible "RSSI at 1 m" values; anything else is ignored (tx_power = None).
TX_POWER_MIN_DBM = -127.0
TX_POWER_MAX_DBM = 20.0


def check(payload: bytes, received_at: float, options: ParseOptions) -> None:
    """Size and argument checks before any decoding."""
    if not isinstance(payload, bytes | bytearray | memoryview):
        raise PayloadError("wrong_type", f"payload must be bytes, got {type(payload).__name__}")
    if len(payload) > options.max_bytes:
        raise PayloadError("too_large", f"payload of {len(payload)} bytes exceeds the limit of "
                                        f"{options.max_bytes}")
    if isinstance(received_at, bool) or not isinstance(received_at, int | float) or not (
            math.isfinite(received_at)):
        raise PayloadError("bad_time", f"received_at = {received_at!r} is not a finite number")


def decode_json(payload: bytes) -> Any:
    """Decode JSON, classifying failures as ``invalid_utf8``, ``truncated`` or ``invalid_json``."""
    try:
        return orjson.loads(payload)
    except orjson.JSONDecodeError as exc:
        try:
            bytes(payload).decode("utf-8")
        except UnicodeDecodeError as uexc:
            raise PayloadError("invalid_utf8",
                               f"payload is not UTF-8 at byte {uexc.start}") from None
        if not bytes(payload).strip():
            raise PayloadError("invalid_json", "payload is empty") from None
        if exc.pos >= len(exc.doc.rstrip()) and exc.doc.lstrip()[:1] in ("[", "{", '"'):
            raise PayloadError("truncated", f"JSON ends early at char {exc.pos}: {exc.msg}") \
                from None
        raise PayloadError("invalid_json", f"{exc.msg} at char {exc.pos}") from None


def decode_text(payload: bytes) -> str:
    """Decode UTF-8 text (``invalid_utf8`` naming the byte offset)."""
    try:
        return bytes(payload).decode("utf-8")
    except UnicodeDecodeError as exc:
        raise PayloadError("invalid_utf8", f"payload is not UTF-8 at byte {exc.start}") from None


def as_object(value: Any, what: str = "payload") -> dict[str, Any]:
    """``value`` as a JSON object, else ``wrong_type``."""
    if not isinstance(value, dict):
        raise PayloadError("wrong_type", f"{what} must be a JSON object, "
                                         f"got {_jtype(value)}")
    return value


def as_list(value: Any, what: str = "payload") -> list[Any]:
    """``value`` as a JSON array, else ``wrong_type``."""
    if not isinstance(value, list):
        raise PayloadError("wrong_type", f"{what} must be a JSON array, got {_jtype(value)}")
    return value


def _jtype(value: Any) -> str:
    return {dict: "object", list: "array", str: "string", bool: "boolean", int: "number",
            float: "number", type(None): "null"}.get(type(value), type(value).__name__)


def number(d: dict[str, Any], key: str, *, required: bool = False,
           numeric_string: bool = False) -> float | None:
    """A finite number field (``missing_field`` / ``wrong_type`` / ``bad_value``)."""
    v = d.get(key)
    if v is None:
        if required:
            raise PayloadError("missing_field", f"missing field {key!r}")
        return None
    if isinstance(v, str) and numeric_string:
        try:
            v = float(v.strip().rstrip("%"))
        except ValueError:
            raise PayloadError("wrong_type", f"field {key!r} = {str(v)[:30]!r} is not a "
                                             "number") from None
    if isinstance(v, bool) or not isinstance(v, int | float):
        raise PayloadError("wrong_type", f"field {key!r} must be a number, got {_jtype(v)}")
    f = float(v)
    if not math.isfinite(f):
        raise PayloadError("bad_value", f"field {key!r} = {v!r} is not finite")
    return f


def text(d: dict[str, Any], key: str, *, required: bool = False) -> str | None:
    """A non-empty string field (``missing_field`` / ``wrong_type``)."""
    v = d.get(key)
    if v is None or v == "":
        if required:
            raise PayloadError("missing_field", f"missing field {key!r}")
        return None
    if not isinstance(v, str):
        raise PayloadError("wrong_type", f"field {key!r} must be a string, got {_jtype(v)}")
    return v


def rssi(value: float | None, key: str = "rssi") -> float:
    """Validate an RSSI against the canonical bounds (``missing_field`` / ``absurd_rssi``)."""
    if value is None:
        raise PayloadError("missing_field", f"missing field {key!r}")
    if not RSSI_MIN_DBM <= value <= RSSI_MAX_DBM:
        raise PayloadError("absurd_rssi", f"field {key!r} = {value:g} dBm is outside "
                                          f"[{RSSI_MIN_DBM:g}, {RSSI_MAX_DBM:g}]")
    return value


def range_m(value: float | None, key: str = "range_m") -> float:
    """Validate a UWB range in metres (``missing_field`` / ``bad_range``)."""
    if value is None:
        raise PayloadError("missing_field", f"missing field {key!r}")
    if not 0.0 <= value <= RANGE_MAX_M:
        raise PayloadError("bad_range", f"field {key!r} = {value:g} m is outside "
                                        f"[0, {RANGE_MAX_M:g}]")
    return value


def tx_power(value: float | None) -> float | None:
    """An "RSSI at 1 m" value, or None when absent or implausible."""
    if value is None or not TX_POWER_MIN_DBM <= value <= TX_POWER_MAX_DBM or value == 0:
        return None
    return float(value)


def tx_power_array(values: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    """:func:`tx_power` on an array (NaN: absent or implausible)."""
    ok = (values >= TX_POWER_MIN_DBM) & (values <= TX_POWER_MAX_DBM) & (values != 0)
    return np.where(ok, values, np.nan)


def device_time(value: Any, key: str) -> float | None:
    """A device timestamp in UNIX seconds (None when absent)."""
    if value is None or value == "":
        return None
    return to_unix_seconds(value, field=key)


def mac_in_topic(topic: str) -> str | None:
    """The first topic level that is a MAC address, normalised (None if there is none)."""
    for level in topic.split("/"):
        if is_mac(level):
            return normalize_mac(level)
    return None


def gateway_mac(value: Any, key: str) -> str:
    """A gateway MAC field normalised, with the reason of a bad one kept."""
    return normalize_mac(value, field=key)


class ResultBuilder:
    """Accumulates readings (as columns), errors and positions, then freezes them into a
    ParseResult."""

    __slots__ = ("_dts", "_gateways", "_gw", "_rng", "_rssi", "_tag", "_tags", "_txp",
                 "batteries", "errors", "options", "positions", "received_at")

    def __init__(self, received_at: float, options: ParseOptions) -> None:
        self.received_at = float(received_at)
        self.options = options
        self.errors: list[PayloadError] = []
        self.positions: list[PositionReport] = []
        self.batteries: list[TagBattery] = []
        self._gateways: dict[str, int] = {}
        self._tags: dict[str, int] = {}
        self._gw: list[int] = []
        self._tag: list[int] = []
        self._rssi: list[float] = []
        self._rng: list[float] = []
        self._txp: list[float] = []
        self._dts: list[float] = []

    def __len__(self) -> int:
        """Readings added so far."""
        return len(self._gw)

    def ts(self, device_ts: float | None) -> float:
        """The canonical time for a device time under the configured policy (for statuses and
        positions; readings get theirs in :meth:`build`)."""
        return choose_ts(device_ts, self.received_at, self.options.time_policy)

    def gateway(self, gateway: str) -> None:
        """Record a gateway id the payload came from."""
        self._gateways.setdefault(gateway, len(self._gateways))

    def add(self, gateway: str, tag: str, *, rssi_dbm: float | None = None,
            range_metres: float | None = None, tx_power_dbm: float | None = None,
            device_ts: float | None = None) -> None:
        """Append one (already validated) reading; its ``ts`` is chosen from ``device_ts``
        under the configured time policy when the result is built."""
        gws, tags = self._gateways, self._tags
        self._gw.append(gws.setdefault(gateway, len(gws)))
        self._tag.append(tags.setdefault(tag, len(tags)))
        self._rssi.append(math.nan if rssi_dbm is None else rssi_dbm)
        self._rng.append(math.nan if range_metres is None else range_metres)
        txp = tx_power(tx_power_dbm)
        self._txp.append(math.nan if txp is None else txp)
        self._dts.append(math.nan if device_ts is None else device_ts)

    def battery(self, tag: str, value: Any) -> None:
        """Record a tag's battery percentage when ``value`` is a plausible one (a number in
        (0, 100]); anything else, e.g. Minew's 0 for beacons that do not report it, is taken
        as "not reported" and never costs the reading."""
        if isinstance(value, bool) or not isinstance(value, int | float):
            return
        if 0.0 < value <= 100.0:
            self.batteries.append(TagBattery(self.received_at, tag, float(value)))

    def each(self, elements: Iterable[Any], fn: Callable[[int, Any], None],
             label: str = "element") -> int:
        """Apply ``fn(index, element)`` to each element, recording a ``PayloadError`` raised by
        one element (prefixed with its index) and going on. Returns the element count."""
        n = 0
        for i, el in enumerate(elements):
            n += 1
            try:
                fn(i, el)
            except PayloadError as exc:
                self.errors.append(exc.at(f"{label} {i}"))
        return n

    def build(self, status: GatewayStatus | None = None) -> ParseResult:
        """The frozen result."""
        if status is not None:
            self.gateway(status.gateway)
        dts = np.array(self._dts, dtype=np.float64)
        batch = ReadingBatch(choose_ts_array(dts, self.received_at, self.options.time_policy),
                             np.array(self._gw, dtype=np.int32),
                             np.array(self._tag, dtype=np.int32),
                             np.array(self._rssi, dtype=np.float64),
                             np.array(self._rng, dtype=np.float64),
                             np.array(self._txp, dtype=np.float64), tuple(self._gateways),
                             tuple(self._tags))
        return ParseResult(batch, self.errors, status, self.positions, dts, self.batteries)
