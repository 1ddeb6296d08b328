"""Radio map kernel against a plain NumPy reference, and its behaviour on a walled plan."""

from __future__ import annotations

import copy
import math
from dataclasses import replace

import numpy as np
import pytest
from shapely.geometry import LineString, box

from floorplans.model import Building, Gateway, Level, Opening, Room, Site, Wall
from floorplans.spatial import SiteIndex
from positioning.radiomap import RadioMap, RadioMapParams, _log_phi_fast, _log_phi_table
from positioning.rooms import RoomFilter


@pytest.fixture(scope="module")
def plan() -> tuple[SiteIndex, RadioMap, np.ndarray]:
    site = Site.build(
        id="t", name="t", buildings=[Building("b", "B")],
        levels=[Level("L0", "b", 0, "0", 0.0, 4.0, box(0, 0, 20, 10))],
        rooms=[Room("A", "L0", "A", "patient_room", box(0, 5, 10, 10)),
               Room("B", "L0", "B", "equipment_storage", box(10, 5, 20, 10)),
               Room("C", "L0", "C", "corridor", box(0, 0, 20, 5))],
        walls=[Wall("w1", "L0", LineString([(0, 5), (20, 5)]), "concrete", 10.0),
               Wall("w2", "L0", LineString([(10, 5), (10, 10)]), "drywall", 3.0)],
        openings=[Opening("dA", "L0", LineString([(4, 5), (5, 5)])),
                  Opening("dB", "L0", LineString([(14, 5), (15, 5)]))],
        gateways=[Gateway("g1", "L0", 3.0, 2.5), Gateway("g2", "L0", 17.0, 2.5),
                  Gateway("g3", "L0", 15.0, 8.0)],
    )
    index = SiteIndex(site)
    xyz = np.array([[g.x, g.y, g.height_m] for g in site.gateways])
    rooms = RoomFilter(index)
    rmap = RadioMap(index, xyz, np.zeros(3, np.int64), np.full(3, 2.0), rooms.local_slots(),
                    RadioMapParams(cell_m=1.0, radius_m=30.0))
    return index, rmap, xyz


def _with_refine(rmap: RadioMap, refine: float | None) -> RadioMap:
    """The same map with another coarse-to-fine threshold (the tables are shared)."""
    other = copy.copy(rmap)
    other.params = replace(rmap.params, refine_nats=refine)
    return other


def log_phi(z: float) -> float:
    """log of the standard normal CDF (the asymptotic series far in the left tail)."""
    if z > -30:
        return math.log(0.5 * math.erfc(-z / math.sqrt(2)))
    series = math.log(1 - z**-2 + 3 * z**-4)
    return -0.5 * z * z - math.log(-z) - 0.5 * math.log(2 * math.pi) + series


