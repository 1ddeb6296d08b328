"""Value types shared by every adapter: the parse result, gateway health, UWB positions."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np
import numpy.typing as npt

from gateway.canonical import Reading, ReadingBatch
from gateway.errors import PayloadError
from gateway.timebase import DEFAULT_TIME_POLICY, TimePolicy

__all__ = [
    "DEFAULT_OPTIONS",
    "MAX_PAYLOAD_BYTES",
    "Adapter",
    "GatewayStatus",
    "ParseOptions",
    "ParseResult",
    "PositionReport",
    "TagBattery",
]

#: Default payload size limit, checked before decoding.
MAX_PAYLOAD_BYTES = 1_000_000


@dataclass(frozen=True, slots=True)
class ParseOptions:
    """Knobs every adapter honours (keyword-only, with defaults: adapters stay pure).

    Attributes:
        max_bytes: Payloads longer than this are rejected (``too_large``) before decoding.
        time_policy: How ``Reading.ts`` is chosen between device and receipt time.
    """

    max_bytes: int = MAX_PAYLOAD_BYTES
    time_policy: TimePolicy = DEFAULT_TIME_POLICY


DEFAULT_OPTIONS = ParseOptions()


@dataclass(frozen=True, slots=True)
class GatewayStatus:
    """Health of a gateway (or of a UWB node) from a status, heartbeat or telemetry message.

    Every field but ``gateway`` and ``ts`` is optional: formats carry different subsets.

    Attributes:
        gateway: The gateway id (12 hex digits for MAC-identified gateways).
        ts: When the status was valid (UNIX seconds).
        online: Online/offline state (last-will messages), if stated.
        uptime_s: Seconds since boot.
        firmware: Firmware version text.
        model: Hardware model.
        battery_pct: Battery level, percent.
        ip: IP address.
        rssi: The gateway's own uplink signal strength (Wi-Fi or cellular), dBm.
        load: CPU/queue load as the vendor reports it.
        free_memory: Free memory (vendor unit: bytes or percent).
        extra: Other vendor fields kept for diagnostics.
    """

    gateway: str
    ts: float
    online: bool | None = None
    uptime_s: float | None = None
    firmware: str | None = None
    model: str | None = None
    battery_pct: float | None = None
    ip: str | None = None
    rssi: float | None = None
    load: float | None = None
    free_memory: float | None = None
    extra: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class PositionReport:
    """A position computed by a third-party UWB RTLS (Pozyx, DWM1001/PANS, Sewio), passed
    through as is: Sporing does not recompute it, but may fuse it or map it to a room.

    Attributes:
        ts: UNIX seconds.
        tag: The tag id in the vendor system (as the vendor spells it, lowercase).
        x: Metres in the vendor's local frame.
        y: Metres.
        z: Metres, when given.
        quality: Vendor quality factor scaled to 0..1, when given.
        source: The system that computed it (``"pozyx"``, ``"dwm1001"``, ``"sewio"``).
    """

    ts: float
    tag: str
    x: float
    y: float
    z: float | None
    quality: float | None
    source: str


@dataclass(frozen=True, slots=True)
class TagBattery:
    """A tag's battery level, as a format that carries one reported it (Minew, Kontakt.io,
    Theengs decoders): the input of the ``low_battery`` alert rule.

    Attributes:
        ts: UNIX seconds (receipt time).
        tag: The tag id, normalised like the readings' (12 hex digits for a MAC).
        percent: Battery level, 0 < percent <= 100.
    """

    ts: float
    tag: str
    percent: float


def _no_device_time() -> npt.NDArray[np.float64]:
    return np.zeros(0)


@dataclass(frozen=True, slots=True)
class ParseResult:
    """What an adapter made of one payload.

    The readings are kept as columns (:class:`gateway.canonical.ReadingBatch`): the ingest hot
    path re-times, maps and forwards them without one Python object per reading.
    :attr:`readings` expands them for tests and tools.

    Attributes:
        batch: The canonical readings, in payload order.
        errors: Problems with single elements of a batch payload (the rest was kept); each
            names the element index.
        status: Gateway health when the payload is (or contains) a status record.
        positions: Positions passed through from a UWB RTLS.
        device_time: For each reading, the device time in UNIX seconds (NaN when the payload
            carries none); :class:`gateway.timebase.ClockTracker` re-times readings with it.
        batteries: Tag battery levels the payload carried.
    """

    batch: ReadingBatch = field(default_factory=ReadingBatch.empty)
    errors: list[PayloadError] = field(default_factory=list)
    status: GatewayStatus | None = None
    positions: list[PositionReport] = field(default_factory=list)
    device_time: npt.NDArray[np.float64] = field(default_factory=_no_device_time)
    batteries: list[TagBattery] = field(default_factory=list)

    def __post_init__(self) -> None:
        if self.device_time.shape != (len(self.batch),):
            raise ValueError(f"device_time has shape {self.device_time.shape}, expected "
                             f"({len(self.batch)},)")

    @classmethod
    def of_readings(cls, readings: Sequence[Reading], *,
                    device_ts: Sequence[float | None] | None = None,
                    **fields: Any) -> ParseResult:
        """A result from reading objects (``device_ts``: one per reading, None for none;
        default none), with any other field by keyword."""
        dts = (np.full(len(readings), np.nan) if device_ts is None
               else np.array([np.nan if d is None else d for d in device_ts], dtype=np.float64))
        return cls(batch=ReadingBatch.from_readings(readings), device_time=dts, **fields)

    def retimed(self, ts: npt.NDArray[np.float64]) -> ParseResult:
        """The same result with the readings at times ``ts`` (a plain constructor call:
        ``dataclasses.replace`` costs more, once per message)."""
        return ParseResult(self.batch.with_ts(ts), self.errors, self.status, self.positions,
                           self.device_time, self.batteries)

    @property
    def gateways(self) -> tuple[str, ...]:
        """The gateway ids the payload came from (readings and status), in first-seen order:
        the batch's gateway vocabulary."""
        return self.batch.gateway_ids

    @property
    def readings(self) -> list[Reading]:
        """The readings as objects (built on each call: not for the hot path)."""
        return self.batch.to_readings()

    @property
    def device_ts(self) -> list[float | None]:
        """:attr:`device_time` with None where there is none."""
        return [None if d != d else float(d) for d in self.device_time.tolist()]


class Adapter(Protocol):
    """The signature every adapter's ``parse`` has."""

    def __call__(self, topic: str, payload: bytes, received_at: float, *,
                 options: ParseOptions = DEFAULT_OPTIONS) -> ParseResult:
        """Parse one payload; whole-payload failures raise ``PayloadError``."""
        ...
