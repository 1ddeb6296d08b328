"""Timestamps from gateways: unit inference, ISO strings, and the device-vs-receipt policy.

Gateways stamp readings with their own clock, in seconds, milliseconds, microseconds or
nanoseconds, as numbers, numeric strings or ISO 8601 text; some have no clock at all and some
have one that is wrong (1970 after a power cut, or far in the future). Sporing's canonical
``Reading.ts`` is UNIX seconds on the *receiver's* clock scale.

Two layers:

* :func:`choose_ts` is stateless and what the adapters use: the device time when it is within a
  small window around the receipt time (``policy.max_lag_s`` behind, ``policy.max_lead_s``
  ahead), else the receipt time. Adapters keep the raw device time beside every reading
  (``ParseResult.device_ts``) so a stateful layer can do better.
* :class:`ClockTracker` is that stateful layer: it keeps a robust per-gateway clock offset
  ``device - receipt`` (running median over a window, with MAD outlier rejection and a reset
  when the clock jumps) and re-times readings as ``device_ts - offset``, which keeps the
  device's fine ordering within a batch but removes both the clock error and the network
  jitter. A gateway whose offset is not stable is timed by receipt.
"""

from __future__ import annotations

import math
import statistics
from collections import deque
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import lru_cache
from typing import TYPE_CHECKING, Literal

import numpy as np
import numpy.typing as npt

from gateway.errors import PayloadError

if TYPE_CHECKING:
    from gateway.adapters.types import ParseResult

__all__ = [
    "DEFAULT_TIME_POLICY",
    "ClockTracker",
    "TimePolicy",
    "choose_ts",
    "choose_ts_array",
    "parse_iso",
    "to_unix_seconds",
]

#: Device timestamps before this (2001-09-09) or after this (2100-01-01) are treated as wrong.
EPOCH_MIN_S = 1_000_000_000.0
EPOCH_MAX_S = 4_102_444_800.0


@dataclass(frozen=True, slots=True)
class TimePolicy:
    """How :func:`choose_ts` picks ``Reading.ts``.

    Attributes:
        mode: ``"auto"`` (device time when plausible, else receipt), ``"device"`` (device time
            whenever it is a sane date), or ``"receipt"`` (always the receipt time).
        max_lag_s: In auto mode, how far the device time may be behind the receipt time.
        max_lead_s: In auto mode, how far the device time may be ahead of the receipt time.
    """

    mode: Literal["auto", "device", "receipt"] = "auto"
    max_lag_s: float = 10.0
    max_lead_s: float = 2.0


DEFAULT_TIME_POLICY = TimePolicy()


def _sane(ts: float) -> bool:
    return EPOCH_MIN_S <= ts <= EPOCH_MAX_S


def choose_ts(device_ts: float | None, received_at: float,
              policy: TimePolicy = DEFAULT_TIME_POLICY) -> float:
    """The canonical timestamp for a reading: device time or receipt time, per ``policy``."""
    if device_ts is None or policy.mode == "receipt" or not _sane(device_ts):
        return received_at
    if policy.mode == "device":
        return device_ts
    if received_at - policy.max_lag_s <= device_ts <= received_at + policy.max_lead_s:
        return device_ts
    return received_at


def choose_ts_array(device_time: npt.NDArray[np.float64], received_at: float,
                    policy: TimePolicy = DEFAULT_TIME_POLICY) -> npt.NDArray[np.float64]:
    """:func:`choose_ts` for an array of device times (NaN: none), all received at once."""
    dts = np.asarray(device_time, dtype=np.float64)
    if policy.mode == "receipt" or dts.size == 0:
        return np.full(dts.shape, float(received_at))
    lo, hi = EPOCH_MIN_S, EPOCH_MAX_S
    if policy.mode == "auto":
        lo, hi = max(lo, received_at - policy.max_lag_s), min(hi, received_at + policy.max_lead_s)
    # one interval test (False for NaN): this runs once per message, for one reading or 750
    return np.where((dts >= lo) & (dts <= hi), dts, float(received_at))


def to_unix_seconds(value: object, *, field: str = "timestamp") -> float:
    """Convert a device timestamp to UNIX seconds.

    Numbers (and numeric strings) are seconds, milliseconds, microseconds or nanoseconds,
    inferred from the magnitude (a 2001..2100 date in one of those units). Other strings are
    parsed as ISO 8601 (``Z`` or an offset; naive times are taken as UTC).

    Raises:
        PayloadError: ``bad_time`` (unparseable, or a number that is no plausible date in any
            unit) or ``wrong_type``.
    """
    if isinstance(value, bool):
        raise PayloadError("wrong_type", f"field {field!r} must be a number or a string, "
                                         "got bool")
    if isinstance(value, str):
        s = value.strip()
        try:
            num = float(s)
        except ValueError:
            return parse_iso(s, field=field)
        if not math.isfinite(num):
            raise PayloadError("bad_time", f"field {field!r} = {value!r} is not finite")
        return _scale(num, field)
    if isinstance(value, int | float):
        if not math.isfinite(value):
            raise PayloadError("bad_time", f"field {field!r} = {value!r} is not finite")
        return _scale(float(value), field)
    raise PayloadError("wrong_type", f"field {field!r} must be a number or a string, "
                                     f"got {type(value).__name__}")


def _scale(num: float, field: str) -> float:
    for divisor in (1.0, 1e3, 1e6, 1e9):
        s = num / divisor
        if _sane(s):
            return s
    if 0.0 <= num < EPOCH_MIN_S:
        # A small positive number: an unset device clock counting from 1970 (or uptime).
        # Returned as is; choose_ts will then fall back to the receipt time.
        return num
    raise PayloadError("bad_time", f"field {field!r} = {num:g} is no plausible time in "
                                   "s, ms, µs or ns")