def reference(index, rmap, xyz, rssi, sigma, prior, p: RadioMapParams):
    """Plain NumPy version of the radio-map likelihood for one tag on level 0."""
    cx, cy, slot = rmap.cell_x, rmap.cell_y, rmap.cell_slot
    heard = ~np.isnan(rssi)
    best = int(np.nanargmax(rssi))
    near = (cx - xyz[best, 0]) ** 2 + (cy - xyz[best, 1]) ** 2 <= p.radius_m ** 2
    d = np.sqrt((cx[:, None] - xyz[None, :, 0]) ** 2 + (cy[:, None] - xyz[None, :, 1]) ** 2
                + (xyz[None, :, 2] - p.tag_height_m) ** 2)
    walls = np.stack([index.wall_loss_db(0, cx, cy, np.full(cx.size, g[0]), np.full(cx.size, g[1]))
                      for g in xyz], axis=1)
    loss = 20.0 * np.log10(np.maximum(d, 0.3)) + walls
    w = np.where(heard, 1 / sigma**2, 0.0)
    w0 = 1 / p.power_prior_sd_db**2
    P = (w0 * prior + np.nansum(w * (np.nan_to_num(rssi) + loss), axis=1)) / (w0 + w.sum())
    u = np.abs(np.nan_to_num(rssi) - P[:, None] + loss) / sigma
    rho = np.where(u <= p.huber_k, 0.5 * u**2, p.huber_k * (u - 0.5 * p.huber_k))
    ll = -0.5 * w0 * (P - prior) ** 2 - np.where(heard, rho, 0).sum(axis=1)
    gd = np.hypot(xyz[:, 0] - xyz[best, 0], xyz[:, 1] - xyz[best, 1])
    silent = ~heard & (gd < 2 * p.radius_m)
    z = (p.sensitivity_dbm - P[:, None] + loss) / p.silent_sigma_db
    logphi = np.vectorize(log_phi)(z)
    ll += np.where(silent, logphi, 0).sum(axis=1)
    ll = np.where(near, ll * p.temper, -np.inf)
    # coarse to fine: a fine cell counts when a coarse neighbour in its room scored near the top
    parent = rmap.cell_parent
    coarse = parent[:, 0] < 0
    top = ll[coarse].max()
    refine = np.inf if p.refine_nats is None else p.refine_nats
    parent_ll = np.where(parent >= 0, ll[np.maximum(parent, 0)], -np.inf)
    near_top = ((parent >= 0) & (parent_ll >= top - refine)).any(axis=1)
    ll = np.where(coarse | near_top, ll, -np.inf)
    post = np.exp(ll - ll.max())
    post /= post.sum()
    xy = np.array([post @ cx, post @ cy])
    room = np.bincount(slot, weights=post, minlength=3)
    return xy, room


@pytest.mark.parametrize("refine", [None, 12.0, 1.0])
@pytest.mark.parametrize("case", range(6))
def test_kernel_matches_numpy_reference(plan, case: int, refine: float | None) -> None:
    index, rmap, xyz = plan
    rmap = _with_refine(rmap, refine)
    rng = np.random.default_rng(case)
    rssi = rng.uniform(-90, -55, size=3)
    if case % 3 == 0:
        rssi[case % 3 + 1] = np.nan  # one gateway silent
    sigma = rng.uniform(3, 7, size=3)
    prior = -59.0 + case
    res = rmap.locate(np.array([0]), np.array([0, 3]), np.arange(3), rssi, sigma,
                      np.array([prior]), 3)
    ref_xy, ref_room = reference(index, rmap, xyz, rssi, sigma, prior, rmap.params)
    assert np.allclose(res.xy[0], ref_xy, atol=1e-9)
    assert np.allclose(res.room_prob[0, :3], ref_room, atol=1e-9)


def test_tabulated_log_phi_matches_the_exact_function() -> None:
    f, d = _log_phi_table()
    z = np.concatenate([np.linspace(-45.0, 12.0, 20_001),
                        np.random.default_rng(0).uniform(-31.0, 9.0, 5_000)])
    fast = np.array([_log_phi_fast(float(v), f, d) for v in z])
    exact = np.array([log_phi(float(v)) if v < 8.5 else 0.0 for v in z])
    assert np.all(np.abs(fast - exact) <= 1e-9 * np.maximum(1.0, np.abs(exact)))
    assert np.abs(fast - exact).max() <= 1e-10
    assert np.all(np.diff(fast[:20_001]) >= -1e-15)  # a CDF's log never decreases


def test_coarse_to_fine_scores_fewer_cells_only_when_asked(plan) -> None:
    _index, rmap, _xyz = plan
    args = (np.array([0]), np.array([0, 3]), np.arange(3), np.array([-85.0, -62.0, -80.0]),
            np.full(3, 5.0), np.array([-59.0]), 3)
    every = _with_refine(rmap, None).locate(*args)
    narrow = _with_refine(rmap, 1.0).locate(*args)
    assert narrow.n_cells[0] < every.n_cells[0] == rmap.cell_x.size
    assert narrow.cell[0] == every.cell[0]


