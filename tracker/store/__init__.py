"""Storage: the store interface, TimescaleDB and SQLite backends, spool and writer.

``open_store(url)`` picks the backend from the URL: ``postgresql://...`` (TimescaleDB, or plain
PostgreSQL when the extension is missing) or ``sqlite:///path.db`` / ``sqlite://:memory:``.
"""

from __future__ import annotations

import os

from tracker.store.base import (
    HourlyRoomTime,
    Pairing,
    Store,
    StoreError,
    StoreUnavailableError,
    UnknownAssetError,
)

__all__ = [
    "DATABASE_URL_ENV",
    "HourlyRoomTime",
    "Pairing",
    "Store",
    "StoreError",
    "StoreUnavailableError",
    "UnknownAssetError",
    "default_database_url",
    "open_store",
]

#: Environment variable holding the default database URL.
DATABASE_URL_ENV = "SPORING_DATABASE_URL"


def default_database_url() -> str | None:
    """The URL from ``SPORING_DATABASE_URL``, if set."""
    return os.environ.get(DATABASE_URL_ENV) or None


def open_store(url: str, *, use_timescaledb: bool = True) -> Store:
    """Open the store a URL names (does not migrate; call ``upgrade()``).

    Raises:
        StoreError: the URL scheme is not supported.
    """
    if url.startswith("sqlite://"):
        from tracker.store.sqlite import SQLiteStore

        path = url.removeprefix("sqlite://")
        if path.startswith("/"):
            path = path[1:] or ":memory:"
        return SQLiteStore(path or ":memory:")
    if url.startswith(("postgresql://", "postgres://")):
        from tracker.store.timescale import TimescaleStore

        return TimescaleStore(url, use_timescaledb=use_timescaledb)
    raise StoreError(
        f"unsupported database URL {url!r}: expected postgresql://... or sqlite:///path.db"
    )
