"""Statistics of the simulator's radio model (BLE and UWB) against its configuration."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from simulator.config import UwbConfig
from simulator.radio import (
    ShadowingField,
    collision_loss,
    link_mean_dbm,
    receive_packets,
    slab_loss_db,
)
from simulator.rng import uniform, uniform_np
from simulator.uwb import range_packets


def _fade_db_ref(n1: np.ndarray, n2: np.ndarray, k_db: float) -> np.ndarray:
    k = 10 ** (k_db / 10)
    a = math.sqrt(k / (k + 1))
    s = math.sqrt(0.5 / (k + 1))
    return 10 * np.log10((a + s * n1) ** 2 + (s * n2) ** 2 + 1e-12)


def _receive_ref(ev_tag, ev_ctr, cand, mean, chan_off, body, online, p_loss, sens, k_db, seed):
    """Plain-Python reference of radio._receive."""
    out = []
    for e, (t, c) in enumerate(zip(ev_tag, ev_ctr, strict=True)):
        for k in range(cand.shape[1]):
            g = cand[t, k]
            if g < 0:
                break
            if not online[g] or mean[t, k] < sens - 25:
                continue
            c0 = int(c) * 4096 + k * 4
            u = uniform_np(seed, [c0, c0 + 1, c0 + 2, c0 + 3])
            ch = min(int(u[0] * 3), 2)
            r = math.sqrt(-2 * math.log(1 - u[1]))
            fade = _fade_db_ref(np.array(r * math.cos(2 * math.pi * u[2])),
                                np.array(r * math.sin(2 * math.pi * u[2])), k_db)
            p = float(np.float32(mean[t, k])) + float(chan_off[t, k, ch]) + float(fade) \
                - float(body[t, k])
            q = math.floor(p + 0.5)
            if q < sens or u[3] < p_loss[g]:
                continue
            out.append((e, g, q, ch))
    return out


def test_uniform_kernel_matches_numpy_reference() -> None:
    ctr = np.arange(0, 5000, 7, dtype=np.uint64)
    ref = uniform_np(12345, ctr)
    got = np.array([uniform(np.uint64(12345), c) for c in ctr])
    np.testing.assert_array_equal(got, ref)
    assert ref.min() >= 0 and ref.max() < 1
    assert abs(ref.mean() - 0.5) < 0.02


def test_receive_kernel_matches_reference_on_random_cases() -> None:
    rng = np.random.default_rng(4)
    for _ in range(5):
        n_tag, k, n_gw = 6, 5, 8
        cand = rng.integers(-1, n_gw, (n_tag, k)).astype(np.int32)
        mean = rng.uniform(-110, -50, (n_tag, k)).astype(np.float32)
        chan = rng.normal(0, 2, (n_tag, k, 3)).astype(np.float32)
        body = rng.uniform(0, 10, (n_tag, k)).astype(np.float32)
        online = rng.random(n_gw) < 0.8
        p_loss = rng.uniform(0, 0.3, n_gw)
        ev_tag = rng.integers(0, n_tag, 40).astype(np.int32)
        ev_ctr = rng.integers(0, 1 << 40, 40).astype(np.uint64)
        e, g, q, ch = receive_packets(ev_tag, ev_ctr, cand, mean, chan, body, online, p_loss,
                                      sensitivity_dbm=-95, rician_k_db=3, seed=99)
        ref = _receive_ref(ev_tag, ev_ctr, cand, mean, chan, body, online, p_loss, -95, 3, 99)
        assert list(zip(e.tolist(), g.tolist(), q.tolist(), ch.tolist(), strict=True)) == ref


def _los_packets(exponent: float, sigma: float, rng: np.random.Generator):
    """Many tags at known distances from one gateway each, line of sight."""
    n_tag = 3000
    d = 10 ** rng.uniform(0, 1.2, n_tag)  # 1 .. 16 m
    field = ShadowingField(n_tag, sigma, 2.0, 32, rng)
    shadow = field.values(np.arange(n_tag), rng.uniform(0, 50, n_tag), rng.uniform(0, 50, n_tag),
                          0)
    mean = link_mean_dbm(-45.0, d, 0.0, 0, shadow, 0.0, exponent=exponent, min_distance_m=0.1,
                         floor_first_db=15, floor_next_db=4).astype(np.float32)[:, None]
    cand = np.arange(n_tag, dtype=np.int32)[:, None]
    n_ev = 20
    ev_tag = np.repeat(np.arange(n_tag, dtype=np.int32), n_ev)
    ev_ctr = np.arange(ev_tag.size, dtype=np.uint64)
    e, _g, q, _ = receive_packets(ev_tag, ev_ctr, cand, mean,
                                 np.zeros((n_tag, 1, 3), np.float32),
                                 np.zeros((n_tag, 1), np.float32), np.ones(n_tag, bool),
                                 np.zeros(n_tag), sensitivity_dbm=-120, rician_k_db=6, seed=5)
    return d[ev_tag[e]], q


@pytest.mark.parametrize(("exponent", "sigma"), [(2.0, 5.0), (2.7, 3.0)])
def test_fit_on_line_of_sight_data_recovers_exponent_and_sigma(exponent: float,
                                                               sigma: float) -> None:
    rng = np.random.default_rng(11)
    d, q = _los_packets(exponent, sigma, rng)
    slope, icpt = np.polyfit(np.log10(d), q, 1)
    resid = q - (icpt + slope * np.log10(d))
    n = rng.standard_normal((2, 400_000))
    fade = _fade_db_ref(n[0], n[1], 6)
    expected_sigma = math.sqrt(sigma**2 + fade.var() + 1 / 12)
    assert -slope / 10 == pytest.approx(exponent, abs=0.08)
    assert icpt == pytest.approx(-45.0 + fade.mean(), abs=0.6)
    assert resid.std() == pytest.approx(expected_sigma, rel=0.07)


def test_quantisation_and_sensitivity_cutoff() -> None:
    n_tag = 200
    mean = np.linspace(-105, -80, n_tag).astype(np.float32)[:, None]
    ev_tag = np.repeat(np.arange(n_tag, dtype=np.int32), 30)
    e, _, q, _ = receive_packets(ev_tag, np.arange(ev_tag.size, dtype=np.uint64),
                                 np.zeros((n_tag, 1), np.int32), mean,
                                 np.zeros((n_tag, 1, 3), np.float32),
                                 np.zeros((n_tag, 1), np.float32), np.ones(1, bool), np.zeros(1),
                                 sensitivity_dbm=-95, rician_k_db=3, seed=1)
    assert np.all(q == np.round(q))
    assert q.min() >= -95
    # strong links always heard, links 10 dB under the cut-off almost never
    heard = np.bincount(ev_tag[e], minlength=n_tag) / 30
    assert heard[mean[:, 0] > -85].min() > 0.9
    assert heard[mean[:, 0] < -105 + 2].max() < 0.2


def test_offline_gateway_and_loss() -> None:
    mean = np.full((1, 2), -60, np.float32)
    cand = np.array([[0, 1]], np.int32)
    ev = np.zeros(5000, np.int32)
    _e, g, _, _ = receive_packets(ev, np.arange(5000, dtype=np.uint64), cand, mean,
                                 np.zeros((1, 2, 3), np.float32), np.zeros((1, 2), np.float32),
                                 np.array([True, False]), np.array([0.3, 0.0]),
                                 sensitivity_dbm=-95, rician_k_db=3, seed=2)
    assert set(g.tolist()) == {0}
    assert len(g) / 5000 == pytest.approx(0.7, abs=0.03)


def test_shadowing_correlated_at_half_metre_and_decorrelated_at_ten() -> None:
    rng = np.random.default_rng(3)
    n_gw = 400
    f = ShadowingField(n_gw, 5.0, 2.0, 64, rng)
    g = np.repeat(np.arange(n_gw), 50)
    x = rng.uniform(0, 100, g.size)
    y = rng.uniform(0, 100, g.size)
    ang = rng.uniform(0, 2 * np.pi, g.size)
    a = f.values(g, x, y, 0)
    near = f.values(g, x + 0.5 * np.cos(ang), y + 0.5 * np.sin(ang), 0)
    far = f.values(g, x + 10 * np.cos(ang), y + 10 * np.sin(ang), 0)
    other_level = f.values(g, x, y, 1)
    assert a.std() == pytest.approx(5.0, rel=0.05)
    assert np.corrcoef(a, near)[0, 1] == pytest.approx(math.exp(-0.25 / 4), abs=0.03)
    assert abs(np.corrcoef(a, far)[0, 1]) < 0.05
    assert abs(np.corrcoef(a, other_level)[0, 1]) < 0.05
    # static: the same point gives the same value
    np.testing.assert_array_equal(a, f.values(g, x, y, 0))


def test_rff_kernel_matches_numpy() -> None:
    rng = np.random.default_rng(8)
    f = ShadowingField(3, 4.0, 1.5, 16, rng)
    g = np.array([0, 1, 2, 1])
    x = rng.uniform(0, 10, 4)
    y = rng.uniform(0, 10, 4)
    ref = [f.amp * np.cos(f.w[gi, :, 0] * xi + f.w[gi, :, 1] * yi + f.phi[gi]).sum()
           for gi, xi, yi in zip(g, x, y, strict=True)]
    np.testing.assert_allclose(f.values(g, x, y, 0), ref, rtol=1e-9, atol=1e-9)
    with pytest.raises(ValueError, match="gateway index"):
        f.values(np.array([3]), 0.0, 0.0, 0)


@settings(max_examples=50, deadline=None)
@given(st.floats(0.3, 80), st.floats(0, 60), st.integers(0, 4))
def test_link_budget_monotone_in_distance_walls_and_slabs(d: float, walls: float,
                                                          apart: int) -> None:
    kw = dict(exponent=2.0, min_distance_m=0.3, floor_first_db=15.0, floor_next_db=4.0)
    base = link_mean_dbm(-59, d, walls, apart, 0, 0, **kw)
    assert link_mean_dbm(-59, d * 1.5, walls, apart, 0, 0, **kw) < base
    assert link_mean_dbm(-59, d, walls + 3, apart, 0, 0, **kw) == pytest.approx(base - 3)
    assert base == pytest.approx(-59 - 20 * math.log10(d) - walls
                                 - (15 + 4 * (apart - 1) if apart else 0))


def test_slab_loss_and_collision_loss() -> None:
    np.testing.assert_allclose(slab_loss_db([0, 1, 2, 3], 15, 4), [0, 15, 19, 23])
    p = collision_loss([0, 100, 1000], 0.05, 0.000376, 1.0)
    assert p[0] == pytest.approx(0.05)
    assert p[0] < p[1] < p[2] < 1


def test_uwb_ranges_los_nlos_outliers() -> None:
    cfg = UwbConfig(los_sigma_m=0.07, nlos_bias_mean_m=0.35, outlier_rate=0.02,
                    dropout_los=0.02, dropout_per_wall=0.15)
    n = 20000
    cand = np.array([[0, 1]], np.int32)
    dist = np.array([[5.0, 5.0]], np.float32)
    walls = np.array([[0, 2]], np.int32)
    _e, g, r = range_packets(np.zeros(n, np.int32), np.arange(n, dtype=np.uint64), cand, dist,
                            walls, np.zeros(1, bool), np.ones(2, bool), cfg, seed=3)
    los = r[g == 0] - 5.0
    nlos = r[g == 1] - 5.0
    inl = np.abs(los) < 0.5
    assert np.std(los[inl]) == pytest.approx(0.07, rel=0.1)
    assert (~inl).mean() == pytest.approx(0.02 * (1 - 0.3 / 10), abs=0.006)
    assert np.median(nlos) > 0.3  # positive NLOS bias
    assert (g == 0).sum() / n == pytest.approx(0.98, abs=0.01)
    assert (g == 1).sum() / n == pytest.approx(0.68, abs=0.015)
    assert r.min() >= 0