def parse_iso(text: str, *, field: str = "timestamp") -> float:
    """Parse an ISO 8601 date-time to UNIX seconds (naive times are UTC).

    Also accepts a space instead of ``T`` and MOKO's ``2021-01-01&17:10:16+08``. Results are
    cached: batch payloads repeat the same timestamp.

    Raises:
        PayloadError: ``bad_time`` naming the field.
    """
    return _parse_iso(text, field)


@lru_cache(maxsize=4096)
def _parse_iso(text: str, field: str) -> float:
    s = text.strip().replace("&", "T")
    if s.endswith(("Z", "z")):
        s = s[:-1] + "+00:00"
    try:
        dt = datetime.fromisoformat(s)
    except ValueError:
        raise PayloadError("bad_time", f"field {field!r} = {text[:40]!r} is not an ISO 8601 "
                                       "time") from None
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    return dt.timestamp()


@dataclass(slots=True)
class _GatewayClock:
    offsets: deque[float]
    median: float | None = None
    mad: float = math.inf
    outliers: int = 0


@dataclass(slots=True)
class ClockTracker:
    """A robust per-gateway clock offset (``device time - receipt time``).

    Each observation updates a running median over the last ``window`` offsets. After
    ``min_samples`` observations, an offset further than ``max(k_mad * 1.4826 * MAD,
    floor_s)`` from the median is an outlier and not admitted; ``reset_after`` consecutive
    outliers mean the device clock jumped (NTP sync, reboot) and restart the estimate.

    Attributes:
        window: Offsets kept per gateway.
        min_samples: Observations before the estimate is trusted.
        k_mad: Outlier threshold in robust standard deviations.
        floor_s: The smallest outlier threshold (network jitter is ~0.1..1 s).
        max_spread_s: A gateway whose robust spread exceeds this is timed by receipt.
        reset_after: Consecutive outliers that restart the estimate.
    """

    window: int = 64
    min_samples: int = 5
    k_mad: float = 5.0
    floor_s: float = 1.0
    max_spread_s: float = 2.0
    reset_after: int = 8
    _clocks: dict[str, _GatewayClock] = field(default_factory=dict)

    def observe(self, gateway: str, device_ts: float, received_at: float) -> bool:
        """Record one (device, receipt) pair; returns whether it was admitted (not an outlier).

        Device times that are no sane date (1970, after 2100) are never admitted.
        """
        if not (_sane(device_ts) and math.isfinite(received_at)):
            return False
        clock = self._clocks.get(gateway)
        if clock is None:
            clock = self._clocks[gateway] = _GatewayClock(deque(maxlen=self.window))
        off = device_ts - received_at
        if clock.median is not None and len(clock.offsets) >= self.min_samples:
            limit = max(self.k_mad * 1.4826 * clock.mad, self.floor_s)
            if abs(off - clock.median) > limit:
                clock.outliers += 1
                if clock.outliers >= self.reset_after:
                    clock.offsets.clear()
                    clock.offsets.append(off)
                    clock.outliers = 0
                    self._refresh(clock)
                return False
        clock.outliers = 0
        clock.offsets.append(off)
        self._refresh(clock)
        return True

    @staticmethod
    def _refresh(clock: _GatewayClock) -> None:
        med = statistics.median(clock.offsets)
        clock.median = med
        clock.mad = statistics.median(abs(o - med) for o in clock.offsets)

    def offset(self, gateway: str) -> float | None:
        """The current offset estimate of a gateway, or None while it is not trusted."""
        clock = self._clocks.get(gateway)
        if (clock is None or clock.median is None or len(clock.offsets) < self.min_samples
                or 1.4826 * clock.mad > self.max_spread_s):
            return None
        return clock.median

    def correct(self, gateway: str, device_ts: float | None, received_at: float) -> float:
        """The corrected time of one reading: ``device_ts - offset`` when the gateway's clock
        is trusted and the result is not in the future, else ``received_at``."""
        if device_ts is None or not _sane(device_ts):
            return received_at
        offset = self.offset(gateway)
        if offset is None:
            return received_at
        t = device_ts - offset
        return t if t <= received_at + self.floor_s else received_at

    def apply(self, result: ParseResult, received_at: float) -> ParseResult:
        """Observe the device times of a parse result and return it re-timed.

        Each gateway of the message is observed once, at its newest sane device time: older
        readings of a batch carry the gateway's buffering delay, not its clock offset, and
        observing every reading would cost two medians per reading on the ingest hot path.
        Readings without a device time get ``received_at``; the rest :meth:`correct`, with
        one offset lookup per gateway (on the columns, not per reading).
        """
        batch = result.batch
        dts = result.device_time
        if len(batch) == 0:
            return result
        r = float(received_at)
        sane = (dts >= EPOCH_MIN_S) & (dts <= EPOCH_MAX_S)
        if not sane.any():
            return result.retimed(np.full(dts.shape, r))
        # newest sane device time per gateway of the message, then its offset: a Python loop
        # over the message's (few) gateways, not its readings
        newest = np.full(len(batch.gateway_ids), -np.inf)
        np.maximum.at(newest, batch.gateway[sane], dts[sane])
        offset = np.full(newest.shape, np.nan)
        for k, t_dev in enumerate(newest.tolist()):
            if t_dev > -math.inf:
                gateway = batch.gateway_ids[k]
                self.observe(gateway, t_dev, r)
                off = self.offset(gateway)
                if off is not None:
                    offset[k] = off
        shifted = dts - offset[batch.gateway]  # NaN where no trusted offset
        return result.retimed(np.where(sane & (shifted <= r + self.floor_s), shifted, r))
