"""``sporing db upgrade`` and ``sporing assets import``.

The database URL comes from ``--database`` or ``SPORING_DATABASE_URL``; ``sqlite:///path.db``
selects the embedded SQLite store, ``postgresql://...`` TimescaleDB/PostgreSQL.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

__all__ = ["database_arg", "database_url", "register"]


def register(sub: argparse._SubParsersAction[Any]) -> None:
    """Add the ``db`` and ``assets`` command groups."""
    db = sub.add_parser("db", help="database schema management")
    db_sub = db.add_subparsers(dest="db_command", metavar="SUBCOMMAND", required=True)
    up = db_sub.add_parser("upgrade", help="apply pending schema migrations")
    database_arg(up)
    up.add_argument("--no-timescaledb", action="store_true",
                    help="use plain PostgreSQL even if TimescaleDB is available")
    up.set_defaults(handler=_db_upgrade)

    assets = sub.add_parser("assets", help="asset registry")
    a_sub = assets.add_subparsers(dest="assets_command", metavar="SUBCOMMAND", required=True)
    imp = a_sub.add_parser("import", help="import assets from a maintenance-system CSV export")
    imp.add_argument("file", metavar="FILE.csv", help="CSV file (';' or ',' delimited)")
    database_arg(imp)
    imp.add_argument("--dry-run", action="store_true", help="validate only, write nothing")
    imp.set_defaults(handler=_assets_import)


def database_arg(p: argparse.ArgumentParser) -> None:
    """Add ``--database URL`` (default ``$SPORING_DATABASE_URL``) to a command."""
    p.add_argument("--database", metavar="URL", default=None,
                   help="database URL (default: $SPORING_DATABASE_URL)")


def database_url(args: argparse.Namespace) -> str | None:
    """The database URL of ``args``; None (after printing why) when there is none."""
    from tracker.store import DATABASE_URL_ENV, default_database_url

    url: str | None = args.database or default_database_url()
    if not url:
        print(f"error: no database: pass --database URL or set {DATABASE_URL_ENV}",
              file=sys.stderr)
    return url


def _db_upgrade(args: argparse.Namespace) -> int:
    from tracker.store import StoreError, open_store

    url = database_url(args)
    if url is None:
        return 2
    try:
        store = open_store(url, use_timescaledb=not args.no_timescaledb)
        try:
            applied = store.upgrade()
        finally:
            store.close()
    except StoreError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(f"applied {len(applied)} migration(s)" + (": " + ", ".join(applied) if applied else
                                                     " (schema up to date)"))
    return 0


def _assets_import(args: argparse.Namespace) -> int:
    from pathlib import Path

    from tracker.assets import import_assets_csv
    from tracker.store import StoreError, open_store

    path = Path(args.file)
    if not path.is_file():
        print(f"error: {path}: no such file", file=sys.stderr)
        return 2
    assets, problems = import_assets_csv(path)
    for p in problems:
        print(p, file=sys.stderr)
    if args.dry_run:
        print(f"{len(assets)} valid asset(s), {len(problems)} problem(s) (dry run)")
        return 1 if problems else 0
    url = database_url(args)
    if url is None:
        return 2
    try:
        store = open_store(url)
        try:
            store.upgrade()
            n = store.upsert_assets(assets)
        finally:
            store.close()
    except StoreError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(f"imported {n} asset(s); {len(problems)} line(s) rejected")
    return 1 if problems else 0
