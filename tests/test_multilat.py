"""multilaterate vs the SciPy/NumPy references in tests/naive.py, plus properties."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.spatial import Delaunay

from positioning import Fixes, multilaterate
from positioning.multilat import radius95
from tests import naive

SQUARE = np.array([[0.0, 0.0, 3.0], [10.0, 0.0, 3.0], [0.0, 10.0, 3.0], [10.0, 10.0, 3.0]])


def ranges_to(anchors: np.ndarray, xy: np.ndarray, z: float = 1.0) -> np.ndarray:
    return np.sqrt(((anchors[..., :2] - xy) ** 2).sum(-1) + (anchors[..., 2] - z) ** 2)


def random_rows(rng: np.random.Generator, n: int, k: int, noise: float):
    A = np.zeros((n, k, 3))
    A[..., :2] = rng.uniform(0, 30, (n, k, 2))
    A[..., 2] = rng.uniform(2.5, 3.5, (n, k))
    P = rng.uniform(0, 30, (n, 2))
    S = np.full((n, k), noise)
    R = ranges_to(A, P[:, None, :]) + rng.normal(0, noise, (n, k))
    return A, R, S, P


def test_noiseless_square_is_exact() -> None:
    r = ranges_to(SQUARE, np.array([3.0, 4.0]))
    f = multilaterate(SQUARE[None], r[None], np.full((1, 4), 0.1))
    assert isinstance(f, Fixes) and len(f) == 1
    np.testing.assert_allclose(f.xy[0], [3.0, 4.0], atol=1e-4)
    assert f.n_used[0] == 4
    assert f.residual[0] < 1e-3
    assert 0.0 < f.accuracy_m[0] < 0.5


def test_tag_height_is_used() -> None:
    r = ranges_to(SQUARE, np.array([3.0, 4.0]), z=0.2)
    wrong = multilaterate(SQUARE[None], r[None], np.full((1, 4), 0.1))
    right = multilaterate(SQUARE[None], r[None], np.full((1, 4), 0.1), z=[0.2])
    np.testing.assert_allclose(right.xy[0], [3.0, 4.0], atol=1e-4)
    assert np.hypot(*(wrong.xy[0] - [3.0, 4.0])) > 1e-3


def test_zero_one_two_gateways() -> None:
    nan = np.nan
    R = np.array([[nan, nan, nan, nan], [5.0, nan, nan, nan], [6.0, 6.0, nan, nan]])
    f = multilaterate(SQUARE, R, 0.5)
    assert np.isnan(f.xy[0]).all() and np.isnan(f.accuracy_m[0]) and f.n_used[0] == 0
    np.testing.assert_allclose(f.xy[1], [0.0, 0.0])
    np.testing.assert_allclose(f.accuracy_m[1], np.sqrt(25 - 4) + 1.0)
    # Two circles of horizontal radius sqrt(32) around (0,0) and (10,0): chord at x = 5.
    np.testing.assert_allclose(f.xy[2], [5.0, 0.0], atol=1e-9)
    h = np.sqrt(32 - 25)
    np.testing.assert_allclose(f.accuracy_m[2], h + 1.0)
    assert (f.n_used == [0, 1, 2]).all()
    assert np.isnan(f.residual).all()


def test_empty_input() -> None:
    f = multilaterate(np.zeros((0, 3, 3)), np.zeros((0, 3)), np.zeros((0, 3)))
    assert f.xy.shape == (0, 2) and f.n_used.shape == (0,)


def test_bounds_are_respected() -> None:
    r = ranges_to(SQUARE, np.array([3.0, 4.0]))
    f = multilaterate(SQUARE[None], r[None], 0.1, bounds=[5.0, 5.0, 9.0, 9.0])
    assert 5.0 <= f.xy[0, 0] <= 9.0 and 5.0 <= f.xy[0, 1] <= 9.0
    np.testing.assert_allclose(f.xy[0], [5.0, 5.0], atol=1e-3)


def test_collinear_mirror_ambiguity() -> None:
    line = np.array([[0.0, 0.0, 1.0], [5.0, 0.0, 1.0], [10.0, 0.0, 1.0], [15.0, 0.0, 1.0]])
    r = ranges_to(line, np.array([6.0, 3.0]))
    f = multilaterate(line[None], r[None], 0.1)
    # Both mirror images fit: the answer is the corridor line and covers both.
    np.testing.assert_allclose(f.xy[0], [6.0, 0.0], atol=1e-3)
    assert f.accuracy_m[0] >= 3.0
    g = multilaterate(line[None], r[None], 0.1, bounds=[-5.0, 0.5, 20.0, 10.0])
    np.testing.assert_allclose(g.xy[0], [6.0, 3.0], atol=1e-3)


def test_random_rows_match_scipy_global_minimum() -> None:
    rng = np.random.default_rng(7)
    A, R, S, _ = random_rows(rng, 40, 6, 0.8)
    R[rng.random(R.shape) < 0.15] = np.nan
    R[0, :3] = np.nan  # exactly three left
    f = multilaterate(A, R, S, z=np.ones(40))
    for i in range(40):
        if f.n_used[i] < 3:
            continue
        ref_xy, ref_cost = naive.multilaterate_row(A[i], R[i], S[i])
        use = ~np.isnan(R[i])
        cost = naive.robust_cost(f.xy[i], A[i][use], R[i][use], S[i][use], 1.0, 2.0)
        assert cost <= ref_cost * (1 + 1e-6) + 1e-6, (i, cost, ref_cost)
        if cost <= ref_cost + 1e-3:
            np.testing.assert_allclose(f.xy[i], ref_xy, atol=0.02)


def test_noiseless_matches_gauss_newton() -> None:
    rng = np.random.default_rng(3)
    A, _, S, P = random_rows(rng, 20, 5, 0.5)
    R = ranges_to(A, P[:, None, :])
    f = multilaterate(A, R, S)
    for i in range(20):
        ref = naive.gauss_newton_row(A[i], R[i], S[i], 1.0, P[i] + 0.5)
        np.testing.assert_allclose(f.xy[i], ref, atol=1e-3)


def test_radius95_against_monte_carlo() -> None:
    for lam1, lam2 in [(1.0, 1.0), (1.0, 0.0), (4.0, 1.0), (2.0, 0.2)]:
        ref = naive.radius95(np.diag([lam1, lam2]))
        assert radius95(lam1, lam2) == pytest.approx(ref, rel=0.01)


def test_accuracy_covers_truth_about_95_percent() -> None:
    rng = np.random.default_rng(11)
    A, R, S, P = random_rows(rng, 3000, 6, 0.5)
    f = multilaterate(A, R, S)
    cover = np.mean(np.hypot(*(f.xy - P).T) <= f.accuracy_m)
    assert 0.90 <= cover <= 0.99
    assert 0.6 < np.median(f.residual) < 1.2


def test_outlier_barely_moves_robust_fix() -> None:
    rng = np.random.default_rng(5)
    A, R, S, _P = random_rows(rng, 200, 8, 0.1)
    clean = multilaterate(A, R, S)
    R2 = R.copy()
    R2[:, 0] += 15.0
    dirty = multilaterate(A, R2, S)
    shift = np.hypot(*(dirty.xy - clean.xy).T)
    assert np.median(shift) < 0.1
    assert np.quantile(shift, 0.9) < 0.3


def test_dtypes_and_shared_anchors() -> None:
    r = ranges_to(SQUARE, np.array([[3.0, 4.0], [7.0, 2.0]])[:, None, :])
    f64 = multilaterate(np.broadcast_to(SQUARE, (2, 4, 3)), r, np.full((2, 4), 0.1))
    f32 = multilaterate(SQUARE.astype(np.float32), r.astype(np.float32), np.float32(0.1))
    np.testing.assert_allclose(f32.xy, f64.xy, atol=1e-4)
    assert f32.xy.dtype == np.float64 and f32.n_used.dtype == np.int64


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"ranges": np.ones(4)}, "ranges: expected shape"),
        ({"anchors": np.zeros((2, 3))}, "anchors: expected shape"),
        ({"sigmas": np.ones(3)}, "sigmas: shape"),
        ({"sigmas": np.array([0.1, 0.1, -1.0, 0.1])}, r"sigmas: .* \(0, 2\)"),
        ({"ranges": np.array([[1.0, np.inf, 1.0, 1.0]])}, r"infinite value at .* \(0, 1\)"),
        ({"z": np.ones(3)}, "z: expected"),
        ({"bounds": [1.0, 1.0, 0.0, 2.0]}, "bounds: row 0"),
        ({"ranges": [["a", 1, 1, 1]]}, "ranges: cannot convert"),
    ],
)
def test_bad_input_names_the_problem(kwargs: dict[str, object], message: str) -> None:
    args: dict[str, object] = {"anchors": SQUARE, "ranges": np.ones((1, 4)), "sigmas": 0.1}
    args.update(kwargs)
    with pytest.raises(ValueError, match=message):
        multilaterate(args.pop("anchors"), args.pop("ranges"), args.pop("sigmas"), **args)  # type: ignore[arg-type]


def test_nan_anchor_for_unheard_gateway_is_fine() -> None:
    A = np.vstack([SQUARE, [[np.nan, np.nan, np.nan]]])
    r = np.append(ranges_to(SQUARE, np.array([3.0, 4.0])), np.nan)
    f = multilaterate(A[None], r[None], 0.1)
    np.testing.assert_allclose(f.xy[0], [3.0, 4.0], atol=1e-4)
    with pytest.raises(ValueError, match=r"anchors: non-finite .* \(0, 4\)"):
        multilaterate(A[None], np.append(r[:4], 1.0)[None], 0.1)


# ---- Hypothesis properties ------------------------------------------------------------------

coords = st.floats(-40.0, 40.0, allow_nan=False)


@st.composite
def geometry(draw: st.DrawFn) -> tuple[np.ndarray, np.ndarray]:
    k = draw(st.integers(4, 8))
    seed = draw(st.integers(0, 2**31))
    rng = np.random.default_rng(seed)
    A = np.zeros((k, 3))
    A[:, :2] = rng.uniform(-20, 20, (k, 2))
    A[:, 2] = rng.uniform(2.0, 4.0, k)
    tag = np.array([draw(st.floats(-15, 15)), draw(st.floats(-15, 15))])
    return A, tag


def well_spread(A: np.ndarray) -> bool:
    ev = np.linalg.eigvalsh(np.cov(A[:, :2].T))
    return bool(ev[0] > 0.05 * ev[1] and ev[0] > 4.0)


@settings(max_examples=60, deadline=None)
@given(geometry())
def test_property_noiseless_exact(g: tuple[np.ndarray, np.ndarray]) -> None:
    A, tag = g
    if not well_spread(A):
        return
    r = ranges_to(A, tag)
    f = multilaterate(A[None], r[None], np.full((1, len(A)), 0.3))
    np.testing.assert_allclose(f.xy[0], tag, atol=2e-3)


@settings(max_examples=40, deadline=None)
@given(geometry(), st.randoms(use_true_random=False))
def test_property_permutation_and_nan_columns(g: tuple[np.ndarray, np.ndarray], rnd) -> None:  # type: ignore[no-untyped-def]
    A, tag = g
    rng = np.random.default_rng(rnd.randint(0, 2**31))
    r = ranges_to(A, tag) + rng.normal(0, 0.5, len(A))
    s = rng.uniform(0.3, 1.0, len(A))
    base = multilaterate(A[None], r[None], s[None])
    perm = rng.permutation(len(A))
    p = multilaterate(A[perm][None], r[perm][None], s[perm][None])
    np.testing.assert_allclose(p.xy, base.xy, atol=1e-3)
    np.testing.assert_allclose(p.accuracy_m, base.accuracy_m, rtol=1e-2, atol=1e-3)
    A2 = np.vstack([A, rng.uniform(-50, 50, (2, 3))])
    r2 = np.append(r, [np.nan, np.nan])
    s2 = np.append(s, [np.nan, 7.0])
    q = multilaterate(A2[None], r2[None], s2[None])
    np.testing.assert_allclose(q.xy, base.xy, atol=1e-9)
    assert q.n_used[0] == len(A)


@settings(max_examples=40, deadline=None)
@given(geometry(), st.floats(8.0, 40.0))
def test_property_gross_outlier_barely_moves(g: tuple[np.ndarray, np.ndarray], err: float) -> None:
    A, tag = g
    # Without the outlier's gateway the rest must pin the tag down on their own: spread out
    # and around the tag (else the outlier can be consistent with a mirror image).
    if len(A) < 6 or not well_spread(A[1:]) or Delaunay(A[1:, :2]).find_simplex(tag) < 0:
        return
    r = ranges_to(A, tag)
    r[0] += err
    f = multilaterate(A[None], r[None], np.full((1, len(A)), 0.2))
    assert np.hypot(*(f.xy[0] - tag)) < 0.6
