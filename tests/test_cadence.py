"""The locate cadence: parked tags located every few seconds, moving or changed tags at once."""

from __future__ import annotations

import numpy as np

from positioning.cadence import CadenceParams, HeldFixes, LocateCadence


def _fixes(rows: np.ndarray, moving: bool = False, level: int = 0) -> HeldFixes:
    n = rows.size
    return HeldFixes(np.full(n, level, np.int64), rows * 1.0, rows * 2.0, np.full(n, 3.0),
                     rows.astype(np.int64), np.full(n, 0.9), np.full(n, moving),
                     np.full(n, 6, np.int64))


def _due(c: LocateCadence, rows: np.ndarray, t: float, *, level: int = 0, gw: int = 7,
         rssi: float = -70.0, unsure: bool = False) -> np.ndarray:
    n = rows.size
    return c.due(rows, t, np.full(n, level, np.int64), np.full(n, gw, np.int64),
                 np.full(n, rssi), np.full(n, unsure))


def _tick(c: LocateCadence, rows: np.ndarray, t: float, **kw: object) -> np.ndarray:
    due = _due(c, rows, t, **kw)  # type: ignore[arg-type]
    r = rows[due]
    c.remember(r, t, np.full(r.size, 7, np.int64), np.full(r.size, -70.0), _fixes(r))
    return due


def test_parked_tags_are_located_every_five_ticks_and_staggered() -> None:
    c = LocateCadence(CadenceParams(parked_every_s=5.0), tick_s=1.0)
    rows = np.arange(10)
    assert _tick(c, rows, 100.0).all()  # no fix yet: all due
    per_tick = [_tick(c, rows, 100.0 + k) for k in range(1, 11)]
    # each tag twice in ten ticks, and the load spread: two tags per tick
    assert (np.sum(per_tick, axis=0) == 2).all()
    assert [int(d.sum()) for d in per_tick] == [2] * 10
    # the latest fix is what is repeated in between
    held = c.recall(np.array([3]))
    assert held.x[0] == 3.0 and held.room[0] == 3 and held.n_gateways[0] == 6
    assert c.since(np.array([3]), 111.0)[0] > 0


def test_changes_locate_the_tag_at_once() -> None:
    c = LocateCadence(CadenceParams(parked_every_s=5.0, rssi_change_db=6.0), tick_s=1.0)
    rows = np.array([0])  # row 0: its first re-fix falls five ticks later
    _tick(c, rows, 0.0)
    assert not _due(c, rows, 1.0)[0]
    assert not _due(c, rows, 1.0, rssi=-75.0)[0]  # within 6 dB
    assert _due(c, rows, 1.0, rssi=-77.0)[0]
    assert _due(c, rows, 1.0, gw=8)[0]
    assert _due(c, rows, 1.0, level=1)[0]
    assert _due(c, rows, 1.0, unsure=True)[0]
    c.remember(rows, 1.0, np.array([7]), np.array([-70.0]), _fixes(rows, moving=True))
    assert _due(c, rows, 2.0)[0]  # moving: every tick


def test_cadence_at_the_tick_locates_every_tag_every_tick() -> None:
    c = LocateCadence(CadenceParams(parked_every_s=1.0), tick_s=1.0)
    assert not c.enabled
    rows = np.arange(4)
    for k in range(5):
        assert _tick(c, rows, float(k)).all()
