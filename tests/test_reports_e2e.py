"""End to end: a simulated stretch of the sample hospital, positioned by the engine, stays
stored in the real TimescaleDB, utilization compared with the simulator's ground truth (the
same report on the true stays). A small version of ``scripts/report_vs_truth.py``."""

from __future__ import annotations

import importlib.util
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from floorplans.sample import load_sample_site
from tracker.availability import AssetState
from tracker.reports.rollup import refresh_rollup
from tracker.reports.states import StateRules
from tracker.reports.utilization import utilization
from tracker.store import Store, open_store

pytestmark = [pytest.mark.integration, pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[1]


def _script() -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        "report_vs_truth", ROOT / "scripts" / "report_vs_truth.py")
    assert spec is not None and spec.loader is not None
    mod = importlib.util.module_from_spec(spec)
    sys.modules["report_vs_truth"] = mod
    spec.loader.exec_module(mod)
    return mod


@pytest.fixture(scope="module")
def simulated() -> tuple[ModuleType, Any, Any]:
    mod = _script()
    site = load_sample_site()
    run = mod.simulate(site, assets=24, hours=1.0, seed=5, start="2025-11-26T09:00:00+01:00")
    return mod, site, run


@pytest.fixture
def truth_store(tmp_path: Path) -> Iterator[Store]:
    s = open_store(f"sqlite:///{tmp_path / 'truth.db'}")
    yield s
    s.close()


def test_utilization_against_the_truth(simulated: tuple[ModuleType, Any, Any],
                                       fresh_database: str, truth_store: Store) -> None:
    mod, site, run = simulated
    measured = open_store(fresh_database)
    try:
        rows = mod.compare(site, run, measured, truth_store)
        # The measured stays went through TimescaleDB and its rollup.
        assert measured.query("SELECT count(*) FROM stays")[0][0] > 0
        assert measured.query("SELECT count(*) FROM fleet_hours")[0][0] > 0
    finally:
        measured.close()
    whole = rows[-1]
    assert whole.type == "all" and whole.assets == len(run.assets)
    for comp in rows:
        assert sum(comp.truth.values()) == pytest.approx(100.0)
        assert sum(comp.measured.values()) == pytest.approx(100.0)
        # The report on the true stays equals the share of 10-second truth samples in each
        # state (an independent computation), to within the sampling interval.
        if comp.type != "all":
            counts = run.truth_samples[comp.type]
            n = sum(counts.values())
            for state in mod.STATES:
                sampled = 100.0 * counts.get(state.value, 0) / n
                assert comp.truth[state.value] == pytest.approx(sampled, abs=1.0), (comp, state)
    # Measured vs. true: every asset heard all along, and the engine's room errors (about 40 %
    # of parked time in a wrong room on this plan, docs/accuracy.md) bounded as measured for
    # this seed in docs/reports.md; a regression guard, not the target. (The engine defaults
    # of 2026-11-26, n = 2 and self-calibration, measure 8.4 pp here, up from under 8.)
    assert abs(whole.diff(AssetState.NOT_SEEN)) <= 1.0
    assert abs(whole.diff(AssetState.IN_USE)) <= 9.0
    for state in mod.STATES:
        assert abs(whole.diff(state)) <= 25.0, (state, whole)


def test_sqlite_and_timescaledb_give_the_same_report(
        simulated: tuple[ModuleType, Any, Any], fresh_database: str, tmp_path: Path) -> None:
    mod, site, run = simulated
    rules = StateRules.for_site(site)
    answers = []
    for url in (fresh_database, f"sqlite:///{tmp_path / 'm.db'}"):
        store = open_store(url)
        try:
            mod._load(store, run.assets, run.engine_stays)
            refresh_rollup(store, rules, run.t0, run.t1, now=run.t1)
            answers.append([
                (r.type, r.department, r.uses,
                 {k: round(v, 3) for k, v in r.state_seconds.items()})
                for r in utilization(store, run.t0, run.t1, by="type_department", now=run.t1)])
        finally:
            store.close()
    assert answers[0] == answers[1]
    assert len(answers[0]) > 3
