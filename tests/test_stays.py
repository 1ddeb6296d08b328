"""Stays open on entering a room, close on leaving it or on going silent."""

from __future__ import annotations

import numpy as np

from positioning.engine import FixFrame
from tracker.records import StayRecord
from tracker.stays import StayTracker


def frame(ts: float, rows: list[tuple[str, str | None, float]]) -> FixFrame:
    n = len(rows)
    z = np.zeros(n)
    return FixFrame(ts, tuple(r[0] for r in rows), z, z, ("L1",) * n, ("A",) * n,
                    tuple(r[1] for r in rows), np.array([r[2] for r in rows]), z,
                    np.zeros(n, np.bool_), np.zeros(n, np.int64))


def test_open_change_and_close() -> None:
    st = StayTracker("site", asset_of=lambda tag, ts: f"asset-{tag}")
    out = st.update(frame(100.0, [("t1", "R1", 0.9)]))
    assert [(s.room, s.t_enter, s.t_exit, s.asset) for s in out] == [("R1", 100.0, None,
                                                                       "asset-t1")]
    assert st.update(frame(101.0, [("t1", "R1", 0.7)])) == []
    out = st.update(frame(102.0, [("t1", "R2", 0.8)]))
    assert [(s.room, s.t_enter, s.t_exit) for s in out] == [("R1", 100.0, 102.0),
                                                            ("R2", 102.0, None)]
    assert out[0].confidence == 0.8  # mean of 0.9 and 0.7


def test_a_silent_tag_is_closed_at_its_last_fix() -> None:
    st = StayTracker("site", stale_after_s=60.0)
    st.update(frame(100.0, [("t1", "R1", 1.0), ("t2", "R5", 1.0)]))
    st.update(frame(110.0, [("t1", "R1", 1.0), ("t2", "R5", 1.0)]))
    out = st.update(frame(200.0, [("t2", "R5", 1.0)]))
    assert [(s.tag, s.room, s.t_exit) for s in out] == [("t1", "R1", 110.0)]
    assert [s.tag for s in st.open_stays()] == ["t2"]


def test_leaving_into_no_room_closes_without_opening() -> None:
    st = StayTracker("site")
    st.update(frame(100.0, [("t1", "R1", 1.0)]))
    out = st.update(frame(105.0, [("t1", None, 0.0)]))
    assert [(s.room, s.t_exit) for s in out] == [("R1", 105.0)]
    assert st.open_stays() == []


def test_silent_tags_close_on_the_first_tick_past_their_staleness_whatever_the_order() -> None:
    """The stale scan is skipped while no stay can be stale; every silent tag is still closed
    on the first tick after its own ``stale_after_s`` (also after a resume)."""
    st = StayTracker("site", stale_after_s=60.0)
    st.update(frame(0.0, [("a", "R1", 1.0), ("c", "R3", 1.0)]))
    st.update(frame(30.0, [("b", "R2", 1.0), ("c", "R3", 1.0)]))
    closed: list[tuple[float, str, float | None]] = []
    for t in range(31, 200):
        out = st.update(frame(float(t), [("c", "R3", 1.0)]))
        closed += [(float(t), s.tag, s.t_exit) for s in out]
    assert closed == [(61.0, "a", 0.0), (91.0, "b", 30.0)]
    st.resume([StayRecord("d", None, "site", "L1", "R4", 150.0, None, 1.0)], now=150.0)
    out = st.update(frame(211.0, [("c", "R3", 1.0)]))
    assert [(s.tag, s.t_exit) for s in out] == [("d", 150.0)]


def test_stays_opened_after_a_scan_that_left_none_open_still_go_stale() -> None:
    """An empty first tick (or every stay expiring at once) leaves nothing to wait for; stays
    opened afterwards must still close when their tag goes silent."""
    st = StayTracker("site", stale_after_s=60.0)
    assert st.update(frame(0.0, [])) == []
    st.update(frame(1.0, [("a", "R1", 1.0)]))
    out = st.update(frame(62.0, []))
    assert [(s.tag, s.t_exit) for s in out] == [("a", 1.0)]
    st.update(frame(100.0, [("b", "R2", 1.0)]))
    out = st.update(frame(161.0, []))
    assert [(s.tag, s.t_exit) for s in out] == [("b", 100.0)]


def test_a_restart_resumes_long_stays_without_erasing_them() -> None:
    """Stays open for an hour before a restart: the first (empty) tick must not close them
    at their entry; a tag heard again continues its stay, a silent one is closed at the
    restart."""
    st = StayTracker("site", stale_after_s=60.0)
    restart = 10_000.0
    open_ = [StayRecord(t, None, "site", "L1", r, restart - 3600.0, None, 0.9)
             for t, r in (("back", "R1"), ("gone", "R2"))]
    assert st.resume(open_, now=restart) == 2
    assert st.update(frame(restart + 1.0, [])) == []
    assert st.update(frame(restart + 2.0, [("back", "R1", 1.0)])) == []  # same stay goes on
    out = st.update(frame(restart + 61.0, [("back", "R1", 1.0)]))
    assert [(s.tag, s.t_enter, s.t_exit) for s in out] == [("gone", restart - 3600.0, restart)]
    assert [(s.tag, s.t_enter) for s in st.open_stays()] == [("back", restart - 3600.0)]
