"""ChangeFilter: store a fix when it changes meaningfully, plus a heartbeat."""

from __future__ import annotations

import math
import random

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.test_store_behaviour import T0, fix
from tracker.records import FixRecord
from tracker.store.thinning import ChangeFilter


def test_passes_first_fix_place_change_motion_move_and_heartbeat() -> None:
    f = ChangeFilter(min_move_m=1.0, heartbeat_s=300, smoothing=1.0)
    assert f.accept(fix(T0))                                  # new tag
    assert not f.accept(fix(T0 + 1, x=1.5))                   # 0.5 m: jitter
    assert f.accept(fix(T0 + 2, x=2.5))                       # 1.5 m > 1 m
    assert f.accept(fix(T0 + 3, x=2.5, room="R102"))          # room change
    assert f.accept(fix(T0 + 4, x=2.5, room="R102", level="L2"))  # level change
    assert f.accept(fix(T0 + 5, x=2.5, room="R102", level="L2", moving=True))
    assert not f.accept(fix(T0 + 200, x=2.5, room="R102", level="L2", moving=True))
    assert f.accept(fix(T0 + 305, x=2.5, room="R102", level="L2", moving=True))  # heartbeat
    assert not f.accept(fix(T0 + 1, x=50.0))                  # older than last stored
    assert f.stats.by_reason == {"new": 1, "moved": 1, "place": 2, "motion": 1, "heartbeat": 1}
    assert (f.stats.seen, f.stats.passed) == (9, 6)


def test_threshold_grows_with_poor_accuracy() -> None:
    f = ChangeFilter(min_move_m=1.0, accuracy_factor=0.5, smoothing=1.0)
    f.accept(fix(T0, accuracy_m=8.0))
    assert not f.accept(fix(T0 + 1, x=4.5, accuracy_m=8.0))  # 3.5 m < 8/2
    assert f.accept(fix(T0 + 2, x=5.5, accuracy_m=8.0))      # 4.5 m > 4


def test_tags_are_independent_and_forget_resets() -> None:
    f = ChangeFilter()
    assert f.accept(fix(T0, "a")) and f.accept(fix(T0, "b"))
    assert not f.accept(fix(T0 + 1, "a"))
    f.forget("a")
    assert f.accept(fix(T0 + 2, "a"))


def test_rejects_bad_parameters() -> None:
    with pytest.raises(ValueError, match="heartbeat_s"):
        ChangeFilter(heartbeat_s=0)


def _reference(
    fixes: list[FixRecord], min_move: float, factor: float, hb: float, alpha: float
) -> list[int]:
    """Obvious re-statement of the rule, for comparison."""
    last: dict[str, FixRecord] = {}
    ema: dict[str, tuple[float, float]] = {}
    anchor: dict[str, tuple[float, float]] = {}
    out = []
    for i, f in enumerate(fixes):
        p = last.get(f.tag)
        if p is not None and f.ts <= p.ts:
            continue
        if p is None:
            ema[f.tag] = (f.x, f.y)
            keep = True
        else:
            e = ema[f.tag]
            ema[f.tag] = (e[0] + alpha * (f.x - e[0]), e[1] + alpha * (f.y - e[1]))
            place = (f.site, f.building, f.level, f.room) != (p.site, p.building, p.level, p.room)
            keep = (place or f.asset != p.asset or f.moving != p.moving
                    or math.dist(ema[f.tag], anchor[f.tag]) > max(min_move, f.accuracy_m * factor)
                    or f.ts - p.ts >= hb)
            if place:
                ema[f.tag] = (f.x, f.y)
        if keep:
            last[f.tag] = f
            anchor[f.tag] = ema[f.tag]
            out.append(i)
    return out


@given(st.integers(0, 2**32 - 1), st.floats(0, 3), st.floats(0, 1), st.floats(1, 100),
       st.floats(0.01, 1))
def test_matches_reference_on_random_streams(
    seed: int, mm: float, fac: float, hb: float, alpha: float
) -> None:
    rng = random.Random(seed)
    fixes = [fix(T0 + i * rng.uniform(0.5, 5), f"t{rng.randrange(3)}",
                 room=rng.choice(["R1", "R1", "R1", "R2"]), x=rng.uniform(0, 4),
                 moving=rng.random() < 0.1, accuracy_m=rng.uniform(0.3, 6))
             for i in range(200)]
    f = ChangeFilter(min_move_m=mm, accuracy_factor=fac, heartbeat_s=hb, smoothing=alpha)
    assert [i for i, x in enumerate(fixes) if f.accept(x)] == _reference(fixes, mm, fac, hb, alpha)


def _parked_day(seed: int = 1) -> list[FixRecord]:
    rng = random.Random(seed)
    return [fix(T0 + t, x=10 + rng.gauss(0, 0.3), y=5 + rng.gauss(0, 0.3))
            for t in range(0, 86400, 2)]


def test_parked_tag_costs_one_fix_per_heartbeat() -> None:
    kept = ChangeFilter(heartbeat_s=300).filter(_parked_day())
    assert 288 <= len(kept) <= 300  # one per 5 min; smoothed jitter almost never exceeds 1 m
    # Without smoothing, raw jitter crosses 1 m in ~6 % of fixes: ten times the rows.
    raw = ChangeFilter(heartbeat_s=300, smoothing=1.0).filter(_parked_day())
    assert len(raw) > 2000


def test_real_move_is_caught_quickly_with_smoothing() -> None:
    f = ChangeFilter()
    for t in range(10):
        f.accept(fix(T0 + t, x=0.0))
    passed = [t for t in range(10, 20) if f.accept(fix(T0 + t, x=5.0))]
    assert passed and passed[0] <= 11  # 5 m jump seen within two fixes
