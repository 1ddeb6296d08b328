"""Biomedical engineering reports: utilization, fleet sizing, idle, missing, maintenance.

* :mod:`~tracker.reports.states`: stays -> state intervals and uses (the definitions);
* :mod:`~tracker.reports.rollup`: the hourly rollup the reports read (``refresh_rollup``);
* :mod:`~tracker.reports.utilization`, :mod:`~tracker.reports.fleet`: reports over time;
* :mod:`~tracker.reports.worklists`: idle, missing and maintenance lists from where assets
  are now;
* :mod:`~tracker.reports.export`: CSV and JSON; :mod:`~tracker.reports.commands`: the
  ``sporing report`` command.

See ``docs/reports.md``.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from tracker.reports.fleet import FleetRow, fleet
    from tracker.reports.periods import DEFAULT_TZ
    from tracker.reports.rollup import (
        RefreshResult,
        refresh_incremental,
        refresh_rollup,
        rollup_info,
    )
    from tracker.reports.states import StateInterval, StateRules, Use, state_intervals, uses
    from tracker.reports.utilization import UtilizationRow, utilization
    from tracker.reports.worklists import (
        IdleRow,
        MaintenanceRow,
        MissingRow,
        idle,
        maintenance,
        missing,
    )

__all__ = [
    "DEFAULT_TZ",
    "FleetRow",
    "IdleRow",
    "MaintenanceRow",
    "MissingRow",
    "RefreshResult",
    "StateInterval",
    "StateRules",
    "Use",
    "UtilizationRow",
    "fleet",
    "idle",
    "maintenance",
    "missing",
    "refresh_incremental",
    "refresh_rollup",
    "rollup_info",
    "state_intervals",
    "uses",
    "utilization",
]

_HOME = {
    "DEFAULT_TZ": "periods", "FleetRow": "fleet", "fleet": "fleet",
    "RefreshResult": "rollup", "refresh_incremental": "rollup", "refresh_rollup": "rollup",
    "rollup_info": "rollup", "StateInterval": "states", "StateRules": "states", "Use": "states",
    "state_intervals": "states", "uses": "states", "UtilizationRow": "utilization",
    "utilization": "utilization", "IdleRow": "worklists", "MaintenanceRow": "worklists",
    "MissingRow": "worklists", "idle": "worklists", "maintenance": "worklists",
    "missing": "worklists",
}


def __getattr__(name: str) -> Any:
    """Import the public names on first use, so ``sporing --help`` stays fast."""
    home = _HOME.get(name)
    if home is None:
        raise AttributeError(f"module 'tracker.reports' has no attribute {name!r}")
    return getattr(importlib.import_module(f"tracker.reports.{home}"), name)
