"""Versioned schema migrations for PostgreSQL/TimescaleDB, and capability detection.

Migrations are ``tracker/store/migrations/NNNN_name.sql``. Each runs in its own transaction and
is recorded in ``schema_migrations``; the whole upgrade holds a session advisory lock, so
concurrent upgrades (several services starting together) serialise and apply each migration
once. Sections between ``-- @requires CAPABILITY`` and ``-- @end`` run only when the server has
that capability (see :class:`Capabilities`); skipped sections are recorded.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass, field
from importlib import resources

import psycopg

__all__ = [
    "Capabilities",
    "Migration",
    "apply_migrations",
    "detect_capabilities",
    "load_migrations",
]

log = logging.getLogger(__name__)

#: Arbitrary constant identifying Sporing's migration lock (pg_advisory_lock key).
_LOCK_KEY = 0x5350_4F52_494E_47  # "SPORING"

_NAME = re.compile(r"^(\d{4})_([a-z0-9_]+)\.sql$")
_REQUIRES = re.compile(r"^--\s*@requires\s+(\S+)\s*$")
_END = re.compile(r"^--\s*@end\s*$")


@dataclass(frozen=True, slots=True)
class Capabilities:
    """What the connected server offers.

    Attributes:
        timescaledb: The extension is installed in the database (hypertables, drop_chunks).
        tsl: TimescaleDB's Timescale-licence features are available (compression/columnstore,
            retention and compression policies, continuous aggregates). The Apache-only build
            (e.g. Debian's ``postgresql-17-timescaledb``) lacks them.
        version: Installed extension version, if any.
        license: Value of ``timescaledb.license`` (``apache`` or ``timescale``).
        reason: Why TimescaleDB is unavailable, when it is.
    """

    timescaledb: bool
    tsl: bool
    version: str | None = None
    license: str | None = None
    reason: str | None = None
    names: frozenset[str] = field(default_factory=frozenset)

    def has(self, capability: str) -> bool:
        """Whether a ``-- @requires`` capability name is available."""
        return capability in self.names

    def missing(self) -> list[str]:
        """Human-readable list of what this server lacks compared with full TimescaleDB."""
        out: list[str] = []
        if not self.timescaledb:
            out.append(
                f"hypertables and chunk-based retention ({self.reason or 'no timescaledb'}; "
                "plain tables with DELETE-based retention are used)"
            )
        if not self.tsl:
            why = (
                f"timescaledb.license={self.license!r}" if self.timescaledb else "no timescaledb"
            )
            out.append(f"compression/columnstore policies ({why}; data stays uncompressed)")
            out.append(
                f"retention policy jobs ({why}; call Store.apply_retention() periodically)"
            )
        return out


def detect_capabilities(
    conn: psycopg.Connection[tuple[object, ...]], *, use_timescaledb: bool = True
) -> Capabilities:
    """Find out whether TimescaleDB (and its TSL features) can be used, creating the extension
    in this database when the server has it.

    Args:
        conn: An autocommit connection.
        use_timescaledb: False forces plain-PostgreSQL mode (for tests and for servers where
            the extension must not be used).
    """
    if not use_timescaledb:
        return Capabilities(False, False, reason="disabled by configuration")
    row = conn.execute(
        "SELECT default_version, installed_version FROM pg_available_extensions"
        " WHERE name = 'timescaledb'"
    ).fetchone()
    if row is None:
        return Capabilities(False, False, reason="extension not available on the server")
    if row[1] is None:
        try:
            conn.execute("CREATE EXTENSION IF NOT EXISTS timescaledb")
        except psycopg.Error as exc:
            msg = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            return Capabilities(False, False, reason=f"CREATE EXTENSION failed: {msg}")
    ver = conn.execute(
        "SELECT extversion FROM pg_extension WHERE extname = 'timescaledb'"
    ).fetchone()
    lic = conn.execute("SELECT current_setting('timescaledb.license', true)").fetchone()
    license_ = str(lic[0]) if lic and lic[0] is not None else None
    tsl = license_ == "timescale"
    names = {"timescaledb"} | ({"timescaledb-tsl"} if tsl else set())
    return Capabilities(
        True, tsl, version=str(ver[0]) if ver else None, license=license_,
        names=frozenset(names),
    )


@dataclass(frozen=True, slots=True)
class Migration:
    """One migration file, split into (required capability or None, SQL) sections."""

    version: int
    name: str
    sections: tuple[tuple[str | None, str], ...]


def _split_sections(text: str, source: str) -> tuple[tuple[str | None, str], ...]:
    sections: list[tuple[str | None, str]] = []
    current: str | None = None
    buf: list[str] = []
    for lineno, line in enumerate(text.splitlines(), 1):
        m = _REQUIRES.match(line)
        if m:
            if current is not None:
                raise ValueError(f"{source}:{lineno}: nested '@requires' section")
            sections.append((None, "\n".join(buf)))
            current, buf = m.group(1), []
        elif _END.match(line):
            if current is None:
                raise ValueError(f"{source}:{lineno}: '@end' without '@requires'")
            sections.append((current, "\n".join(buf)))
            current, buf = None, []
        else:
            buf.append(line)
    if current is not None:
        raise ValueError(f"{source}: section '@requires {current}' is not closed with '@end'")
    sections.append((None, "\n".join(buf)))
    return tuple((cap, sql) for cap, sql in sections if sql.strip())


def load_migrations(package: str = "tracker.store.migrations") -> list[Migration]:
    """The migration files of a package, in version order."""
    out: list[Migration] = []
    for entry in resources.files(package).iterdir():
        m = _NAME.match(entry.name)
        if not m:
            continue
        text = entry.read_text(encoding="utf-8")
        out.append(Migration(int(m.group(1)), m.group(2), _split_sections(text, entry.name)))
    out.sort(key=lambda mig: mig.version)
    versions = [mig.version for mig in out]
    if len(set(versions)) != len(versions):
        raise ValueError(f"duplicate migration versions in {package}: {versions}")
    return out


def apply_migrations(
    conn: psycopg.Connection[tuple[object, ...]],
    caps: Capabilities,
    migrations: list[Migration] | None = None,
) -> list[str]:
    """Apply pending migrations under an advisory lock; returns the names applied.

    Args:
        conn: An autocommit connection (transactions are opened per migration).
        caps: Server capabilities deciding which sections run.
        migrations: Defaults to :func:`load_migrations`.
    """
    migrations = load_migrations() if migrations is None else migrations
    applied: list[str] = []
    conn.execute("SELECT pg_advisory_lock(%s)", (_LOCK_KEY,))
    try:
        conn.execute(
            "CREATE TABLE IF NOT EXISTS schema_migrations ("
            " version integer PRIMARY KEY, name text NOT NULL,"
            " applied_at timestamptz NOT NULL DEFAULT now(),"
            " skipped text[] NOT NULL DEFAULT '{}')"
        )
        done = {int(str(r[0])) for r in conn.execute("SELECT version FROM schema_migrations")}
        for mig in migrations:
            if mig.version in done:
                continue
            skipped: list[str] = []
            with conn.transaction():
                for cap, sql in mig.sections:
                    if cap is not None and not caps.has(cap):
                        skipped.append(cap)
                        continue
                    conn.execute(sql.encode())
                conn.execute(
                    "INSERT INTO schema_migrations (version, name, skipped) VALUES (%s, %s, %s)",
                    (mig.version, mig.name, sorted(set(skipped))),
                )
            label = f"{mig.version:04d}_{mig.name}"
            applied.append(label)
            if skipped:
                log.warning("migration %s: skipped sections needing %s", label,
                            ", ".join(sorted(set(skipped))))
            else:
                log.info("migration %s applied", label)
    finally:
        conn.execute("SELECT pg_advisory_unlock(%s)", (_LOCK_KEY,))
    return applied
