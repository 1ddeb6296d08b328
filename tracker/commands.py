"""``sporing serve``, ``sporing demo`` and ``sporing gateways``."""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import sys
from pathlib import Path
from typing import Any

__all__ = ["register"]


def register(sub: argparse._SubParsersAction[Any]) -> None:
    """Add the service commands to the ``sporing`` parser."""
    s = sub.add_parser("serve", help="run the live service (MQTT ingest, positioning, storage, "
                                     "HTTP API)")
    s.add_argument("--config", metavar="FILE.toml", default=None,
                   help="configuration file (see sporing.example.toml); SPORING_* environment "
                        "variables override it")
    s.add_argument("--role", choices=("all", "ingest", "api", "parse"), default=None,
                   help="all: everything in one process; ingest: no read API (ops endpoints "
                        "on api.ops_port; with [sharding] shards > 0 it positions only its "
                        "shards); api: HTTP API over the database; parse: a sharding parser "
                        "worker (vendor topics -> shard stream)")
    s.set_defaults(handler=_serve)

    d = sub.add_parser("demo", help="the sample hospital, simulated, served at "
                                    "http://127.0.0.1:8000 (no broker or database needed)")
    d.add_argument("--host", default="127.0.0.1")
    d.add_argument("--port", type=int, default=8000, help="0 picks a free port")
    d.add_argument("--assets", type=int, default=300, help="simulated assets (default 300)")
    d.add_argument("--speed", type=float, default=1.0,
                   help="simulated seconds per second (default 1: real time)")
    d.add_argument("--seed", type=int, default=7)
    d.add_argument("--state", type=Path, default=None, metavar="DIR",
                   help="keep the SQLite database here (default: a temporary directory)")
    d.set_defaults(handler=_demo)

    g = sub.add_parser("gateways", help="print the gateway health table")
    src = g.add_mutually_exclusive_group()
    src.add_argument("--url", help="a running service, e.g. http://127.0.0.1:8000")
    src.add_argument("--database", metavar="URL",
                     help="read the stored status (default: $SPORING_DATABASE_URL)")
    g.add_argument("--token", default=None,
                   help="API token for --url (default: $SPORING_TOKEN; any role)")
    g.add_argument("--json", action="store_true", help="JSON instead of a table")
    g.set_defaults(handler=_gateways)


def _fail(msg: str) -> int:
    print(f"error: {msg}", file=sys.stderr)
    return 2


def _serve(args: argparse.Namespace) -> int:
    from tracker.logs import configure_logging
    from tracker.service import Service
    from tracker.settings import Settings, SettingsError

    overrides: dict[str, Any] = {}
    if args.role:
        overrides["role"] = args.role
    try:
        settings = Settings.load(args.config, **overrides)
    except SettingsError as exc:
        return _fail(str(exc))
    from floorplans.problems import FloorplanError

    configure_logging(settings.log.format, settings.log.level)
    try:
        service = Service(settings)
    except (OSError, ValueError, FloorplanError) as exc:
        return _fail(f"cannot load the floor plan: {exc}")

    async def main() -> None:
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, service.request_stop)
        await service.run()

    try:
        asyncio.run(main())
    except (RuntimeError, ValueError) as exc:
        return _fail(str(exc))
    return 0


def _demo(args: argparse.Namespace) -> int:
    from tracker.demo import Demo, DemoOptions
    from tracker.logs import configure_logging

    configure_logging("text", "INFO")
    try:
        demo = Demo(DemoOptions(host=args.host, port=args.port, assets=args.assets,
                                speed=args.speed, seed=args.seed, state_dir=args.state))
    except ValueError as exc:
        return _fail(str(exc))

    async def main() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        await demo.start()
        print(f"Sporing demo: {demo.url}  (API docs {demo.url}docs)", flush=True)
        print(f"  simulating {args.assets} assets in the sample hospital at {args.speed:g}x "
              f"real time; database {demo.state_dir / 'sporing-demo.db'}", flush=True)
        from tracker.demo import DEMO_USERS

        users = ", ".join(f"{n} ({r})" for n, r in DEMO_USERS)
        print(f"  log in as {users}; demo password: {demo.password}", flush=True)
        print("  positions appear within seconds; Ctrl+C stops", flush=True)
        try:
            await stop.wait()
        finally:
            await demo.stop()

    try:
        asyncio.run(main())
    except RuntimeError as exc:
        return _fail(str(exc))
    return 0


def _gateways(args: argparse.Namespace) -> int:
    rows: list[dict[str, Any]]
    if args.url:
        import httpx

        url = args.url.rstrip("/") + "/api/v1/gateways"
        try:
            token = args.token or os.environ.get("SPORING_TOKEN")
            headers = {"Authorization": f"Bearer {token}"} if token else {}
            resp = httpx.get(url, timeout=10.0, headers=headers)
            resp.raise_for_status()
        except httpx.HTTPError as exc:
            return _fail(f"cannot read {url}: {exc}")
        rows = resp.json()["items"]
    else:
        from tracker.records import stored_online
        from tracker.store import DATABASE_URL_ENV, StoreError, default_database_url, open_store

        db = args.database or default_database_url()
        if not db:
            return _fail(f"pass --url or --database URL (or set {DATABASE_URL_ENV})")
        try:
            store = open_store(db)
            try:
                status = store.gateway_status()
            finally:
                store.close()
        except StoreError as exc:
            return _fail(str(exc))
        import time

        now = time.time()
        rows = [{"gateway": g.gateway, "state": "online" if stored_online(g, now) else "offline",
                 "last_seen": g.last_seen,
                 "age_s": None if g.last_seen is None else round(now - g.last_seen, 1),
                 "messages_per_s": g.messages_per_s, "readings_per_s": g.readings_per_s}
                for g in status]
    if args.json:
        import orjson

        sys.stdout.write(orjson.dumps(rows, option=orjson.OPT_INDENT_2).decode() + "\n")
        return 0
    print(_table(rows))
    return 0


def _table(rows: list[dict[str, Any]]) -> str:
    head = ("gateway", "state", "last seen", "msg/s", "readings/s")
    lines = [head]
    for r in rows:
        age = r.get("age_s")
        lines.append((str(r["gateway"]), str(r["state"]),
                      "never" if age is None else f"{age:.0f} s ago",
                      f"{r.get('messages_per_s') or 0:.2f}", f"{r.get('readings_per_s') or 0:.1f}"))
    widths = [max(len(line[i]) for line in lines) for i in range(len(head))]
    out = ["  ".join(c.ljust(w) for c, w in zip(line, widths, strict=True)).rstrip()
           for line in lines]
    counts: dict[str, int] = {}
    for r in rows:
        counts[str(r["state"])] = counts.get(str(r["state"]), 0) + 1
    out.append("")
    out.append(", ".join(f"{n} {k}" for k, n in sorted(counts.items())) or "no gateways")
    return "\n".join(out)
