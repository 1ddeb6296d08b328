"""The simulation engine: assets move, tags advertise, gateways hear them.

:class:`Simulation` ties together the fleet (:mod:`simulator.assets`), movement
(:mod:`simulator.movement`), the BLE radio (:mod:`simulator.radio`), UWB ranging
(:mod:`simulator.uwb`) and the gateway network (:mod:`simulator.network`). It is a *reader* in
the Stone Soup sense: :meth:`Simulation.ticks` yields one :class:`Tick` of readings and ground
truth per simulated second, which writers and publishers turn into files or MQTT messages.

Performance: the static part of every tag–gateway link (distance, walls, slabs, shadowing,
per-channel offsets) is cached per tag over a fixed number of candidate gateways taken from a
per-level grid of neighbour lists; only tags that moved are recomputed. The per-packet work is
one Numba kernel over (events × candidates).
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass, replace
from datetime import datetime
from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt

from floorplans.model import Gateway, Site
from floorplans.spatial import SiteIndex
from simulator.assets import Fleet, build_fleet
from simulator.config import Scenario
from simulator.movement import Movement
from simulator.network import GatewayNetwork
from simulator.radio import (
    ShadowingField,
    collision_loss,
    link_mean_dbm,
    receive_packets,
    slab_loss_db,
)
from simulator.uwb import range_packets

if TYPE_CHECKING:
    from floorplans.routing import WalkingGraph

__all__ = ["Simulation", "Tick", "all_gateways"]

F64 = npt.NDArray[np.float64]
I32 = npt.NDArray[np.int32]


@dataclass(frozen=True, slots=True)
class Tick:
    """Readings and ground truth of one simulated step.

    Reading columns are in broker-arrival order. ``ts`` is what the gateway's clock said (UNIX
    seconds); ``rssi`` is NaN for UWB ranges and ``range_m`` NaN for BLE readings.

    Attributes:
        t0: Step start, UNIX seconds (true time).
        t1: Step end.
        ts: Reported reading time.
        arrival: True arrival time at the broker (UNIX seconds).
        gateway: Gateway index (into ``Simulation.gateways``).
        tag: Tag index (into ``Simulation.fleet``).
        rssi: dBm, whole numbers.
        range_m: Metres.
        channel: Advertising channel 37-39 (0 for UWB).
        truth: Indices of the assets with a ground-truth record this step.
        truth_x: Ground-truth x of those assets.
        truth_y: Ground-truth y.
        truth_level: Level index.
        truth_room: Room index (-1: in no room; -3: missing).
        online: Gateway online flags during the step.
    """

    t0: float
    t1: float
    ts: F64
    arrival: F64
    gateway: I32
    tag: I32
    rssi: F64
    range_m: F64
    channel: npt.NDArray[np.int8]
    truth: npt.NDArray[np.int64]
    truth_x: F64
    truth_y: F64
    truth_level: I32
    truth_room: I32
    online: npt.NDArray[np.bool_]

    def __len__(self) -> int:
        return int(self.ts.shape[0])


def all_gateways(site: Site, scenario: Scenario) -> list[Gateway]:
    """The plan's gateways plus the scenario's extra gateways.

    Raises:
        ValueError: an extra gateway on an unknown level or with a duplicate id.
    """
    gws = list(site.gateways)
    ids = {g.id for g in gws}
    for e in scenario.extra_gateways:
        if not site.has_level(e.level):
            raise ValueError(f"extra gateway {e.id!r}: unknown level {e.level!r}")
        if e.id in ids:
            raise ValueError(f"extra gateway {e.id!r}: id already used")
        if e.tech not in ("ble", "uwb"):
            raise ValueError(f"extra gateway {e.id!r}: tech must be 'ble' or 'uwb'")
        ids.add(e.id)
        gws.append(Gateway(e.id, e.level, e.x, e.y, e.height_m, "ble" if e.tech == "ble"
                           else "uwb"))
    return gws


def with_wall_spread(site: Site, spread: float, seed: int) -> Site:
    """A copy of ``site`` whose walls attenuate differently from their nominal material.

    Real walls are not their datasheet: each wall's attenuation is multiplied by a log-normal
    factor with log-standard-deviation ``spread`` (0.35 ≈ ±35 %), drawn once per wall from
    ``seed``. The positioning engine only knows the plan's nominal values, so this keeps the
    simulator from handing it its own radio model.
    """
    if spread <= 0.0 or not site.walls:
        return site
    rng = np.random.default_rng(np.random.SeedSequence([seed, 0x5A11]))
    factors = np.exp(rng.normal(-0.5 * spread**2, spread, size=len(site.walls)))
    walls = [replace(w, attenuation_db=float(w.attenuation_db * f))
             for w, f in zip(site.walls, factors, strict=True)]
    return site.replace(walls=walls)


class Simulation:
    """A seeded, deterministic simulation of one scenario on one site.

    Args:
        site: The floor plan.
        scenario: What to simulate.
        index: A prebuilt :class:`SiteIndex` of ``site`` (built when None).
        graph: A prebuilt :class:`WalkingGraph` (built when None).
        step_s: Length of one tick.
    """

    def __init__(self, site: Site, scenario: Scenario, *, index: SiteIndex | None = None,
                 graph: WalkingGraph | None = None, step_s: float = 1.0) -> None:
        if step_s <= 0:
            raise ValueError("step_s must be > 0")
        self.site, self.scenario, self.step_s = site, scenario, step_s
        self.index = index or SiteIndex(
            with_wall_spread(site, scenario.radio.wall_loss_spread, scenario.seed))
        self.graph = graph if graph is not None else _walking_graph(site)
        self.start = datetime.fromisoformat(scenario.start)
        if self.start.tzinfo is None:
            raise ValueError(f"scenario start {scenario.start!r} needs a UTC offset")
        self.epoch0 = self.start.timestamp()
        ss = np.random.SeedSequence(scenario.seed)
        s_fleet, s_move, s_radio, s_net, s_deliv, s_pkt, s_timing = ss.spawn(7)
        self.gateways = all_gateways(site, scenario)
        self.gateway_ids = tuple(g.id for g in self.gateways)
        self.fleet: Fleet = build_fleet(
            site, scenario.assets, scenario.tag_models, np.random.default_rng(s_fleet),
            seed=scenario.seed, uwb_fraction=scenario.uwb_fraction,
            reference_tags=scenario.movement.reference_tags, levels=scenario.levels,
            departments=scenario.departments)
        self.movement = Movement(site, self.index, self.graph, self.fleet, scenario.movement,
                                 np.random.default_rng(s_move), self.start, scenario.duration_s)
        self.network = GatewayNetwork(self.gateway_ids, scenario.network, scenario.duration_s,
                                      np.random.default_rng(s_net))
        self._rng_radio = np.random.default_rng(s_radio)
        self._rng_deliv = np.random.default_rng(s_deliv)
        self._pkt_seed = int(s_pkt.generate_state(1, dtype=np.uint64)[0])
        self._setup_gateways()
        self._setup_candidates()
        n = len(self.fleet)
        rt = np.random.default_rng(s_timing)
        self._next_tx = rt.uniform(0.0, self.fleet.interval_s)
        self._seq = np.zeros(n, dtype=np.uint64)
        self._body_db = rt.uniform(scenario.radio.body_loss_min_db,
                                   scenario.radio.body_loss_max_db, n)
        self._rng_timing = rt
        k = scenario.radio.max_candidates
        self.cand = np.full((n, k), -1, dtype=np.int32)
        self.mean = np.full((n, k), -200.0, dtype=np.float32)
        self.chan_off = np.zeros((n, k, 3), dtype=np.float32)
        self.body = np.zeros((n, k), dtype=np.float32)
        ku = max(1, min(16, int(self._is_uwb.sum())))
        self.ucand = np.full((n, ku), -1, dtype=np.int32)
        self.udist = np.zeros((n, ku), dtype=np.float32)
        self.uwalls = np.zeros((n, ku), dtype=np.int32)
        self._refresh(np.arange(n, dtype=np.int64))
        self._t = 0.0
        self._mean_interval = float(np.mean(self.fleet.interval_s)) if n else 1.0

    # -- setup ----------------------------------------------------------------------------
    def _setup_gateways(self) -> None:
        site, idx = self.site, self.index
        self._gx = np.array([g.x for g in self.gateways])
        self._gy = np.array([g.y for g in self.gateways])
        self._glv = np.array([idx.level_index(g.level) for g in self.gateways], dtype=np.int32)
        elev = np.array([site.level(lid).elevation_m for lid in idx.level_ids])
        self._lv_elev = elev
        self._lv_height = np.array([site.level(lid).height_m for lid in idx.level_ids])
        self._lv_building = np.array([site.level(lid).building for lid in idx.level_ids])
        self._gz = elev[self._glv] + np.array([g.height_m for g in self.gateways])
        self._is_uwb = np.array([g.tech == "uwb" for g in self.gateways], dtype=np.bool_)
        r = self.scenario.radio
        rng = self._rng_radio
        self._rx_offset = rng.normal(0.0, r.rx_offset_sd_db, len(self.gateways))
        for i, g in enumerate(self.gateways):
            if g.rssi_1m is not None:  # a calibrated gateway is assumed offset-free
                self._rx_offset[i] = 0.0
        self.shadowing = ShadowingField(len(self.gateways), r.shadowing_sigma_db,
                                        r.shadowing_corr_m, r.shadowing_features, rng)

    def _levels_apart(self, tag_lv: npt.ArrayLike, gw_lv: npt.ArrayLike) -> F64:
        tl = np.asarray(tag_lv, dtype=np.int64)
        gl = np.asarray(gw_lv, dtype=np.int64)
        dz = np.abs(self._lv_elev[tl] - self._lv_elev[gl])
        return np.asarray(np.rint(dz / np.maximum(self._lv_height[tl], 1.0)))

    def _setup_candidates(self) -> None:
        """Per level: a grid of cells, each with the K best BLE gateways (by a wall-free budget)."""
        r = self.scenario.radio
        cell = r.grid_cell_m
        ble = np.flatnonzero(~self._is_uwb)
        self._grid: list[tuple[float, float, int, int, I32]] = []
        for li, lid in enumerate(self.index.level_ids):
            minx, miny, maxx, maxy = self.site.level(lid).outline.bounds
            nx = max(1, math.ceil((maxx - minx) / cell))
            ny = max(1, math.ceil((maxy - miny) / cell))
            cx = minx + (np.arange(nx) + 0.5) * cell
            cy = miny + (np.arange(ny) + 0.5) * cell
            gx, gy = np.meshgrid(cx, cy)
            table = np.full((ny, nx, r.max_candidates), -1, dtype=np.int32)
            apart = self._levels_apart(np.full(ble.shape, li), self._glv[ble])
            ok = apart <= r.max_levels_apart
            cands = ble[ok]
            if cands.size:
                d = np.hypot(gx[..., None] - self._gx[cands], gy[..., None] - self._gy[cands])
                budget = (-10.0 * r.path_loss_exponent * np.log10(np.maximum(d, 1.0))
                          - slab_loss_db(apart[ok], r.floor_loss_first_db, r.floor_loss_next_db))
                budget = np.where(d <= r.candidate_radius_m + cell, budget, -np.inf)
                order = np.argsort(-budget, axis=-1, kind="stable")[..., : r.max_candidates]
                best = np.take_along_axis(budget, order, axis=-1)
                sel = cands[order]
                table[..., : sel.shape[-1]] = np.where(np.isfinite(best), sel, -1)
                # keep valid entries first (already sorted by budget)
            self._grid.append((minx, miny, nx, ny, table))

    # -- link cache -----------------------------------------------------------------------
    def _refresh(self, tags: npt.NDArray[np.int64]) -> None:
        """Recompute the static link budget of ``tags`` at their current positions."""
        if tags.size == 0:
            return
        mv = self.movement
        r = self.scenario.radio
        for li in np.unique(mv.level[tags]):
            sel = tags[mv.level[tags] == li]
            minx, miny, nx, ny, table = self._grid[int(li)]
            ix = np.clip(((mv.x[sel] - minx) // r.grid_cell_m).astype(np.int64), 0, nx - 1)
            iy = np.clip(((mv.y[sel] - miny) // r.grid_cell_m).astype(np.int64), 0, ny - 1)
            cand = table[iy, ix]
            self.cand[sel] = cand
            valid = cand >= 0
            ti, kk = np.nonzero(valid)
            g = cand[ti, kk]
            a = sel[ti]
            tx, ty = mv.x[a], mv.y[a]
            tz = self._lv_elev[li] + self.fleet.tag_height_m[a]
            d = np.sqrt((tx - self._gx[g]) ** 2 + (ty - self._gy[g]) ** 2 + (tz - self._gz[g]) ** 2)
            walls = np.asarray(self.index.wall_loss_db(int(li), tx, ty, self._gx[g], self._gy[g]),
                               dtype=np.float64)
            other = self._lv_building[self._glv[g]] != self._lv_building[li]
            if other.any():  # a link into another building also crosses that building's walls
                for gl in np.unique(self._glv[g][other]):
                    m = other & (self._glv[g] == gl)
                    walls[m] += self.index.wall_loss_db(int(gl), tx[m], ty[m], self._gx[g][m],
                                                        self._gy[g][m])
            shadow = self.shadowing.values(g, tx, ty, np.full(g.shape, li))
            mean = link_mean_dbm(self.fleet.rssi_1m[a], d, walls,
                                 self._levels_apart(np.full(g.shape, li), self._glv[g]), shadow,
                                 self._rx_offset[g], exponent=r.path_loss_exponent,
                                 min_distance_m=r.min_distance_m,
                                 floor_first_db=r.floor_loss_first_db,
                                 floor_next_db=r.floor_loss_next_db)
            m_full = np.full(cand.shape, -200.0, dtype=np.float32)
            m_full[ti, kk] = mean
            self.mean[sel] = m_full
            co = self._rng_radio.normal(0.0, r.channel_offset_sd_db, (sel.size, cand.shape[1], 3))
            self.chan_off[sel] = co.astype(np.float32)
            body = np.zeros(cand.shape, dtype=np.float32)
            pushed = mv.moving[a]
            if pushed.any():
                bearing = np.arctan2(self._gy[g] - ty, self._gx[g] - tx)
                cosang = np.cos(bearing - mv.heading[a])
                # the porter walks behind the asset: gateways behind it are shadowed
                frac = np.clip(0.5 - cosang, 0.0, 1.0) * pushed
                body[ti, kk] = self._body_db[a] * frac
            self.body[sel] = body
            if self._is_uwb.any():
                self._refresh_uwb(sel, int(li))
        gone = tags[self.movement.missing[tags]]
        self.mean[gone] = -200.0

    def _refresh_uwb(self, sel: npt.NDArray[np.int64], li: int) -> None:
        mv = self.movement
        anchors = np.flatnonzero(self._is_uwb & (self._glv == li))
        ku = self.ucand.shape[1]
        self.ucand[sel] = -1
        if anchors.size == 0:
            return
        tz = self._lv_elev[li] + self.fleet.tag_height_m[sel]
        d = np.sqrt((mv.x[sel, None] - self._gx[anchors]) ** 2
                    + (mv.y[sel, None] - self._gy[anchors]) ** 2
                    + (tz[:, None] - self._gz[anchors]) ** 2)
        order = np.argsort(d, axis=1, kind="stable")[:, :ku]
        dd = np.take_along_axis(d, order, axis=1)
        g = anchors[order]
        keep = dd <= self.scenario.uwb.max_range_m
        k = g.shape[1]
        self.ucand[sel, :k] = np.where(keep, g, -1)
        # compact: -1 entries last (the kernel stops at the first -1)
        self.ucand[sel] = np.sort(self.ucand[sel], axis=1)[:, ::-1]
        uc = self.ucand[sel]
        ti, kk = np.nonzero(uc >= 0)
        gg = uc[ti, kk]
        a = sel[ti]
        dist = np.sqrt((mv.x[a] - self._gx[gg]) ** 2 + (mv.y[a] - self._gy[gg]) ** 2
                       + (self._lv_elev[li] + self.fleet.tag_height_m[a] - self._gz[gg]) ** 2)
        self.udist[sel] = 0.0
        self.uwalls[sel] = 0
        full_d = np.zeros(uc.shape, dtype=np.float32)
        full_w = np.zeros(uc.shape, dtype=np.int32)
        full_d[ti, kk] = dist
        full_w[ti, kk] = self.index.walls_crossed(li, mv.x[a], mv.y[a], self._gx[gg], self._gy[gg])
        self.udist[sel] = full_d
        self.uwalls[sel] = full_w

    # -- stepping -------------------------------------------------------------------------
    def step(self, truth_every_s: float = 1.0) -> Tick:
        """Advance one step and return what was heard in it."""
        t0 = self._t
        t1 = t0 + self.step_s
        self._t = t1
        mv = self.movement
        changed = mv.advance(t0)
        self._refresh(changed)
        online = self.network.online(t0)
        fleet = self.fleet
        active = ~mv.missing
        # events: every advertisement/ranging of active tags in [t0, t1)
        ev_tag: list[npt.NDArray[np.int64]] = []
        ev_ts: list[F64] = []
        ev_ctr: list[npt.NDArray[np.uint64]] = []
        r = self.scenario.radio
        while True:
            due = np.flatnonzero(self._next_tx < t1)
            if due.size == 0:
                break
            ev_tag.append(due)
            ev_ts.append(self._next_tx[due].copy())
            ev_ctr.append((due.astype(np.uint64) << np.uint64(32)) | self._seq[due])
            self._seq[due] += np.uint64(1)
            self._next_tx[due] += fleet.interval_s[due] + self._rng_timing.uniform(
                0.0, r.adv_delay_max_s, due.size)
        tags = np.concatenate(ev_tag) if ev_tag else np.zeros(0, np.int64)
        tts = np.concatenate(ev_ts) if ev_ts else np.zeros(0)
        ctr = np.concatenate(ev_ctr) if ev_ctr else np.zeros(0, np.uint64)
        keep = active[tags]
        tags, tts, ctr = tags[keep], tts[keep], ctr[keep]
        is_u = fleet.uwb[tags]
        # BLE
        b = ~is_u
        heard = (self.mean > r.sensitivity_dbm - 5.0) & active[:, None] & ~fleet.uwb[:, None]
        n_heard = np.bincount(self.cand[heard], minlength=len(self.gateways))
        p_loss = collision_loss(n_heard, r.base_loss, r.packet_airtime_s, self._mean_interval)
        e_b, g_b, rssi_b, ch_b = receive_packets(
            tags[b].astype(np.int32), ctr[b], self.cand, self.mean, self.chan_off, self.body,
            online & ~self._is_uwb, p_loss, sensitivity_dbm=r.sensitivity_dbm,
            rician_k_db=r.rician_k_db, seed=self._pkt_seed)
        bt = tags[b][e_b]
        bts = tts[b][e_b] + ch_b.astype(np.float64) * 0.0004
        # UWB
        e_u, g_u, rng_u = range_packets(
            tags[is_u].astype(np.int32), ctr[is_u], self.ucand, self.udist, self.uwalls,
            mv.moving, online & self._is_uwb, self.scenario.uwb, seed=self._pkt_seed)
        ut = tags[is_u][e_u]
        uts = tts[is_u][e_u]
        g_all = np.concatenate([g_b, g_u]).astype(np.int32)
        t_true = np.concatenate([bts, uts])
        tag_all = np.concatenate([bt, ut]).astype(np.int32)
        rssi = np.concatenate([rssi_b, np.full(ut.shape, np.nan)])
        rng_m = np.concatenate([np.full(bt.shape, np.nan), rng_u])
        ch = np.concatenate([(ch_b + 37).astype(np.int8), np.zeros(ut.shape, np.int8)])
        deliv = self.network.deliver(t_true, self._rng_deliv)
        i = deliv.index
        ts = self.network.clock(g_all[i], t_true[i]) + self.epoch0
        # ground truth
        every = max(1, round(truth_every_s / self.step_s))
        step_no = round(t0 / self.step_s)
        if step_no % every == 0:
            truth = np.arange(len(fleet), dtype=np.int64)
        else:
            truth = np.unique(np.concatenate([np.flatnonzero(mv.moving), changed]))
        rooms = mv.truth_rooms()[truth]
        rooms = np.where(mv.missing[truth], -3, rooms).astype(np.int32)
        return Tick(
            t0=t0 + self.epoch0, t1=t1 + self.epoch0, ts=ts,
            arrival=deliv.arrival + self.epoch0, gateway=g_all[i], tag=tag_all[i],
            rssi=rssi[i], range_m=rng_m[i], channel=ch[i], truth=truth,
            truth_x=mv.x[truth].copy(), truth_y=mv.y[truth].copy(),
            truth_level=mv.level[truth].copy(), truth_room=rooms, online=online)

    def ticks(self, duration_s: float | None = None, *,
              truth_every_s: float = 10.0) -> Iterator[Tick]:
        """Yield steps until ``duration_s`` (default: the scenario's duration) has passed."""
        end = self.scenario.duration_s if duration_s is None else duration_s
        while self._t < end - 1e-9:
            yield self.step(truth_every_s)


def _walking_graph(site: Site) -> WalkingGraph | None:
    try:
        from floorplans.routing import WalkingGraph
    except ImportError:  # pragma: no cover - routing not installed: assets stay parked
        return None
    return WalkingGraph.from_site(site)
