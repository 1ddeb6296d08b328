"""TagFilterBank vs the pure predict/update functions, gating and parked detection."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from positioning import MotionModel, TagFilterBank, cv_model, predict, update

PLAIN = MotionModel(stationary_detection=False, gate_chi2=1e12, reject_chi2=1e12,
                    max_speed_mps=100.0)
H = np.hstack([np.eye(2), np.zeros((2, 2))])


def reference_track(t: np.ndarray, z: np.ndarray, sig: np.ndarray, q: float, vmax: float
                    ) -> np.ndarray:
    """Plain CV filter from the pure functions (no gating, no modes)."""
    x = np.array([z[0, 0], z[0, 1], 0.0, 0.0])
    P = np.diag([sig[0] ** 2, sig[0] ** 2, (vmax / 2) ** 2, (vmax / 2) ** 2])
    out = [x[:2].copy()]
    for m in range(1, len(t)):
        F, Q = cv_model(t[m] - t[m - 1], q)
        x, P = predict(x, P, F, Q)
        x, P = update(x, P, z[m], np.eye(2) * sig[m] ** 2, H)
        out.append(x[:2].copy())
    return np.array(out)


def test_cv_model_matrices() -> None:
    F, Q = cv_model(2.0, 0.5)
    assert F[0, 2] == 2.0 and F[1, 3] == 2.0
    assert Q[0, 0] == pytest.approx(0.5 * 8 / 3) and Q[0, 2] == pytest.approx(1.0)
    np.testing.assert_allclose(Q, Q.T)


def test_update_reduces_uncertainty() -> None:
    x, P = update(np.zeros(4), np.eye(4), np.array([1.0, 0.0]), np.eye(2), H)
    assert x[0] == pytest.approx(0.5) and P[0, 0] == pytest.approx(0.5)


@settings(max_examples=30, deadline=None)
@given(st.integers(0, 2**31), st.integers(2, 60))
def test_property_kernel_matches_pure_functions(seed: int, n: int) -> None:
    rng = np.random.default_rng(seed)
    t = np.cumsum(rng.uniform(0.2, 3.0, n))
    z = np.cumsum(rng.normal(0, 1.0, (n, 2)), axis=0)
    sig = rng.uniform(0.3, 3.0, n)
    bank = TagFilterBank(3, PLAIN)
    out = bank.step(np.full(n, 1), t, z, sig)
    ref = reference_track(t, z, sig, PLAIN.accel_psd, PLAIN.max_speed_mps)
    np.testing.assert_allclose(out.xy, ref, rtol=1e-9, atol=1e-9)
    assert np.isnan(bank.t[[0, 2]]).all()


def test_interleaved_tags_are_independent() -> None:
    rng = np.random.default_rng(2)
    n = 50
    t = np.arange(n, dtype=float)
    za = rng.normal(0, 1, (n, 2))
    zb = rng.normal(10, 1, (n, 2))
    bank = TagFilterBank(2)
    tags = np.tile([0, 1], n)
    tt = np.repeat(t, 2)
    zz = np.empty((2 * n, 2))
    zz[0::2] = za
    zz[1::2] = zb
    both = bank.step(tags, tt, zz, 1.0)
    alone = TagFilterBank(1).step(np.zeros(n, int), t, za, 1.0)
    np.testing.assert_allclose(both.xy[0::2], alone.xy)


def test_parked_tag_averages_and_stays_put() -> None:
    rng = np.random.default_rng(0)
    n = 300
    z = np.array([5.0, 5.0]) + rng.normal(0, 2.0, (n, 2))
    out = TagFilterBank(1).step(np.zeros(n, int), np.arange(n, dtype=float), z, 2.0)
    assert not out.moving[-100:].any()
    assert np.hypot(*(out.xy[-1] - 5.0)) < 0.6
    assert out.accuracy_m[-1] < out.accuracy_m[0]
    # Much steadier than the raw fixes.
    assert np.std(out.xy[-100:, 0]) < 0.2 * np.std(z[-100:, 0])


def test_moves_then_parks_again() -> None:
    rng = np.random.default_rng(1)
    t = np.arange(200.0)
    truth = np.zeros((200, 2))
    truth[100:, 0] = np.minimum(t[100:] - 100, 30.0)
    out = TagFilterBank(1).step(np.zeros(200, int), t, truth + rng.normal(0, 1, (200, 2)), 1.0)
    assert not out.moving[:100].any()
    assert out.moving[110:130].all()
    assert not out.moving[-20:].any()
    err = np.hypot(*(out.xy - truth).T)
    assert np.median(err[115:130]) < 2.0
    assert np.median(err[-30:]) < 0.8


def test_speed_gate_resists_a_jump() -> None:
    rng = np.random.default_rng(3)
    n = 60
    z = rng.normal(0, 0.5, (n, 2))
    z[30] = [25.0, 0.0]  # one fix implying 25 m/s
    out = TagFilterBank(1).step(np.zeros(n, int), np.arange(n, dtype=float), z, 0.5)
    assert np.hypot(*out.xy[30]) < 1.0
    plain = TagFilterBank(1, PLAIN).step(np.zeros(n, int), np.arange(n, dtype=float), z, 0.5)
    assert np.hypot(*plain.xy[30]) > 5.0


def test_reacquires_after_a_teleport() -> None:
    n = 40
    z = np.zeros((n, 2))
    z[20:] = [50.0, 0.0]
    m = MotionModel(reacquire_after=3)
    out = TagFilterBank(1, m).step(np.zeros(n, int), np.arange(n, dtype=float), z, 0.3)
    assert np.hypot(*(out.xy[-1] - [50.0, 0.0])) < 1.0


def test_nan_fixes_skip_and_bad_input() -> None:
    bank = TagFilterBank(2)
    out = bank.step([0, 0, 1], [0.0, 1.0, 1.0], [[1.0, 1.0], [np.nan, np.nan], [np.nan, 0.0]],
                    [1.0, np.nan, 1.0])
    np.testing.assert_allclose(out.xy[1], [1.0, 1.0])
    assert np.isnan(out.xy[2]).all()
    with pytest.raises(ValueError, match="tag: index 5 at row 0"):
        bank.step([5], [0.0], [[0.0, 0.0]], 1.0)
    with pytest.raises(ValueError, match="xy: expected shape"):
        bank.step([0], [0.0], [0.0, 0.0], 1.0)
    with pytest.raises(ValueError, match="sigma_m"):
        bank.step([0], [0.0], [[0.0, 0.0]], -1.0)
    with pytest.raises(ValueError, match="t: expected"):
        bank.step([0], [np.nan], [[0.0, 0.0]], 1.0)
