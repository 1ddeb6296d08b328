"""Record types the tracker pipeline writes to a store.

They are small frozen value types with no behaviour beyond their idempotency key and a
plain-JSON form (used by the on-disk spool). Time is Unix epoch seconds (``float``); stores keep
it at microsecond resolution, so :func:`normalize_ts` is applied on construction paths that
need an exact key.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from gateway.health import GatewayHealth

__all__ = [
    "OFFLINE_AFTER_S",
    "STATUS_EVERY_S",
    "FixRecord",
    "GatewayStatusRecord",
    "RecordError",
    "StayRecord",
    "WriteBatch",
    "normalize_ts",
    "status_records",
    "stored_online",
    "ts_to_us",
    "us_to_ts",
]


class RecordError(ValueError):
    """A record (or its JSON form) is malformed; the message names the field."""


def ts_to_us(ts: float) -> int:
    """Epoch seconds to integer microseconds (the resolution every store keeps)."""
    if not math.isfinite(ts):
        raise RecordError(f"timestamp must be finite, got {ts!r}")
    return round(ts * 1_000_000)


def us_to_ts(us: int) -> float:
    """Integer microseconds to epoch seconds."""
    return us / 1_000_000


def normalize_ts(ts: float) -> float:
    """Round epoch seconds to the microsecond, exactly as a store will return them."""
    return us_to_ts(ts_to_us(ts))


@dataclass(frozen=True, slots=True)
class FixRecord:
    """One position fix of a tag, as stored.

    Attributes:
        ts: Epoch seconds of the fix.
        tag: Tag identifier (e.g. BLE MAC or UWB id).
        asset: Asset the tag was paired with at ``ts``, if any.
        site, building, level, room: Where the fix is; ``room`` is None in corridors etc.
        x, y: Site coordinates in metres.
        accuracy_m: Estimated horizontal accuracy (1-sigma radius), metres.
        room_confidence: Probability the room assignment is right, 0..1.
        moving: Whether the tag was moving.
        gateway: The gateway that heard the tag strongest for this fix (None when unknown,
            e.g. fixes stored before it was recorded): where to look for missing equipment.
    """

    ts: float
    tag: str
    asset: str | None
    site: str
    building: str | None
    level: str | None
    room: str | None
    x: float
    y: float
    accuracy_m: float
    room_confidence: float
    moving: bool
    gateway: str | None = None

    @property
    def key(self) -> tuple[str, int]:
        """Idempotency key: (tag, microseconds)."""
        return (self.tag, ts_to_us(self.ts))


@dataclass(frozen=True, slots=True)
class StayRecord:
    """A tag's stay in one room; open while ``t_exit`` is None.

    Writing the same ``(tag, t_enter)`` again updates the stay (typically to close it); a
    replayed open record never reopens a closed stay.
    """

    tag: str
    asset: str | None
    site: str
    level: str | None
    room: str
    t_enter: float
    t_exit: float | None
    confidence: float

    @property
    def key(self) -> tuple[str, int]:
        """Idempotency key: (tag, t_enter in microseconds)."""
        return (self.tag, ts_to_us(self.t_enter))

    @property
    def is_open(self) -> bool:
        """Whether the stay has not ended yet."""
        return self.t_exit is None


#: Seconds between the gateway health rows a service stores (``tracker.service.Service``).
STATUS_EVERY_S = 30.0
#: Silence after which a gateway is offline (as :class:`gateway.health.GatewayHealth`).
OFFLINE_AFTER_S = 60.0


def stored_online(status: GatewayStatusRecord, now: float) -> bool:
    """Whether a *stored* gateway status still means online at ``now``: the row says so and
    its last message is no older than the offline time plus the storing interval (a row
    that stopped being refreshed, because the process storing it died, goes offline too)."""
    return (status.online and status.last_seen is not None
            and now - status.last_seen <= OFFLINE_AFTER_S + STATUS_EVERY_S)


@dataclass(frozen=True, slots=True)
class GatewayStatusRecord:
    """Health of one gateway at one time."""

    ts: float
    gateway: str
    online: bool
    messages_per_s: float
    readings_per_s: float
    last_seen: float | None
    details: Mapping[str, Any] = field(default_factory=dict)

    @property
    def key(self) -> tuple[str, int]:
        """Idempotency key: (gateway, microseconds)."""
        return (self.gateway, ts_to_us(self.ts))


@dataclass(frozen=True, slots=True)
class WriteBatch:
    """One atomic write: fixes, stay updates and gateway statuses."""

    fixes: Sequence[FixRecord] = ()
    stays: Sequence[StayRecord] = ()
    statuses: Sequence[GatewayStatusRecord] = ()

    def __post_init__(self) -> None:
        # Normalise to tuples so batches compare equal however they were built.
        for name in ("fixes", "stays", "statuses"):
            value = getattr(self, name)
            if not isinstance(value, tuple):
                object.__setattr__(self, name, tuple(value))

    def __len__(self) -> int:
        return len(self.fixes) + len(self.stays) + len(self.statuses)

    def to_json(self) -> dict[str, Any]:
        """Plain-JSON form (lists of positional rows, compact for the spool)."""
        return {
            "f": [
                [f.ts, f.tag, f.asset, f.site, f.building, f.level, f.room, f.x, f.y,
                 f.accuracy_m, f.room_confidence, f.moving, f.gateway]
                for f in self.fixes
            ],
            "s": [
                [s.tag, s.asset, s.site, s.level, s.room, s.t_enter, s.t_exit, s.confidence]
                for s in self.stays
            ],
            "g": [
                [g.ts, g.gateway, g.online, g.messages_per_s, g.readings_per_s, g.last_seen,
                 dict(g.details)]
                for g in self.statuses
            ],
        }

    @classmethod
    def from_json(cls, obj: Any) -> WriteBatch:
        """Inverse of :meth:`to_json`; raises :class:`RecordError` naming the bad row."""
        if not isinstance(obj, dict):
            raise RecordError(f"batch must be an object, got {type(obj).__name__}")
        try:
            fixes = [FixRecord(*row) for row in obj.get("f", [])]
            stays = [StayRecord(*row) for row in obj.get("s", [])]
            statuses = [GatewayStatusRecord(*row) for row in obj.get("g", [])]
        except TypeError as exc:
            raise RecordError(f"malformed batch row: {exc}") from exc
        return cls(fixes, stays, statuses)


def status_records(health: GatewayHealth, now: float) -> list[GatewayStatusRecord]:
    """The gateway status rows at ``now`` (stored every 30 s, and handed to the alert engine):
    one per gateway heard from, rates rounded to 0.001/s, the counters in ``details``."""
    return [GatewayStatusRecord(
        ts=now, gateway=r.gateway, online=r.state == "online",
        messages_per_s=round(r.messages_per_s, 3), readings_per_s=round(r.readings_per_s, 3),
        last_seen=r.last_seen, details={"messages": r.messages, "readings": r.readings,
                                        "rejects": r.rejects})
        for r in health.snapshot(now) if r.state != "never_seen"]
