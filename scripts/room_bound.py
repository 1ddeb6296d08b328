"""How well can RSSI alone tell the room of a parked asset? Oracle decoders on the simulator.

Simulates the sample hospital (``hospital-day`` scenario, like ``accuracy_simulated.py``) and,
for every asset parked (truth position unchanged) for a whole stay of at least
``--min-stay-minutes``, decides its room from *all* BLE readings of that stay with decoders that
know more of the simulator's radio model than the positioning engine does:

1. **oracle** — knows each tag's true transmit power and height, the true (spread) wall
   attenuations, slab loss, receiver offsets, path-loss model, Rician fading, sensitivity,
   collision/outage loss and the simulator's candidate-gateway lists; it does *not* know the
   shadowing field nor the per-(tag, gateway, channel) offsets, which it integrates out
   (σ = ``shadowing_sigma_db`` and ``channel_offset_sd_db``). Per gateway and channel the
   received packets are a Poisson-thinned, quantised, sensitivity-truncated draw of
   ``L + C_c + F``; the exact likelihood of the received RSSI histogram (including "never
   heard") is computed on a 0.5 dB grid of the static level and marginalised numerically over
   ``C_c`` and over the shadowing ``S`` at every candidate cell.
2. **oracle, 0.4 m wall margin** — the same, with the cells restricted to where the simulator
   parks assets (at least 0.4 m from the room's walls).
   **oracle, no candidate lists** — the same, but every gateway that never heard the tag counts
   as censored, not only those in the simulator's 24-gateway candidate list of the cell.
3. **Gaussian approximation** — the decoder of the brief: Gaussian likelihood of each heard
   gateway's mean RSSI with variance ``σ_S² + σ_C²/channels + var(F)/packets`` and a censoring
   term ``P(level < T)`` for candidate gateways that never heard the tag (true walls).
4. **oracle, nominal walls** — decoder 1 with the plan's nominal wall attenuations (what the
   engine can know); everything else still known.
5. **strongest gateway** — the room of the gateway with the highest mean RSSI.
6. **oracle, shadowing known** — decoder 1 knowing the shadowing field too (sanity check).
7. **oracle, heard gateways only** — decoder 1 without any censoring term.
8. **engine knowledge** — nominal walls, a nominal 1 m tag height, receiver offsets unknown
   (added to the shadowing variance), transmit power unknown (marginalised over −70…−50 dBm),
   heard gateways only; still the simulator's path-loss exponent and fading law.

Candidate cells: a 0.5 m grid over the true level, each cell in the room the simulator's site
index puts it in, plus the representative point of any room too small to hold a cell; uniform
prior over cells; the room is the argmax of the posterior summed over its cells.

Prints Markdown tables. Deterministic for a seed. Usage::

    python scripts/room_bound.py --assets 60 --minutes 20 --seed 3
    python scripts/room_bound.py --assets 200 --minutes 30 --seed 1
"""

from __future__ import annotations

import argparse
import math
import time
from dataclasses import dataclass, replace

import numpy as np
import numpy.typing as npt
import shapely
from scipy.special import log_ndtr, logsumexp
from scipy.stats import ncx2

from floorplans.model import Site
from floorplans.sample import generate_hospital, load_sample_site
from floorplans.spatial import SiteIndex
from simulator.config import RadioConfig, load_scenario
from simulator.engine import Simulation
from simulator.radio import collision_loss, link_mean_dbm

F64 = npt.NDArray[np.float64]
I64 = npt.NDArray[np.int64]
B = npt.NDArray[np.bool_]

#: Transmit powers (dBm at 1 m) the engine-knowledge decoder marginalises over (uniform prior).
TX_POWER_DBM = np.arange(-70.0, -49.5, 1.0)
#: Tag height the engine-knowledge decoder assumes, metres.
NOMINAL_TAG_HEIGHT_M = 1.0

