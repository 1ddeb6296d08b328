"""Score the needs forecast on held-out weeks of synthetic stay history.

Builds ``--weeks`` weeks of stays for ``--types`` x ``--departments`` groups of ``--units``
assets each in a temporary SQLite store: in each hour the number of a group's units in a
patient room is a known weekly pattern (a department's level x a day-time curve x a weekday
factor) plus Poisson noise, capped at the units owned; the rest wait in equipment storage.
The rollup is refreshed from the stays, the forecast (:mod:`tracker.reports.forecast`) learns
from all but the last week, and its hourly ``mean`` and ``plan`` are compared with the last
week's measured concurrent use (``fleet_hours.in_use_max``) next to two naive baselines: the
same hour last week, and the overall mean of the training weeks.

Usage: .venv/bin/python scripts/forecast_eval.py [--weeks 6] [--seed 11]

``--weeks`` counts the held-out week: ``--weeks 6`` (the default) trains on 5 weeks,
``--weeks 9`` on 8 (the two halves of the table in docs/reports.md).
"""

from __future__ import annotations

import argparse
import datetime as dt
import itertools
import sys
import tempfile
import time
from pathlib import Path
from zoneinfo import ZoneInfo

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from floorplans.sample import load_sample_site  # noqa: E402
from tracker.assets import Asset  # noqa: E402
from tracker.records import StayRecord, WriteBatch  # noqa: E402
from tracker.reports.forecast import forecast  # noqa: E402
from tracker.reports.periods import hour_of_week  # noqa: E402
from tracker.reports.rollup import refresh_rollup  # noqa: E402
from tracker.reports.states import StateRules  # noqa: E402
from tracker.store import open_store  # noqa: E402

H = 3600.0
TZ = "Europe/Oslo"
DEPARTMENTS = (("Kirurgi 1A", "A1.101", "A1.115", 0.55), ("Medisin 3A", "A3.101", "A3.113",
               0.40), ("Nevrologi 2A", "A2.101", "A2.114", 0.30))
TYPES = ("infusion-pump", "patient-monitor")


def expected_use(how: np.ndarray, units: int, level: float) -> np.ndarray:
    """The known weekly pattern: expected units in use per hour of the week."""
    day, hour = how // 24, how % 24
    curve = 0.35 + 0.65 * np.exp(-0.5 * ((hour - 13.0) / 4.0) ** 2)
    weekday = np.where(day >= 5, 0.55, 1.0)
    return units * level * curve * weekday


def main(argv: list[str] | None = None) -> int:
    """Build the history, score the forecast, print a Markdown table."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--weeks", type=int, default=6, help="weeks of history (last one held out)")
    p.add_argument("--units", type=int, default=20, help="units per type and department")
    p.add_argument("--seed", type=int, default=11)
    p.add_argument("--alpha", type=float, default=0.3)
    p.add_argument("--quantile", type=float, default=0.9)
    args = p.parse_args(argv)
    rng = np.random.default_rng(args.seed)
    site = load_sample_site()
    end = dt.datetime(2026, 3, 2, tzinfo=ZoneInfo(TZ)).timestamp()  # a Monday, winter time
    start = end - args.weeks * 168 * H
    hours = start + H * np.arange(args.weeks * 168)
    how = hour_of_week(hours, TZ)
    t_start = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        store = open_store(f"sqlite:///{Path(tmp) / 'eval.db'}")
        store.upgrade()
        assets, stays = [], []
        for typ in TYPES:
            for dept, use_room, store_room, level in DEPARTMENTS:
                n_use = np.minimum(args.units, rng.poisson(expected_use(how, args.units,
                                                                         level)))
                for i in range(args.units):
                    aid = f"{typ}-{dept[:3]}{dept[-2:]}-{i:02d}".replace(" ", "")
                    tag = f"tag-{aid}"
                    assets.append(Asset(aid, aid, type=typ, department=dept, tags=(tag,)))
                    in_use = n_use > i
                    cuts = np.flatnonzero(np.diff(in_use.astype(np.int8))) + 1
                    bounds = [0, *cuts.tolist(), len(hours)]
                    for a, b in itertools.pairwise(bounds):
                        room = use_room if in_use[a] else store_room
                        stays.append(StayRecord(tag, aid, site.id, room.split(".")[0], room,
                                                float(hours[a]), float(start + b * H), 0.9))
        store.upsert_assets(assets, at=start - 86_400.0)
        store.write(WriteBatch(stays=stays))
        refresh_rollup(store, StateRules.for_site(site), start, end, now=end)
        test0 = end - 168 * H
        rows = forecast(store, weeks=args.weeks - 1, alpha=args.alpha,
                        quantile=args.quantile, tz=TZ, now=test0 - 1.0)
        d = store.dialect
        actual: dict[tuple[str, str], np.ndarray] = {}
        train: dict[tuple[str, str], np.ndarray] = {}
        for typ, dept, us, top in store.query(
                f"SELECT type, department, {d.us.format('hour')}, in_use_max FROM fleet_hours"
                " WHERE department <> '*' ORDER BY type, department, hour"):
            k = int((int(us) / 1e6 - start) // H)
            actual.setdefault((typ, dept), np.zeros(len(hours)))[k] = top
        for key, series in actual.items():
            train[key] = series[: len(hours) - 168]
            actual[key] = series[len(hours) - 168:]
        store.close()
    errors: dict[str, list[np.ndarray]] = {"forecast (mean)": [], "last week same hour": [],
                                           "overall mean": []}
    cover: list[float] = []
    for r in rows:
        if r.department is None:
            continue
        key = (r.type, r.department)
        y = actual[key]
        errors["forecast (mean)"].append(np.asarray(r.mean) - y)
        errors["last week same hour"].append(train[key][-168:] - y)
        errors["overall mean"].append(np.full(168, train[key].mean()) - y)
        cover.append(float((y <= np.asarray(r.plan)).mean()))
    took = time.perf_counter() - t_start
    print(f"{len(rows) - len(TYPES)} groups x 168 held-out hours; {args.weeks - 1} training"
          f" weeks; alpha {args.alpha}; seed {args.seed}; {took:.0f} s\n")
    print("| method | MAE (units) | bias (units) |")
    print("|---|---:|---:|")
    for name, errs in errors.items():
        e = np.concatenate(errs)
        print(f"| {name} | {np.abs(e).mean():.2f} | {e.mean():+.2f} |")
    print(f"\nPlanning level (q = {args.quantile}): actual use at or below it in"
          f" {100 * np.mean(cover):.1f} % of held-out hours.")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
