"""The canonical reading: the one stream type every source (gateway adapters, the simulator,
recorded files) produces and the positioning engine consumes.

One reading is ``ts`` (UNIX seconds), ``gateway`` (floor-plan id), ``tag`` and exactly one of
``rssi`` (dBm, BLE) or ``range_m`` (metres, UWB), with optional ``tx_power`` (dBm at 1 m). As a
JSON line::

    {"ts": 1764147600.12, "gateway": "gw-a3-014", "tag": "c3000025ef6a", "rssi": -71}

Unknown extra fields are ignored. The hot path uses :class:`ReadingBatch` (NumPy columns).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import numpy as np
import numpy.typing as npt
import orjson

__all__ = [
    "RSSI_MAX_DBM",
    "RSSI_MIN_DBM",
    "Reading",
    "ReadingBatch",
    "ReadingError",
    "iter_readings_jsonl",
    "open_readings",
    "parse_reading",
    "reading_to_json",
    "write_readings_jsonl",
]

#: Plausible RSSI bounds. Anything outside is rejected as absurd (e.g. +42 dBm).
RSSI_MIN_DBM = -130.0
RSSI_MAX_DBM = 20.0
#: UWB ranges beyond this are rejected (no indoor two-way ranging reaches it).
RANGE_MAX_M = 500.0


class ReadingError(ValueError):
    """A reading is malformed. The message names the field at fault."""


@dataclass(frozen=True, slots=True)
class Reading:
    """One observation of a tag by a gateway.

    Attributes:
        ts: UNIX time in seconds.
        gateway: Gateway id from the floor plan.
        tag: Tag id (12 lowercase hex digits for a MAC, or another normalised identity).
        rssi: Received signal strength in dBm (BLE), or None.
        range_m: Two-way-ranging distance in metres (UWB), or None.
        tx_power: Calibrated RSSI at 1 m the tag advertises, if any.
    """

    ts: float
    gateway: str
    tag: str
    rssi: float | None = None
    range_m: float | None = None
    tx_power: float | None = None

    def __post_init__(self) -> None:
        if (self.rssi is None) == (self.range_m is None):
            raise ReadingError("a reading needs exactly one of 'rssi' or 'range_m'")


def _number(obj: dict[str, Any], key: str, *, required: bool) -> float | None:
    v = obj.get(key)
    if v is None:
        if required:
            raise ReadingError(f"missing field {key!r}")
        return None
    if isinstance(v, bool) or not isinstance(v, int | float):
        raise ReadingError(f"field {key!r} must be a number, got {type(v).__name__}")
    f = float(v)
    if not math.isfinite(f):
        raise ReadingError(f"field {key!r} must be finite, got {v!r}")
    return f


def _text(obj: dict[str, Any], key: str) -> str:
    v = obj.get(key)
    if not isinstance(v, str) or not v:
        raise ReadingError(f"field {key!r} must be a non-empty string")
    return v


def parse_reading(obj: Any) -> Reading:
    """Validate one decoded JSON object as a canonical reading.

    Raises:
        ReadingError: naming the field at fault.
    """
    if not isinstance(obj, dict):
        raise ReadingError(f"a reading must be a JSON object, got {type(obj).__name__}")
    ts = _number(obj, "ts", required=True)
    assert ts is not None
    rssi = _number(obj, "rssi", required=False)
    rng = _number(obj, "range_m", required=False)
    if (rssi is None) == (rng is None):
        raise ReadingError("a reading needs exactly one of 'rssi' or 'range_m'")
    if rssi is not None and not RSSI_MIN_DBM <= rssi <= RSSI_MAX_DBM:
        raise ReadingError(f"field 'rssi' = {rssi:g} dBm is outside [{RSSI_MIN_DBM:g}, "
                           f"{RSSI_MAX_DBM:g}]")
    if rng is not None and not 0.0 <= rng <= RANGE_MAX_M:
        raise ReadingError(f"field 'range_m' = {rng:g} m is outside [0, {RANGE_MAX_M:g}]")
    return Reading(
        ts=ts, gateway=_text(obj, "gateway"), tag=_text(obj, "tag"), rssi=rssi, range_m=rng,
        tx_power=_number(obj, "tx_power", required=False),
    )


def reading_to_json(r: Reading) -> bytes:
    """Encode a reading as one compact JSON line (without the newline)."""
    d: dict[str, Any] = {"ts": round(r.ts, 3), "gateway": r.gateway, "tag": r.tag}
    if r.rssi is not None:
        d["rssi"] = r.rssi
    if r.range_m is not None:
        d["range_m"] = round(r.range_m, 4)
    if r.tx_power is not None:
        d["tx_power"] = r.tx_power
    return orjson.dumps(d)


def iter_readings_jsonl(
    lines: Iterable[bytes | str], *, source: str = "<stream>",
    errors: list[str] | None = None,
) -> Iterator[Reading]:
    """Parse canonical JSON lines, skipping blank lines.

    Args:
        lines: The lines (bytes or text).
        source: A name for error messages (e.g. the file name).
        errors: When given, bad lines are described here (``source:line: why``) and skipped;
            when None, the first bad line raises.

    Raises:
        ReadingError: On a bad line when ``errors`` is None.
    """
    for lineno, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            yield parse_reading(orjson.loads(line))
        except (orjson.JSONDecodeError, ReadingError) as exc:
            msg = f"{source}:{lineno}: {exc}"
            if errors is None:
                raise ReadingError(msg) from exc
            errors.append(msg)


def open_readings(path: str | Path, errors: list[str] | None = None) -> Iterator[Reading]:
    """Iterate the canonical readings of a JSON-lines file (see :func:`iter_readings_jsonl`)."""
    p = Path(path)
    with p.open("rb") as fh:
        yield from iter_readings_jsonl(fh, source=str(p), errors=errors)


@dataclass(frozen=True, slots=True)
class ReadingBatch:
    """A column-oriented batch of readings for the hot path.

    ``gateway`` and ``tag`` are integer codes into ``gateway_ids`` and ``tag_ids``; ``rssi`` and
    ``range_m`` are NaN where the reading is of the other kind; ``tx_power`` is NaN when absent.
    """

    ts: npt.NDArray[np.float64]
    gateway: npt.NDArray[np.int32]
    tag: npt.NDArray[np.int32]
    rssi: npt.NDArray[np.float64]
    range_m: npt.NDArray[np.float64]
    tx_power: npt.NDArray[np.float64]
    gateway_ids: tuple[str, ...]
    tag_ids: tuple[str, ...]

    def __len__(self) -> int:
        return int(self.ts.shape[0])

    @classmethod
    def from_readings(
        cls, readings: Sequence[Reading], *, gateway_ids: Sequence[str] | None = None,
        tag_ids: Sequence[str] | None = None,
    ) -> ReadingBatch:
        """Build a batch, coding ids against the given vocabularies (extended as needed)."""
        gw_index = {g: i for i, g in enumerate(gateway_ids or ())}
        tag_index = {t: i for i, t in enumerate(tag_ids or ())}
        n = len(readings)
        ts = np.empty(n)
        gw = np.empty(n, dtype=np.int32)
        tg = np.empty(n, dtype=np.int32)
        rssi = np.full(n, np.nan)
        rng = np.full(n, np.nan)
        txp = np.full(n, np.nan)
        for i, r in enumerate(readings):
            ts[i] = r.ts
            gw[i] = gw_index.setdefault(r.gateway, len(gw_index))
            tg[i] = tag_index.setdefault(r.tag, len(tag_index))
            if r.rssi is not None:
                rssi[i] = r.rssi
            if r.range_m is not None:
                rng[i] = r.range_m
            if r.tx_power is not None:
                txp[i] = r.tx_power
        return cls(ts, gw, tg, rssi, rng, txp, tuple(gw_index), tuple(tag_index))

    @classmethod
    def empty(cls) -> ReadingBatch:
        """A batch of no readings."""
        z = np.zeros(0)
        i = np.zeros(0, dtype=np.int32)
        return cls(z, i, i.copy(), z.copy(), z.copy(), z.copy(), (), ())

    @classmethod
    def concat(cls, batches: Iterable[ReadingBatch]) -> ReadingBatch:
        """One batch of all readings of ``batches`` in order (vocabularies merged)."""
        parts = [b for b in batches if len(b)]
        if not parts:
            return cls.empty()
        if len(parts) == 1:
            return parts[0]
        gw_index: dict[str, int] = {}
        tag_index: dict[str, int] = {}
        gws, tags = [], []
        for b in parts:
            gmap = np.array([gw_index.setdefault(g, len(gw_index)) for g in b.gateway_ids],
                            dtype=np.int32)
            tmap = np.array([tag_index.setdefault(t, len(tag_index)) for t in b.tag_ids],
                            dtype=np.int32)
            gws.append(gmap[b.gateway])
            tags.append(tmap[b.tag])
        return cls(np.concatenate([b.ts for b in parts]), np.concatenate(gws),
                   np.concatenate(tags), np.concatenate([b.rssi for b in parts]),
                   np.concatenate([b.range_m for b in parts]),
                   np.concatenate([b.tx_power for b in parts]), tuple(gw_index),
                   tuple(tag_index))

    def take(self, rows: npt.NDArray[np.bool_] | npt.NDArray[np.intp] | slice) -> ReadingBatch:
        """The readings selected by a boolean mask, an index array or a slice (same
        vocabularies)."""
        return ReadingBatch(self.ts[rows], self.gateway[rows], self.tag[rows], self.rssi[rows],
                            self.range_m[rows], self.tx_power[rows], self.gateway_ids,
                            self.tag_ids)

    def with_ts(self, ts: npt.NDArray[np.float64]) -> ReadingBatch:
        """The same readings at times ``ts``."""
        return ReadingBatch(ts, self.gateway, self.tag, self.rssi, self.range_m, self.tx_power,
                            self.gateway_ids, self.tag_ids)

    def relabel_gateways(self, code: npt.NDArray[np.int32],
                         gateway_ids: tuple[str, ...]) -> ReadingBatch:
        """Gateway vocabulary entry ``k`` becomes ``gateway_ids[code[k]]``; readings of the
        entries coded -1 are dropped (order kept)."""
        new = code[self.gateway]
        keep = new >= 0
        return ReadingBatch(self.ts[keep], new[keep], self.tag[keep], self.rssi[keep],
                            self.range_m[keep], self.tx_power[keep], gateway_ids, self.tag_ids)

    def to_readings(self) -> list[Reading]:
        """Expand back to reading objects (for I/O and tests, not the hot path)."""
        out = []
        for i in range(len(self)):
            rssi = None if math.isnan(self.rssi[i]) else float(self.rssi[i])
            rng = None if math.isnan(self.range_m[i]) else float(self.range_m[i])
            txp = None if math.isnan(self.tx_power[i]) else float(self.tx_power[i])
            out.append(Reading(float(self.ts[i]), self.gateway_ids[self.gateway[i]],
                               self.tag_ids[self.tag[i]], rssi, rng, txp))
        return out


def write_readings_jsonl(readings: Iterable[Reading], fh: IO[bytes]) -> int:
    """Write readings as JSON lines; returns how many were written."""
    n = 0
    for r in readings:
        fh.write(reading_to_json(r) + b"\n")
        n += 1
    return n