DECODERS = (
    ("oracle", "oracle (true walls, shadowing and channel offsets unknown)"),
    ("oracle_margin", "oracle, cells ≥ 0.4 m from walls"),
    ("oracle_nocand", "oracle, every unheard gateway censored (no candidate lists)"),
    ("gauss", "Gaussian approximation of the brief (true walls)"),
    ("nominal", "oracle with nominal plan walls"),
    ("strongest", "strongest gateway"),
    ("shadow_known", "oracle with shadowing field known"),
    ("oracle_heard", "oracle, heard gateways only (no censoring)"),
    ("engine_knowledge", "engine knowledge: nominal walls, tx power and rx offsets unknown, "
                         "heard gateways only"),
    ("ek_model_power", "engine knowledge + the tag model's nominal power (unit spread unknown)"),
    ("ek_power", "engine knowledge + tag transmit power known"),
    ("ek_rx", "engine knowledge + receiver offsets known"),
    ("ek_power_rx", "engine knowledge + tag power and receiver offsets known"),
    ("ek_power_rx_cens", "engine knowledge + power, offsets known, silent gateways censored"),
)


# ----------------------------------------------------------------------------- radio physics
class Physics:
    """Likelihood machinery for one radio configuration on a grid of static link levels.

    The static level of a (tag, gateway) link is ``L = μ + S`` (μ: the deterministic budget,
    S: shadowing); on channel ``c`` it is ``L + C_c``. A packet's RSSI is
    ``round(L + C_c + F)`` with Rician fading ``F`` in dB and is received when at least the
    sensitivity. Levels live on the grid :attr:`grid` (dBm).

    Args:
        radio: The simulator's radio configuration.
        step_db: Grid step.
    """

    def __init__(self, radio: RadioConfig, step_db: float = 0.5) -> None:
        self.radio = radio
        self.step = step_db
        self.grid: F64 = np.arange(-180.0, 0.0 + 1e-9, step_db)
        self.sens = float(radio.sensitivity_dbm)
        self.values: F64 = np.arange(self.sens, 1.0, 1.0)  # possible received RSSI values
        k = 10.0 ** (radio.rician_k_db / 10.0)
        self._s2 = 0.5 / (k + 1.0)
        self._nc = 2.0 * k
        lo = self.values[:, None] - 0.5 - self.grid[None, :]
        hi = lo + 1.0
        upper = lo > 0.0  # upper tail: difference of survival functions (no cancellation)
        pmf = np.where(upper, self.fade_sf(lo) - self.fade_sf(hi),
                       self.fade_cdf(hi) - self.fade_cdf(lo))
        self.logpmf: F64 = np.log(np.maximum(pmf, 1e-300))
        #: probability that one packet at level L is at or above the sensitivity
        self.q: F64 = self.fade_sf(self.sens - 0.5 - self.grid)
        f = np.linspace(-60.0, 15.0, 15001)
        dens = np.gradient(self.fade_cdf(f), f)
        w = dens / dens.sum()
        self.fade_mean = float((w * f).sum())
        self.fade_var = float((w * (f - self.fade_mean) ** 2).sum()) + 1.0 / 12.0
        self._kc = self._kernel(radio.channel_offset_sd_db, 4.0)
        self._ks = self._kernel(radio.shadowing_sigma_db, 5.0)
        self._mc, self._ms = self._matrix(self._kc), self._matrix(self._ks)

    def fade_cdf(self, f: npt.ArrayLike) -> F64:
        """CDF of the fading ``F`` (dB) of the simulator's unit-mean-power Rician channel."""
        x = 10.0 ** (np.asarray(f, dtype=np.float64) / 10.0) / self._s2
        return np.asarray(ncx2.cdf(x, 2.0, self._nc), dtype=np.float64)

    def fade_sf(self, f: npt.ArrayLike) -> F64:
        """Survival function of the fading ``F`` (dB)."""
        x = 10.0 ** (np.asarray(f, dtype=np.float64) / 10.0) / self._s2
        return np.asarray(ncx2.sf(x, 2.0, self._nc), dtype=np.float64)

    def _kernel(self, sd: float, width: float) -> tuple[I64, F64]:
        n = max(1, math.ceil(width * sd / self.step))
        offs = np.arange(-n, n + 1, dtype=np.int64)
        if sd <= 0:
            return np.zeros(1, dtype=np.int64), np.zeros(1)
        logw = np.asarray(-0.5 * (offs * self.step / sd) ** 2, dtype=np.float64)
        return offs, np.asarray(logw - float(logsumexp(logw)), dtype=np.float64)

    def _smooth(self, ll: F64, kernel: tuple[I64, F64]) -> F64:
        """``log ∫ exp(ll(L + x)) N(x) dx`` per row, in log space (for sharply peaked rows)."""
        offs, logw = kernel
        n = self.grid.shape[0]
        idx = np.clip(np.arange(n)[:, None] + offs[None, :], 0, n - 1)
        return np.asarray(logsumexp(ll[:, idx] + logw[None, None, :], axis=2), dtype=np.float64)

    def _matrix(self, kernel: tuple[I64, F64]) -> F64:
        offs, logw = kernel
        n = self.grid.shape[0]
        m = np.zeros((n, n))
        dst = np.repeat(np.arange(n), offs.size)
        src = np.clip(dst + np.tile(offs, n), 0, n - 1)
        np.add.at(m, (src, dst), np.tile(np.exp(logw), n))
        return m

    @staticmethod
    def _smooth_lin(ll: F64, mat: F64) -> F64:
        """:meth:`_smooth` in linear space (for smooth rows), floored at 1e-250 of the peak."""
        top = ll.max(axis=1, keepdims=True)
        out: F64 = np.log(np.maximum(np.exp(ll - top) @ mat, 1e-250)) + top
        return out

    def link_loglik(self, counts: F64, lam: F64) -> tuple[F64, F64]:
        """Log-likelihood of each gateway's packets as a function of its static level.

        Per channel the received packets are Poisson with mean ``lam · pmf(v | L + C_c)`` per
        RSSI value ``v``, which also covers "never heard"; the channel offsets ``C_c`` and the
        shadowing are integrated out numerically.

        Args:
            counts: ``(G, 3, V)`` received packets per gateway, channel and RSSI value
                (:attr:`values`).
            lam: ``(G,)`` expected packets a gateway would receive per channel if every packet
                were above the sensitivity (advertisements × (1 − loss) × online / 3).

        Returns:
            ``(given_level, marginal)``, both ``(G, grid)``: the log-likelihood given the static
            level ``L = μ + S`` (channel offsets integrated out), and given ``μ`` (shadowing
            integrated out too). Up to a constant per gateway.
        """
        g = counts.shape[0]
        heard = counts.sum(axis=(1, 2)) > 0
        h, u = np.flatnonzero(heard), np.flatnonzero(~heard)
        given = np.empty((g, self.grid.shape[0]))
        marginal = np.empty_like(given)
        if h.size:
            per_ch = (counts[h].reshape(h.size * 3, -1) @ self.logpmf
                      - np.repeat(lam[h], 3)[:, None] * self.q[None, :])
            given[h] = self._smooth(per_ch, self._kc).reshape(h.size, 3, -1).sum(axis=1)
            marginal[h] = self._smooth(given[h], self._ks)
        if u.size:  # never heard: smooth in L, the same on every channel
            one = self._smooth_lin(-lam[u, None] * self.q[None, :], self._mc)
            given[u] = 3.0 * one
            marginal[u] = self._smooth_lin(given[u], self._ms)
        return given, marginal

    def smooth_sd(self, given: F64, sd: float) -> F64:
        """Integrate a zero-mean Gaussian nuisance of standard deviation ``sd`` out of rows of
        :meth:`link_loglik`'s ``given_level`` (log space)."""
        return self._smooth(given, self._kernel(sd, 5.0))

    def lookup(self, table: F64, mu: F64) -> F64:
        """Evaluate ``table[j]`` (a function on :attr:`grid`) at ``mu[:, j]`` (linear interp.)."""
        n = self.grid.shape[0]
        pos = np.clip((mu - self.grid[0]) / self.step, 0.0, n - 1.0)
        i = np.minimum(pos.astype(np.int64), n - 2)
        f = pos - i
        j = np.arange(table.shape[0])[None, :]
        return np.asarray(table[j, i] * (1.0 - f) + table[j, i + 1] * f, dtype=np.float64)

    def detect_level(self, lam: F64) -> F64:
        """Level at which a gateway expects one received packet over the stay (per gateway)."""
        target = 1.0 / np.maximum(3.0 * lam, 1e-12)
        return np.interp(target, self.q, self.grid)


