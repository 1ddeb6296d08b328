"""``sporing report forecast``: the 7-day needs forecast and redistribution suggestions.

::

    sporing report forecast [--type --department --weeks 8 --quantile 0.9] [--moves]

Prints one CSV line per group and forecast hour (``--format json``: the groups with their
hourly series and the suggested moves); ``--moves`` prints only the suggested moves.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import Any

__all__ = ["add_forecast"]


def add_forecast(rs: argparse._SubParsersAction[Any], common: Callable[..., None],
                 filters: Callable[[argparse.ArgumentParser], None],
                 run: Callable[[argparse.Namespace, Any], int],
                 emit: Callable[..., int], site: Callable[[argparse.Namespace], Any]) -> None:
    """Add the ``forecast`` report to the ``sporing report`` group (the helpers are those of
    :mod:`tracker.reports.commands`)."""
    p = rs.add_parser("forecast", help="concurrent demand per type and department for the"
                                       " next 7 days, with redistribution suggestions")
    common(p)
    filters(p)
    p.add_argument("--weeks", type=int, default=8, help="weeks of history (default 8)")
    p.add_argument("--quantile", type=float, default=0.9,
                   help="planning quantile (default 0.9)")
    p.add_argument("--moves", action="store_true",
                   help="only the suggested moves (CSV: one line per move)")

    def handler(args: argparse.Namespace) -> int:
        def body(store: Any) -> int:
            from tracker.reports.forecast import ForecastRow, Move, forecast_with_moves

            rows, moves = forecast_with_moves(
                store, site(args), type=args.type, department=args.department,
                weeks=args.weeks, quantile=args.quantile, tz=args.tz)
            tz = args.tz
            if args.moves:
                return emit(args, [m.to_record(tz) for m in moves], Move.COLUMNS,
                            report="forecast-moves")
            if args.format == "json":
                return emit(args, [{**r.to_record(tz), "hours": r.records(tz)} for r in rows],
                            (), report="forecast", moves=[m.to_record(tz) for m in moves])
            return emit(args, [rec for r in rows for rec in r.records(tz)], ForecastRow.COLUMNS,
                        report="forecast")

        return run(args, body)

    p.set_defaults(handler=handler)
