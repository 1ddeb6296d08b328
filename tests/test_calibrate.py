"""Path-loss and UWB calibration: synthetic truths, robustness, and the shared datasets."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.optimize import least_squares

from positioning import (
    fit_accuracy_scale,
    fit_path_loss,
    fit_path_loss_per_gateway,
    fit_uwb_range_model,
    gateway_pair_samples,
    reference_tag_samples,
    rssi_at,
)
from positioning.datasets import KOLAKOWSKI_TAG_Z_M, load_kolakowski, load_lias_static, load_uji
from tests.conftest import shared_path


def test_noiseless_line_is_exact() -> None:
    d = np.linspace(0.5, 30, 50)
    f = fit_path_loss(d, rssi_at(d, -48.0, 2.3))
    assert f.rssi_1m == pytest.approx(-48.0, abs=1e-6)
    assert f.n == pytest.approx(2.3, abs=1e-6)
    assert f.r2 == pytest.approx(1.0) and f.n_samples == 50


def test_huber_matches_scipy_and_resists_outliers() -> None:
    rng = np.random.default_rng(0)
    d = rng.uniform(0.5, 25, 2000)
    r = rssi_at(d, -55.0, 2.2) + rng.normal(0, 5.0, d.size)
    r[:200] -= 25.0  # 10 % body-blocked readings
    f = fit_path_loss(d, r)
    assert f.n == pytest.approx(2.2, abs=0.12)
    assert f.rssi_1m == pytest.approx(-55.0, abs=1.5)
    x = np.log10(d)
    scale = f.sigma_robust_db
    ref = least_squares(lambda p: p[0] + p[1] * x - r, [-50.0, -20.0], loss="huber",
                        f_scale=1.345 * scale)
    assert f.rssi_1m == pytest.approx(ref.x[0], abs=0.3)
    assert f.n == pytest.approx(-ref.x[1] / 10, abs=0.03)
    ols = np.polyfit(x, r, 1)
    assert abs(-ols[0] / 10 - 2.2) > abs(f.n - 2.2)


def test_fit_errors() -> None:
    with pytest.raises(ValueError, match="need >= 3"):
        fit_path_loss([1.0, 2.0], [-50.0, -55.0])
    with pytest.raises(ValueError, match="same distance"):
        fit_path_loss([2.0, 2.0, 2.0], [-50.0, -55.0, -53.0])
    with pytest.raises(ValueError, match="differ in size"):
        fit_path_loss([2.0], [-50.0, -55.0])


def test_per_gateway_with_fallback() -> None:
    rng = np.random.default_rng(1)
    g = np.repeat([0, 1, 2], [500, 500, 10])
    d = rng.uniform(1, 20, g.size)
    p0 = np.array([-50.0, -58.0, -54.0])[g]
    r = rssi_at(d, p0, 2.0) + rng.normal(0, 3.0, g.size)
    fits, pooled = fit_path_loss_per_gateway(g, d, r)
    assert fits[0].rssi_1m == pytest.approx(-50, abs=1.0) and not fits[0].pooled
    assert fits[1].rssi_1m == pytest.approx(-58, abs=1.0)
    assert fits[2].pooled and fits[2].n_samples == 10
    assert fits[2].rssi_1m == pooled.rssi_1m


def test_sample_builders() -> None:
    gw = np.array([[0.0, 0.0, 3.0], [10.0, 0.0, 3.0]])
    spots = np.array([[3.0, 4.0, 3.0]])
    g, d, r = reference_tag_samples(spots, gw, np.array([[-60.0, np.nan]]))
    assert list(g) == [0] and d[0] == pytest.approx(5.0) and r[0] == -60.0
    g, d, r = gateway_pair_samples(gw, [[0, 1]], [-70.0])
    assert list(g) == [1] and d[0] == pytest.approx(10.0)
    with pytest.raises(ValueError, match="with itself"):
        gateway_pair_samples(gw, [[1, 1]], [-70.0])


def test_uwb_fit() -> None:
    rng = np.random.default_rng(2)
    true = rng.uniform(1, 10, 5000)
    meas = true + 0.15 + rng.normal(0, 0.05, true.size)
    meas[:100] += 2.0
    f = fit_uwb_range_model(meas, true)
    assert f.bias_m == pytest.approx(0.15, abs=0.005)
    assert f.sigma_m == pytest.approx(0.05, abs=0.005)


def test_kolakowski_pooled_fit_matches_readme() -> None:
    shared_path("datasets", "kolakowski-ble-flat")
    k = load_kolakowski()
    spots = np.column_stack([k.xy, np.full(len(k.xy), KOLAKOWSKI_TAG_Z_M)])
    _, d, r = reference_tag_samples(spots, k.anchors, k.rssi)
    f = fit_path_loss(d, r)
    # README (OLS, 3-D distance): −47.4 − 19.9 log10(d), σ ≈ 7.0 dB, N = 22,277.
    assert f.n_samples == 22_277
    assert f.rssi_1m == pytest.approx(-47.4, abs=1.5)
    assert f.n == pytest.approx(1.99, abs=0.15)
    assert f.sigma_db == pytest.approx(7.0, abs=0.4)


def test_uji_geotec_fit_matches_readme() -> None:
    shared_path("datasets", "uji-ble-rss")
    u = load_uji("geo")
    sel = u.tx_code == 1  # −4 dBm
    d = np.linalg.norm(u.xy[sel, None, :] - u.beacons[None], axis=2)
    f = fit_path_loss(d, u.rss[sel])
    # README (2-D distance): −52.3 − 20.1 log10(d), σ 6.4 dB.
    assert f.rssi_1m == pytest.approx(-52.3, abs=1.5)
    assert f.n == pytest.approx(2.01, abs=0.15)
    assert f.sigma_db == pytest.approx(6.4, abs=0.5)


def test_lias_bias_matches_readme() -> None:
    shared_path("datasets", "lias-uwb-planar")
    recs = load_lias_static(max_rows=300)
    assert len(recs) == 42
    for sess in ("2022-08-14", "2022-08-20"):
        meas, true = [], []
        for rec in recs:
            if rec.session != sess:
                continue
            d = np.linalg.norm(rec.anchors[:, None, :2] - rec.tag_xy[None], axis=2)
            meas.append(np.median(rec.ranges, axis=0).ravel())
            true.append(d.ravel())
        f = fit_uwb_range_model(np.concatenate(meas), np.concatenate(true))
        assert 0.12 <= f.bias_m <= 0.20


def test_accuracy_scale() -> None:
    rng = np.random.default_rng(3)
    acc = rng.uniform(1, 3, 10_000)
    err = np.abs(rng.normal(0, 1, acc.size)) * acc * 0.5
    s = fit_accuracy_scale(err, acc)
    assert np.mean(err <= s * acc) == pytest.approx(0.95, abs=0.005)
    assert s == pytest.approx(0.5 * 1.96, rel=0.05)
    with pytest.raises(ValueError, match="coverage"):
        fit_accuracy_scale(err, acc, coverage=1.0)