# ----------------------------------------------------------------------------- simulation
@dataclass(slots=True)
class Stay:
    """One parked stay of one asset (ticks ``first`` .. ``last`` inclusive)."""

    tag: int
    first: int
    last: int
    x: float
    y: float
    level: int
    room: int


@dataclass(slots=True)
class Recording:
    """What the simulation produced for the parked stays."""

    stays: list[Stay]
    lam: F64  # (stays, gateways) expected receptions per channel if above sensitivity
    r_stay: I64
    r_gw: I64
    r_ch: I64
    r_rssi: I64
    n_readings: int


def record(sim: Simulation) -> Recording:
    """Run ``sim`` to its end and collect the BLE readings of parked assets per stay.

    Args:
        sim: A fresh simulation.

    Returns:
        The stays, their readings (network duplicates removed) and, per stay and gateway, the
        expected receptions per channel (advertisements × (1 − collision loss) × online / 3).
    """
    mv, fleet, r = sim.movement, sim.fleet, sim.scenario.radio
    n, g_n = len(fleet), len(sim.gateways)
    cur = np.full(n, -1, dtype=np.int64)
    px, py = np.full(n, np.nan), np.full(n, np.nan)
    pl = np.full(n, -1, dtype=np.int64)
    stays: list[Stay] = []
    lam = np.zeros((max(16, n * 2), g_n))
    parts: list[tuple[I64, I64, I64, I64]] = []
    n_read = 0
    k = 0
    ble_gw = ~sim._is_uwb
    while sim._t < sim.scenario.duration_s - 1e-9:
        seq0 = sim._seq.copy()
        tick = sim.step(10.0)
        events = (sim._seq - seq0).astype(np.float64)
        parked = ~mv.moving & ~mv.missing & ~fleet.uwb
        new = parked & ((cur < 0) | (mv.x != px) | (mv.y != py) | (mv.level != pl))
        rooms = mv.truth_rooms()
        for a in np.flatnonzero(new):
            cur[a] = len(stays)
            stays.append(Stay(int(a), k, k, float(mv.x[a]), float(mv.y[a]), int(mv.level[a]),
                              int(rooms[a])))
        cur[~parked] = -1
        px, py, pl = mv.x.copy(), mv.y.copy(), mv.level.astype(np.int64)
        pk = np.flatnonzero(parked)
        for a in pk:
            stays[int(cur[a])].last = k
        if len(stays) > lam.shape[0]:
            lam = np.concatenate([lam, np.zeros((lam.shape[0] + len(stays), g_n))])
        # the packet-loss probability exactly as Simulation.step computed it
        heard = (sim.mean > r.sensitivity_dbm - 5.0) & ~mv.missing[:, None] & ~fleet.uwb[:, None]
        n_heard = np.bincount(sim.cand[heard], minlength=g_n)
        p_loss = collision_loss(n_heard, r.base_loss, r.packet_airtime_s, sim._mean_interval)
        w = (1.0 - p_loss) * (tick.online & ble_gw)
        np.add.at(lam, cur[pk], events[pk, None] * w[None, :] / 3.0)
        # readings of parked tags, network duplicates removed
        b = ~np.isnan(tick.rssi)
        tg, gw, ts = tick.tag[b].astype(np.int64), tick.gateway[b].astype(np.int64), tick.ts[b]
        rs, ch = tick.rssi[b].astype(np.int64), tick.channel[b].astype(np.int64) - 37
        n_read += int(b.sum())
        o = np.lexsort((ts, gw, tg))
        tg, gw, ts, rs, ch = tg[o], gw[o], ts[o], rs[o], ch[o]
        first = np.ones(tg.shape, dtype=np.bool_)
        first[1:] = (tg[1:] != tg[:-1]) | (gw[1:] != gw[:-1]) | (ts[1:] != ts[:-1])
        st = cur[tg]
        keep = first & (st >= 0)
        parts.append((st[keep], gw[keep], ch[keep], rs[keep]))
        k += 1

    def cat(i: int) -> I64:
        return np.concatenate([p[i] for p in parts]) if parts else np.zeros(0, np.int64)

    return Recording(stays, lam[: len(stays)], cat(0), cat(1), cat(2), cat(3), n_read)


