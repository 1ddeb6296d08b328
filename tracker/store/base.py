"""The store interface both backends (TimescaleDB, SQLite) implement, and its value types.

The API is synchronous: the pipeline calls it from a :class:`~tracker.store.writer.StoreWriter`
thread, and the HTTP API from a thread pool.
"""

from __future__ import annotations

from collections.abc import Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from tracker.assets import Asset
from tracker.records import FixRecord, GatewayStatusRecord, StayRecord, WriteBatch

if TYPE_CHECKING:
    from tracker.store.sql import Dialect, Fetch, Params

__all__ = [
    "ConflictError",
    "HourlyRoomTime",
    "Pairing",
    "Store",
    "StoreError",
    "StoreUnavailableError",
    "UnknownAssetError",
    "all_assets",
]


class StoreError(Exception):
    """Root of the store's exceptions."""


class StoreUnavailableError(StoreError):
    """The database cannot be reached (outage, restart); the write may be retried later."""


class ConflictError(StoreError):
    """A write broke a uniqueness or integrity rule (e.g. a user name that already exists)."""


class UnknownAssetError(StoreError, KeyError):
    """An operation named an asset that is not in the registry."""


@dataclass(frozen=True, slots=True)
class Pairing:
    """One period during which a tag was paired with an asset (``until`` None: still paired)."""

    asset: str
    tag: str
    since: float
    until: float | None


@dataclass(frozen=True, slots=True)
class HourlyRoomTime:
    """Seconds an asset (or unpaired tag) spent in a room within one clock hour (UTC)."""

    hour: float
    asset: str
    room: str
    seconds: float


@runtime_checkable
class Store(Protocol):
    """What the pipeline, API and reports need from storage."""

    def upgrade(self) -> list[str]:
        """Apply pending schema migrations; returns the names applied (idempotent)."""
        ...

    def write(self, batch: WriteBatch) -> None:
        """Write one batch atomically; replays of the same records never duplicate rows.

        Raises:
            StoreUnavailableError: the database is unreachable; nothing was written.
        """
        ...

    def apply_retention(self, now: float | None = None) -> dict[str, int]:
        """Remove data older than the configured retention where no server job does it;
        returns rows (or chunks) removed per table."""
        ...

    def current_locations(
        self, *, site: str | None = None, level: str | None = None, since: float | None = None
    ) -> list[FixRecord]:
        """The latest fix of every tag (optionally filtered), ordered by tag."""
        ...

    def location_of(self, asset_or_tag: str) -> FixRecord | None:
        """The latest fix of a tag, or of the tag(s) currently paired with an asset."""
        ...

    def trail(self, tag: str, t0: float, t1: float) -> list[FixRecord]:
        """Stored fixes of a tag with ``t0 <= ts < t1``, in time order."""
        ...

    def room_contents(self, room: str) -> list[FixRecord]:
        """Current locations of every tag whose latest fix is in ``room``."""
        ...

    def stays(
        self,
        t0: float,
        t1: float,
        *,
        tag: str | None = None,
        asset: str | None = None,
        room: str | None = None,
    ) -> list[StayRecord]:
        """Stays overlapping ``[t0, t1)`` (open stays count as lasting until now)."""
        ...

    def hourly_time_in_room(
        self, t0: float, t1: float, *, asset: str | None = None, now: float | None = None
    ) -> list[HourlyRoomTime]:
        """Seconds per (hour, asset, room) within ``[t0, t1)``; stays spanning hours are split.

        Open stays count until ``now`` (default: the current time).
        """
        ...

    def upsert_assets(self, assets: Sequence[Asset], *, at: float | None = None) -> int:
        """Insert or update assets; tags listed on an asset are paired at ``at`` (now).

        Returns the number of assets written. Tags not listed are left paired; unpairing is
        explicit (:meth:`unpair_tag`).
        """
        ...

    def get_asset(self, asset_id: str) -> Asset | None:
        """One asset with its currently paired tags, or None."""
        ...

    def search_assets(
        self,
        text: str | None = None,
        *,
        type: str | None = None,
        department: str | None = None,
        status: str | None = None,
        limit: int = 50,
        offset: int = 0,
    ) -> tuple[list[Asset], int]:
        """Assets matching all given filters (``text``: substring of id, name, model, serial,
        GIAI or barcode, case-insensitive), ordered by id; returns ``(page, total)``."""
        ...

    def pair_tag(self, asset_id: str, tag: str, at: float) -> None:
        """Pair a tag with an asset from ``at``, closing the tag's previous pairing."""
        ...

    def unpair_tag(self, tag: str, at: float) -> None:
        """Close the tag's open pairing at ``at`` (history is kept)."""
        ...

    def asset_for_tag(self, tag: str, at: float | None = None) -> str | None:
        """The asset a tag was paired with at ``at`` (default: now)."""
        ...

    def pairings(self, *, asset: str | None = None, tag: str | None = None) -> list[Pairing]:
        """Pairing history, ordered by time."""
        ...

    def gateway_status(self) -> list[GatewayStatusRecord]:
        """The latest status of every gateway, ordered by gateway."""
        ...

    @property
    def dialect(self) -> Dialect:
        """The SQL dialect, for feature modules that keep their own tables."""
        ...

    def query(self, q: str, params: Params = ()) -> list[Any]:
        """Run one read query and return its rows."""
        ...

    def transaction(self) -> AbstractContextManager[Fetch]:
        """A write transaction yielding a statement runner (see ``SQLReads.transaction``)."""
        ...

    def close(self) -> None:
        """Release connections."""
        ...


def all_assets(store: Store, text: str | None = None, *, type: str | None = None,
               department: str | None = None, status: str | None = None,
               page: int = 1000) -> list[Asset]:
    """Every asset matching the filters of :meth:`Store.search_assets`, fetched page by page.

    Args:
        store: The store.
        text: Substring of id, name, model, serial, GIAI or barcode (case-insensitive).
        type: Asset type.
        department: Owning department.
        status: Registry status.
        page: Assets per query.

    Returns:
        The assets, ordered by id.
    """
    out: list[Asset] = []
    while True:
        items, total = store.search_assets(text, type=type, department=department,
                                           status=status, limit=page, offset=len(out))
        out.extend(items)
        if not items or len(out) >= total:
            return out
