"""Range models and the RSSI combiner vs the references in tests/naive.py."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from positioning import (
    PathLoss,
    combine_rssi,
    combined_sigma_db,
    rssi_at,
    rssi_to_range,
    uwb_range_model,
)
from tests import naive


def test_rssi_to_range_inverts_the_model() -> None:
    d = np.array([0.5, 1.0, 2.0, 7.5, 30.0])
    rssi = rssi_at(d, -50.0, 2.5)
    r, s = rssi_to_range(rssi, -50.0, 2.5, 6.0)
    np.testing.assert_allclose(r, d)
    np.testing.assert_allclose(s, d * np.log(10) / 25.0 * 6.0)
    rr, ss = naive.rssi_to_range(rssi, -50.0, 2.5, 6.0)
    np.testing.assert_allclose(r, rr)
    np.testing.assert_allclose(s, ss)
    r2, s2 = rssi_to_range(rssi, -50.0, 2.5, 6.0, sigma_floor_m=1.5)
    np.testing.assert_allclose(r2, r)
    np.testing.assert_allclose(s2, naive.rssi_to_range(rssi, -50.0, 2.5, 6.0, 1.5)[1])
    assert (s2 >= 1.5).all()


def test_rssi_to_range_median_is_unbiased_in_log_distance() -> None:
    rng = np.random.default_rng(0)
    d_true = 8.0
    rssi = rssi_at(d_true, -55.0, 2.0) + rng.normal(0, 7.0, 200_000)
    r, _s = rssi_to_range(rssi, -55.0, 2.0, 7.0)
    assert np.median(r) == pytest.approx(d_true, rel=0.01)
    sigma_ln = np.log(10) / 20.0 * 7.0
    assert np.mean(r) == pytest.approx(d_true * np.exp(sigma_ln**2 / 2), rel=0.02)
    assert np.std(np.log(r)) == pytest.approx(sigma_ln, rel=0.02)


def test_rssi_to_range_broadcasts_per_gateway_and_keeps_nan() -> None:
    rssi = np.array([[-60.0, np.nan], [-70.0, -65.0]])
    r, s = rssi_to_range(rssi, np.array([-50.0, -55.0]), np.array([2.0, 3.0]), 5.0)
    assert r.shape == s.shape == (2, 2)
    assert np.isnan(r[0, 1]) and np.isnan(s[0, 1])
    assert r[1, 1] == pytest.approx(10 ** (10 / 30))


def test_rssi_to_range_rejects_bad_parameters() -> None:
    with pytest.raises(ValueError, match="n: path-loss exponent"):
        rssi_to_range(-60.0, -50.0, 0.0, 5.0)
    with pytest.raises(ValueError, match="sigma_db"):
        rssi_to_range(-60.0, -50.0, 2.0, -1.0)
    with pytest.raises(ValueError, match="sigma_floor_m"):
        rssi_to_range(-60.0, -50.0, 2.0, 1.0, sigma_floor_m=np.nan)


def test_uwb_range_model() -> None:
    r, s = uwb_range_model([1.15, np.nan, 0.1], bias_m=0.15, sigma_m=0.07)
    np.testing.assert_allclose(r, [1.0, np.nan, 0.0])
    np.testing.assert_allclose(s, 0.07)
    with pytest.raises(ValueError):
        uwb_range_model([1.0], sigma_m=0.0)


def test_combined_sigma_is_bounded_by_static_shadowing() -> None:
    s = combined_sigma_db(np.array([0, 1, 4, 100, 10_000]), 4.0, 3.0)
    assert np.isnan(s[0])
    assert s[1] == pytest.approx(5.0)
    assert (np.diff(s[1:]) < 0).all()
    assert s[-1] >= 4.0 and s[-1] == pytest.approx(4.0, abs=1e-3)


def test_pathloss_dataclass_defaults() -> None:
    p = PathLoss()
    assert p.n > 0 and p.sigma_db > 0


def test_combine_hand_case() -> None:
    keys = np.array([1, 1, 1, 1, 2, 3, 3, 3, 4])
    rssi = np.array([-60.0, -62.0, -61.0, -90.0, -70.0, np.nan, -50.0, -52.0, np.nan])
    c = combine_rssi(keys, rssi)
    np.testing.assert_array_equal(c.key, [1, 2, 3, 4])
    np.testing.assert_array_equal(c.start, [0, 4, 5, 8])
    np.testing.assert_allclose(c.rssi_dbm[:3], [-61.0, -70.0, -51.0])
    assert np.isnan(c.rssi_dbm[3])
    np.testing.assert_array_equal(c.count, [3, 1, 2, 0])
    np.testing.assert_array_equal(c.n_total, [4, 1, 3, 1])
    assert c.spread_db[1] == 0.0


def test_combine_trims() -> None:
    keys = np.zeros(10, dtype=np.int64)
    rssi = np.arange(10.0) - 60.0
    c = combine_rssi(keys, rssi, trim=0.2)
    assert c.count[0] == 6 and c.rssi_dbm[0] == pytest.approx(-55.5)


def test_combine_random_matches_reference() -> None:
    rng = np.random.default_rng(4)
    keys = np.sort(rng.integers(0, 300, 5000))
    rssi = rng.normal(-70, 6, 5000)
    rssi[rng.random(5000) < 0.05] -= 30
    rssi[rng.random(5000) < 0.02] = np.nan
    c = combine_rssi(keys, rssi, trim=0.15)
    ref = naive.combine_rssi(keys, rssi, trim=0.15)
    for g, key in enumerate(c.key):
        mean, cnt = ref[int(key)]
        assert cnt == c.count[g]
        np.testing.assert_allclose(c.rssi_dbm[g], mean, atol=1e-9, equal_nan=True)


@settings(max_examples=80, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 6), st.floats(-100, -30)), min_size=1, max_size=60),
       st.floats(0.0, 0.45))
def test_property_combine_matches_reference(pairs: list[tuple[int, float]], trim: float) -> None:
    pairs.sort(key=lambda p: p[0])
    keys = np.array([p[0] for p in pairs], dtype=np.int64)
    rssi = np.array([p[1] for p in pairs])
    c = combine_rssi(keys, rssi, trim=trim)
    ref = naive.combine_rssi(keys, rssi, trim=trim)
    assert list(c.key) == list(ref)
    for g, key in enumerate(c.key):
        assert c.count[g] == ref[int(key)][1]
        assert c.rssi_dbm[g] == pytest.approx(ref[int(key)][0], abs=1e-9)
        lo = rssi[keys == key].min()
        hi = rssi[keys == key].max()
        assert lo - 1e-9 <= c.rssi_dbm[g] <= hi + 1e-9


@pytest.mark.parametrize(
    ("keys", "rssi", "kw", "message"),
    [
        ([2, 1], [-60.0, -61.0], {}, r"keys: must be sorted; keys\[0\] > keys\[1\]"),
        ([1, 1], [-60.0], {}, "equal length"),
        ([1], [-60.0], {"trim": 0.5}, "trim"),
        ([1], [np.inf], {}, "rssi: infinite value at index 0"),
    ],
)
def test_combine_bad_input(keys: list[int], rssi: list[float], kw: dict[str, float],
                           message: str) -> None:
    with pytest.raises(ValueError, match=message):
        combine_rssi(keys, rssi, **kw)  # type: ignore[arg-type]


def test_combine_empty() -> None:
    c = combine_rssi(np.zeros(0, np.int64), np.zeros(0))
    assert c.key.size == 0 and c.rssi_dbm.size == 0