# ----------------------------------------------------------------------------- candidate cells
@dataclass(slots=True)
class LevelCells:
    """Candidate cells of one level and their static link geometry to the level's gateways."""

    level: int
    x: F64
    y: F64
    room: I64  # global room index per cell
    inner: B  # at least the parking margin from the room's walls
    gws: I64  # gateways that can be heard from this level (global indices)
    local: I64  # global gateway index -> column (-1: not a column)
    hd2: F64  # (cells, gws) horizontal distance squared
    gz: F64
    apart: F64  # slabs between the level and each gateway
    rx: F64
    wall_true: F64
    wall_nom: F64
    shadow: F64
    cand: B  # gateway is in the simulator's candidate list of the cell's grid square


def _walls(index: SiteIndex, sim: Simulation, li: int, x: F64, y: F64, gws: I64) -> F64:
    gx, gy = sim._gx[gws], sim._gy[gws]
    out = np.asarray(index.wall_loss_db(li, x[:, None], y[:, None], gx[None, :], gy[None, :]),
                     dtype=np.float64)
    glv = sim._glv[gws]
    other = sim._lv_building[glv] != sim._lv_building[li]
    for gl in np.unique(glv[other]):
        cols = np.flatnonzero(other & (glv == gl))
        out[:, cols] += index.wall_loss_db(int(gl), x[:, None], y[:, None], gx[None, cols],
                                           gy[None, cols])
    return out


