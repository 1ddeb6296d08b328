"""Level filter: scores against a plain reference, and hysteresis on persistent evidence."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from positioning.levels import LevelFilter, LevelParams, level_scores


def naive_scores(tag, level, rssi, n_tags, n_levels, top=3, floor=-100.0):
    out = np.empty((n_tags, n_levels))
    for t in range(n_tags):
        for lv in range(n_levels):
            vals = sorted((max(r, floor) for tt, ll, r in zip(tag, level, rssi, strict=True)
                           if tt == t and ll == lv and not np.isnan(r)), reverse=True)[:top]
            vals += [floor] * (top - len(vals))
            out[t, lv] = np.mean(vals)
    return out


def naive_filter_step(post, scores, heard, p: LevelParams):
    n = post.shape[0]
    prior = (1 - p.switch_prob) * post + p.switch_prob / n
    smax = scores[heard].max()
    d = np.where(heard, scores - smax, -p.cap_db)
    e = np.exp(np.maximum(d, -p.cap_db) / p.temperature_db)
    q = prior * e
    return q / q.sum()


def test_scores_hand_case() -> None:
    s = level_scores([0, 0, 0, 0, 1], [0, 0, 1, 0, 1], [-60, -70, -80, -65, -90], 2, 2)
    assert np.allclose(s[0], [(-60 - 65 - 70) / 3, (-80 - 100 - 100) / 3])
    assert np.allclose(s[1], [-100, (-90 - 200) / 3])


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 3), st.integers(0, 2),
                          st.one_of(st.floats(-110, -30), st.just(float("nan")))),
                max_size=40))
def test_scores_match_reference(pairs: list[tuple[int, int, float]]) -> None:
    tag = [p[0] for p in pairs]
    lvl = [p[1] for p in pairs]
    rssi = [p[2] for p in pairs]
    assert np.allclose(level_scores(tag, lvl, rssi, 4, 3), naive_scores(tag, lvl, rssi, 4, 3))


def test_filter_matches_reference_on_random_sequence() -> None:
    rng = np.random.default_rng(3)
    p = LevelParams()
    f = LevelFilter(4, p)
    post = np.full(4, 0.25)
    for _ in range(50):
        scores = rng.uniform(-95, -55, size=(1, 4))
        heard = rng.random((1, 4)) < 0.7
        heard[0, 0] = True
        f.update([0], scores, heard)
        post = naive_filter_step(post, scores[0], heard[0], p)
        assert np.allclose(f.posterior(0), post, rtol=1e-9, atol=1e-12)


def test_single_burst_does_not_move_a_parked_tag_but_persistent_evidence_does() -> None:
    f = LevelFilter(3)
    own = np.array([[-65.0, -82.0, -95.0]])
    above = np.array([[-82.0, -62.0, -95.0]])
    heard = np.ones((1, 3), dtype=bool)
    for _ in range(30):
        lv, _ = f.update([0], own, heard)
    assert lv[0] == 0
    # A burst of two ticks where the floor above looks 20 dB stronger: no change.
    for _ in range(2):
        lv, _ = f.update([0], above, heard)
        assert lv[0] == 0
    for _ in range(3):
        f.update([0], own, heard)
    # Persistent evidence (the tag took the lift): the level follows within a few ticks.
    changed_at = None
    for i in range(15):
        lv, p = f.update([0], above, heard)
        if lv[0] == 1 and changed_at is None:
            changed_at = i
    assert changed_at is not None and 2 <= changed_at <= 6
    assert p[0] > 0.99


def test_many_tags_are_independent() -> None:
    f = LevelFilter(2)
    scores = np.array([[-60.0, -80.0], [-80.0, -60.0]])
    heard = np.ones((2, 2), dtype=bool)
    for _ in range(5):
        lv, _ = f.update([5, 9], scores, heard)
    assert list(lv) == [0, 1]
    assert np.allclose(f.posterior(0), 0.5)  # never updated