def test_gateway_offset_is_a_shift_of_what_the_gateway_hears(plan) -> None:
    _index, rmap, _xyz = plan
    rssi = np.array([-80.0, -74.0, -66.0])
    base = rmap.locate(np.array([0]), np.array([0, 3]), np.arange(3), rssi, np.full(3, 5.0),
                       np.array([-59.0]), 3)
    hot = np.array([4.0, -3.0, 6.0])  # receivers reading 4 dB high, 3 dB low, 6 dB high
    res = rmap.locate(np.array([0]), np.array([0, 3]), np.arange(3), rssi + hot,
                      np.full(3, 5.0), np.array([-59.0]), 3, gateway_offset=hot)
    assert np.allclose(res.xy, base.xy, atol=1e-9)
    assert np.allclose(res.room_prob, base.room_prob, atol=1e-9)
    assert res.cell[0] == base.cell[0] >= 0
    assert rmap.cell_room[res.cell[0]] >= 0
    with pytest.raises(ValueError, match="gateway_offset"):
        rmap.locate(np.array([0]), np.array([0, 3]), np.arange(3), rssi, np.full(3, 5.0),
                    np.array([-59.0]), 3, gateway_offset=np.array([np.nan, 0.0, 0.0]))


def test_concrete_wall_and_silence_put_the_tag_in_the_right_room(plan) -> None:
    index, rmap, _xyz = plan
    # Strong in-room gateway g3, corridor gateways weak: the tag is in B (storage).
    res = rmap.locate(np.array([0]), np.array([0, 3]), np.arange(3),
                      np.array([-88.0, -80.0, -63.0]), np.full(3, 5.0), np.array([-59.0]), 3)
    slots = RoomFilter(index).local_slots()
    assert res.room_prob[0, slots[1]] > 0.8
    # Only the corridor gateway g1 hears it, loudly; g2 and g3 are silent: corridor, west end.
    res = rmap.locate(np.array([0]), np.array([0, 1]), np.array([0]), np.array([-62.0]),
                      np.array([5.0]), np.array([-59.0]), 3)
    assert res.room_prob[0, slots[2]] > 0.8
    assert res.xy[0, 0] < 8.0


def test_no_gateway_heard_on_the_level_gives_nan(plan) -> None:
    _index, rmap, _xyz = plan
    res = rmap.locate(np.array([0]), np.array([0, 0]), np.zeros(0, np.int64), np.zeros(0),
                      np.zeros(0), np.array([-59.0]), 3)
    assert np.isnan(res.xy[0]).all() and res.room_prob[0].sum() == 0


def test_engine_radio_map_uses_the_multi_wall_exponent_unless_calibrated(plan) -> None:
    from dataclasses import replace as dc_replace

    from positioning.engine import EngineConfig, StreamingEngine

    index, _rmap, xyz = plan
    site = index.site
    gws = list(site.gateways)
    gws[2] = dc_replace(gws[2], path_loss_exponent=3.1)  # one calibrated gateway
    site = Site.build(id="t", name="t", buildings=list(site.buildings), levels=list(site.levels),
                      rooms=list(site.rooms), walls=list(site.walls),
                      openings=list(site.openings), gateways=gws)
    idx = SiteIndex(site)
    for radio_n, want in ((2.0, (2.0, 2.0, 3.1)), (None, (2.6, 2.6, 3.1))):
        cfg = EngineConfig(path_loss_exponent=2.6,
                           radio_map_params=RadioMapParams(path_loss_exponent=radio_n))
        radio = StreamingEngine(site, cfg)._radio
        assert radio is not None
        cx, cy = radio.cell_x, radio.cell_y
        for j, n in enumerate(want):
            d = np.sqrt((cx - xyz[j, 0]) ** 2 + (cy - xyz[j, 1]) ** 2
                        + (xyz[j, 2] - cfg.tag_height_m) ** 2)
            walls = idx.wall_loss_db(0, cx, cy, np.full(cx.size, xyz[j, 0]),
                                     np.full(cx.size, xyz[j, 1]))
            expected = 10.0 * n * np.log10(np.maximum(d, 0.3)) + walls
            assert np.allclose(radio.loss.reshape(-1, 3)[:, j], expected)