def level_cells(sim: Simulation, nominal: SiteIndex, li: int, cell_m: float,
                margin_m: float) -> LevelCells:
    """Build the candidate cells of level ``li``.

    Args:
        sim: The simulation (its site index holds the true, spread wall attenuations).
        nominal: Site index of the plan (nominal wall attenuations).
        li: Level index.
        cell_m: Grid step.
        margin_m: Wall margin of the cells flagged ``inner``.
    """
    site, idx, r = sim.site, sim.index, sim.scenario.radio
    lid = idx.level_ids[li]
    minx, miny, maxx, maxy = site.level(lid).outline.bounds
    xs = np.arange(math.floor(minx / cell_m) * cell_m + cell_m / 2, maxx, cell_m)
    ys = np.arange(math.floor(miny / cell_m) * cell_m + cell_m / 2, maxy, cell_m)
    gx, gy = np.meshgrid(xs, ys)
    x, y = gx.ravel(), gy.ravel()
    room = np.asarray(idx.room_at(x, y, li), dtype=np.int64)
    ok = room >= 0
    x, y, room = x[ok], y[ok], room[ok]
    inner = np.zeros(x.shape, dtype=np.bool_)
    extra_x: list[float] = []
    extra_y: list[float] = []
    extra_r: list[int] = []
    for j, rm in enumerate(site.rooms):
        if rm.level != lid:
            continue
        mine = room == j
        shrunk = rm.polygon.buffer(-margin_m)
        if shrunk.is_empty or shrunk.area <= 0.05:  # sample_in_room falls back to the polygon
            inner[mine] = True
        else:
            inner[mine] = shapely.contains_xy(shrunk, x[mine], y[mine])
        if not mine.any():
            p = rm.polygon.representative_point()
            extra_x.append(float(p.x))
            extra_y.append(float(p.y))
            extra_r.append(j)
    x = np.concatenate([x, extra_x])
    y = np.concatenate([y, extra_y])
    room = np.concatenate([room, np.asarray(extra_r, dtype=np.int64)])
    inner = np.concatenate([inner, np.ones(len(extra_r), dtype=np.bool_)])
    ble = np.flatnonzero(~sim._is_uwb)
    apart = sim._levels_apart(np.full(ble.shape, li), sim._glv[ble])
    gws = ble[apart <= r.max_levels_apart]
    local = np.full(len(sim.gateways), -1, dtype=np.int64)
    local[gws] = np.arange(gws.size)
    gminx, gminy, nx, ny, table = sim._grid[li]
    ix = np.clip(((x - gminx) // r.grid_cell_m).astype(np.int64), 0, nx - 1)
    iy = np.clip(((y - gminy) // r.grid_cell_m).astype(np.int64), 0, ny - 1)
    cl = table[iy, ix]  # (cells, max_candidates)
    cand = np.zeros((x.size, gws.size), dtype=np.bool_)
    rows, kk = np.nonzero(cl >= 0)
    cand[rows, local[cl[rows, kk]]] = True
    apart = sim._levels_apart(np.full(gws.shape, li), sim._glv[gws]).astype(np.float64)
    return LevelCells(
        level=li, x=x, y=y, room=room, inner=inner, gws=gws, local=local,
        hd2=(x[:, None] - sim._gx[gws][None, :]) ** 2 + (y[:, None] - sim._gy[gws][None, :]) ** 2,
        gz=sim._gz[gws], apart=apart, rx=sim._rx_offset[gws],
        wall_true=_walls(idx, sim, li, x, y, gws), wall_nom=_walls(nominal, sim, li, x, y, gws),
        shadow=sim.shadowing.values(gws[None, :], x[:, None], y[:, None], li), cand=cand)


# ----------------------------------------------------------------------------- decoding
def _room_argmax(ll: F64, room: I64, use: B | None = None) -> int:
    """Room with the largest posterior mass (uniform prior over the cells in ``use``)."""
    if use is not None:
        ll = np.where(use, ll, -np.inf)
    w = np.exp(ll - ll.max())
    rooms, inv = np.unique(room, return_inverse=True)
    mass = np.bincount(inv, weights=w, minlength=rooms.size)
    return int(rooms[int(np.argmax(mass))])


def decode(stay: Stay, lc: LevelCells, counts: F64, lam: F64, sim: Simulation, phys: Physics,
           gw_room: I64) -> dict[str, int]:
    """All decoders' room (global index, -1: none) for one stay.

    Args:
        stay: The stay.
        lc: Candidate cells of the stay's level.
        counts: ``(len(lc.gws), 3, V)`` received packets per gateway column, channel and value.
        lam: ``(len(lc.gws),)`` expected receptions per channel above sensitivity.
        sim: The simulation (true radio parameters).
        phys: Likelihood machinery.
        gw_room: Room index of each gateway (global; -1: none).
    """
    r = sim.scenario.radio
    tag = stay.tag
    tz = sim._lv_elev[stay.level] + sim.fleet.tag_height_m[tag]
    cols = np.arange(lc.gws.size)
    mu_true = _budget(lc, sim, tz, sim.fleet.rssi_1m[tag], lc.wall_true, lc.rx, cols)
    mu_nom = _budget(lc, sim, tz, sim.fleet.rssi_1m[tag], lc.wall_nom, lc.rx, cols)
    n_g = counts.sum(axis=(1, 2))
    heard = n_g > 0
    weight = (lc.cand | heard[None, :]).astype(np.float64)
    given, marginal = phys.link_loglik(counts, lam)
    out: dict[str, int] = {}
    lk = phys.lookup(marginal, mu_true)
    ll = (weight * lk).sum(axis=1)
    out["oracle"] = _room_argmax(ll, lc.room)
    out["oracle_nocand"] = _room_argmax(lk.sum(axis=1), lc.room)
    out["oracle_heard"] = _room_argmax((heard[None, :] * lk).sum(axis=1), lc.room)
    out["engine_knowledge"] = _engine_knowledge(lc, given, heard, sim, phys)
    p_true = float(sim.fleet.rssi_1m[tag])
    model = sim.scenario.tag_models[int(sim.fleet.model_index[tag])]
    out["ek_model_power"] = _engine_knowledge(lc, given, heard, sim, phys, power=model.rssi_1m,
                                              power_sd=model.rssi_1m_sd)
    out["ek_power"] = _engine_knowledge(lc, given, heard, sim, phys, power=p_true)
    out["ek_rx"] = _engine_knowledge(lc, given, heard, sim, phys, rx_known=True)
    out["ek_power_rx"] = _engine_knowledge(lc, given, heard, sim, phys, power=p_true,
                                           rx_known=True)
    out["ek_power_rx_cens"] = _engine_knowledge(lc, given, heard, sim, phys, power=p_true,
                                                rx_known=True, marginal=marginal)
    out["oracle_margin"] = _room_argmax(ll, lc.room, lc.inner)
    out["nominal"] = _room_argmax((weight * phys.lookup(marginal, mu_nom)).sum(axis=1), lc.room)
    out["shadow_known"] = _room_argmax(
        (weight * phys.lookup(given, mu_true + lc.shadow)).sum(axis=1), lc.room)
    # Gaussian approximation (the brief's decoder)
    s2, c2 = r.shadowing_sigma_db ** 2, r.channel_offset_sd_db ** 2
    h = np.flatnonzero(heard)
    mean_rssi = (counts[h].sum(axis=1) @ phys.values) / n_g[h]
    n_ch = (counts[h].sum(axis=2) > 0).sum(axis=1)
    var = s2 + c2 / n_ch + phys.fade_var / n_g[h]
    res = mean_rssi[None, :] - mu_true[:, h] - phys.fade_mean
    llg = (-0.5 * res**2 / var[None, :] - 0.5 * np.log(var)[None, :]).sum(axis=1)
    u = np.flatnonzero(~heard & (lam > 1e-9))
    t_det = phys.detect_level(lam[u])
    cens = log_ndtr((t_det[None, :] - mu_true[:, u]) / math.sqrt(s2 + c2 / 3.0))
    llg = llg + (lc.cand[:, u] * cens).sum(axis=1)
    out["gauss"] = _room_argmax(llg, lc.room)
    out["strongest"] = int(gw_room[lc.gws[h[int(np.argmax(mean_rssi))]]]) if h.size else -1
    return out


def _budget(lc: LevelCells, sim: Simulation, tz: float, rssi_1m: float, walls: F64, rx: F64,
            cols: I64) -> F64:
    """``(cells, len(cols))`` static link budget without shadowing, by the simulator's own
    :func:`simulator.radio.link_mean_dbm`, for a tag at height ``tz`` on every cell."""
    r = sim.scenario.radio
    d = np.sqrt(lc.hd2[:, cols] + (tz - lc.gz[None, cols]) ** 2)
    return link_mean_dbm(rssi_1m, d, walls[:, cols], lc.apart[None, cols], 0.0, rx[None, cols],
                         exponent=r.path_loss_exponent, min_distance_m=r.min_distance_m,
                         floor_first_db=r.floor_loss_first_db,
                         floor_next_db=r.floor_loss_next_db)


def _engine_knowledge(lc: LevelCells, given: F64, heard: B, sim: Simulation, phys: Physics,
                      *, power: float | None = None, power_sd: float = 0.0,
                      rx_known: bool = False,
                      marginal: F64 | None = None) -> int:
    """Decoder 1 restricted to what an engine could know, with optional extra knowledge.

    Nominal walls; a nominal tag height; receiver offsets unknown (their variance is added to
    the shadowing's) unless ``rx_known``; the tag's transmit power unknown (marginalised,
    uniform prior on ``TX_POWER_DBM``) unless ``power`` is given (with ``power_sd``, a Gaussian
    prior about it); only the gateways that heard
    the tag (no censoring) unless ``marginal`` (:meth:`Physics.link_loglik`'s second result) is
    given, in which case every silent gateway the simulator expected packets from counts too.
    """
    r = sim.scenario.radio
    h = np.flatnonzero(heard)
    if h.size == 0:
        return -1
    cols = h if marginal is None else np.arange(lc.gws.size)
    if rx_known:
        table = marginal if marginal is not None else phys.smooth_sd(given[h],
                                                                     r.shadowing_sigma_db)
        rx = lc.rx
    else:
        table = phys.smooth_sd(given[cols], math.hypot(r.shadowing_sigma_db, r.rx_offset_sd_db))
        rx = np.zeros(lc.gws.size)
    tz = sim._lv_elev[lc.level] + NOMINAL_TAG_HEIGHT_M
    base = _budget(lc, sim, tz, 0.0, lc.wall_nom, rx, cols)
    if power is None:
        powers, logw = TX_POWER_DBM, np.zeros(TX_POWER_DBM.size)
    elif power_sd > 0:
        z = np.linspace(-3.0, 3.0, 13)
        powers, logw = power + power_sd * z, -0.5 * z * z
    else:
        powers, logw = np.array([power]), np.zeros(1)
    ll = np.stack([phys.lookup(table, base + p).sum(axis=1) + w for p, w in zip(powers, logw,
                                                                                 strict=True)])
    return _room_argmax(np.asarray(logsumexp(ll, axis=0), dtype=np.float64), lc.room)


# ----------------------------------------------------------------------------- main
def _hist(rec: Recording, s_idx: I64, lc: LevelCells, phys: Physics) -> F64:
    v = rec.r_rssi[s_idx] - int(phys.sens)
    col = lc.local[rec.r_gw[s_idx]]
    ok = (col >= 0) & (v >= 0) & (v < phys.values.size)
    nv = phys.values.size
    flat = (col[ok] * 3 + rec.r_ch[s_idx][ok]) * nv + v[ok]
    c = np.bincount(flat, minlength=lc.gws.size * 3 * nv).astype(np.float64)
    return c.reshape(lc.gws.size, 3, nv)


def main() -> None:
    """Simulate, decode every long parked stay, print the accuracy tables."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--assets", type=int, default=60)
    ap.add_argument("--minutes", type=float, default=20.0)
    ap.add_argument("--seed", type=int, default=3)
    ap.add_argument("--layout", choices=("corridor", "room-level"), default="room-level")
    ap.add_argument("--min-stay-minutes", type=float, default=5.0)
    ap.add_argument("--cell", type=float, default=0.5, help="candidate grid step, metres")
    ap.add_argument("--margin", type=float, default=0.4,
                    help="wall margin of the 'oracle, cells ≥ margin from walls' decoder")
    args = ap.parse_args()
    site: Site = (load_sample_site() if args.layout == "corridor"
                  else generate_hospital(patient_room_gateways=True))
    scenario = replace(load_scenario("hospital-day")[0], assets=args.assets,
                       duration_s=args.minutes * 60.0, seed=args.seed)
    t0 = time.time()
    sim = Simulation(site, scenario)
    rec = record(sim)
    t_sim = time.time() - t0
    phys = Physics(scenario.radio)
    nominal = SiteIndex(site)
    room_pos = {rid: j for j, rid in enumerate(sim.index.room_ids)}
    gw_room = np.array([room_pos.get(g.room or "", -1) for g in sim.gateways], dtype=np.int64)
    gw_rooms = {int(j) for j in gw_room if j >= 0}
    min_ticks = args.min_stay_minutes * 60.0 / sim.step_s
    order = np.argsort(rec.r_stay, kind="stable")
    bounds = np.searchsorted(rec.r_stay[order], np.arange(len(rec.stays) + 1))
    cells: dict[int, LevelCells] = {}
    results: list[tuple[Stay, dict[str, int]]] = []
    t1 = time.time()
    for s, stay in enumerate(rec.stays):
        if stay.last - stay.first + 1 < min_ticks or stay.room < 0:
            continue
        if stay.level not in cells:
            cells[stay.level] = level_cells(sim, nominal, stay.level, args.cell, args.margin)
        lc = cells[stay.level]
        counts = _hist(rec, order[bounds[s]:bounds[s + 1]], lc, phys)
        results.append((stay, decode(stay, lc, counts, rec.lam[s][lc.gws], sim, phys, gw_room)))
    t_dec = time.time() - t1
    print(f"simulated {rec.n_readings} BLE readings in {t_sim:.0f} s; decoded "
          f"{len(results)} stays in {t_dec:.0f} s")
    print(f"\n{args.assets} assets, {args.minutes:g} simulated minutes, seed {args.seed}, "
          f"{args.layout} layout ({len(site.gateways)} gateways); parked stays of at least "
          f"{args.min_stay_minutes:g} min (mean {_mean_min(results, sim):.1f} min)\n")
    _print_tables(results, gw_rooms, site)


def _mean_min(results: list[tuple[Stay, dict[str, int]]], sim: Simulation) -> float:
    if not results:
        return float("nan")
    return float(np.mean([(s.last - s.first + 1) * sim.step_s / 60.0 for s, _ in results]))


def _print_tables(results: list[tuple[Stay, dict[str, int]]], gw_rooms: set[int],
                  site: Site) -> None:
    polys = [r.polygon for r in site.rooms]
    corridor = {j for j, r in enumerate(site.rooms) if r.category == "corridor"}
    n_gw = sum(s.room in gw_rooms for s, _ in results)
    n_no = len(results) - n_gw
    print(f"| decoder | room, parked (n = {len(results)}) | room has gateway (n = {n_gw}) "
          f"| no gateway (n = {n_no}) | errors: adjacent room | errors: corridor "
          f"| errors: other |")
    print("|---|---|---|---|---|---|---|")
    for key, label in DECODERS:
        ok = np.array([d[key] == s.room for s, d in results], dtype=np.bool_)
        has = np.array([s.room in gw_rooms for s, _ in results], dtype=np.bool_)
        adj = cor = other = 0
        for (s, d), good in zip(results, ok, strict=True):
            p = d[key]
            if good:
                continue
            if p in corridor:
                cor += 1
            elif p >= 0 and polys[p].distance(polys[s.room]) <= 0.3 \
                    and site.rooms[p].level == site.rooms[s.room].level:
                adj += 1
            else:
                other += 1
        print(f"| {label} | {_pct(ok)} | {_pct(ok[has])} | {_pct(ok[~has])} | {adj} | {cor} "
              f"| {other} |")


def _pct(ok: B) -> str:
    return f"{ok.mean():.1%} ({int(ok.sum())})" if ok.size else "–"


if __name__ == "__main__":
    main()
