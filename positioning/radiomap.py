"""A model-based radio map: which cells of a level explain a tag's readings best.

Multilateration throws away what the floor plan knows: the walls between a tag and each
gateway, and the gateways that did *not* hear the tag. The radio map keeps both. Every level is
covered by cells (``cell_m`` apart, only inside rooms); for every cell *c* and gateway *g* on the
level the plan predicts the path loss

.. math::

    L_{cg} = 10\\,n_g \\log_{10} d_{cg} + W_{cg}

with the 3-D distance :math:`d` and the nominal attenuation :math:`W` of the plan's walls
crossed (:meth:`floorplans.spatial.SiteIndex.wall_loss_db`). A tag's received power is
:math:`r_g = P - L_{cg} + \\epsilon`, with its unknown transmit power :math:`P` (prior
:math:`N(P_0, \\tau^2)`, :math:`P_0` the gateway calibration or the tag's advertised
``tx_power``) and :math:`\\epsilon \\sim N(0, \\sigma_g^2)`. For each candidate cell the kernel
profiles :math:`P` out (its posterior mode given the heard gateways) and scores

.. math::

    \\ell_c = -\\sum_{heard} \\rho((r_g - \\hat P_c + L_{cg}) / \\sigma_g)
              - (\\hat P_c - P_0)^2 / (2\\tau^2)
              + \\sum_{silent} \\log \\Phi((s - \\hat P_c + L_{cg}) / \\sigma_m)

with a Huber :math:`\\rho` (a reflection pulls with bounded force), the receiver sensitivity
:math:`s`, and "silent" meaning a gateway of the level near the tag that heard nothing in the
window. Candidate cells are those within ``radius_m`` of the strongest gateway heard. The
posterior over cells (tempered by ``temper`` because shadowing is correlated in space and time)
gives a position (its mean), an accuracy (95 % radius of its spread) and, summed per room, the
room likelihoods the room filter uses.

The search is coarse to fine: the cells on every other grid line in both directions (plus every
cell with no such cell of its own room beside it) are scored first; a remaining cell is scored
only when one of its coarse neighbours in the same room is within ``refine_nats`` of the best
coarse score, and is otherwise given no weight. This is an approximation (a door opening can
make the likelihood jump within a room over one cell); ``refine_nats=None`` scores every
candidate cell, and ``docs/accuracy.md`` compares the two on both gateway layouts
(``benchmarks/bench_engine.py`` their cost). The non-detection term uses a tabulated
:math:`\\log \\Phi` (cubic Hermite, within 3e-11 of the exact function): computed with
``math.erfc`` it was most of the kernel's cost.

Run-time calibration enters as a per-gateway receive offset :math:`o_g` (subtracted from
:math:`r_g` and from :math:`s`) and a per-tag prior :math:`(P_0, \\tau)`
(:mod:`positioning.autocal`); the most likely cell of each tag is returned so that
calibration can learn from it.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

import positioning._numba  # noqa: F401  (sets the Numba cache dir before numba loads)

from numba import njit, prange  # isort: skip

from floorplans.spatial import SiteIndex

__all__ = ["RadioMap", "RadioMapParams", "RadioMapResult"]

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]


@dataclass(frozen=True, slots=True)
class RadioMapParams:
    """Tuning of the radio map.

    Attributes:
        cell_m: Grid spacing of candidate cells.
        radius_m: Candidate cells lie within this distance of the strongest gateway heard.
        sensitivity_dbm: Receiver sensitivity (a gateway predicted far above it should hear).
        silent_sigma_db: Spread of the non-detection term.
        power_prior_sd_db: Standard deviation of the tag's transmit power about the site
            default (a tag that advertises nothing: models differ by several dB).
        advertised_power_sd_db: The same about a measured power the tag advertises (iBeacon
            ``txpower``, ESPresense ``rssi@1m``): firmware sets it per model, so what is left
            is the unit-to-unit tolerance (about 1.5 dB) and the rounding to whole dB.
        huber_k: Huber threshold in sigmas.
        temper: Exponent applied to the likelihood (< 1: correlated shadowing).
        tag_height_m: Height of a tag above the floor.
        refine_nats: Coarse-to-fine threshold: a fine cell is scored when a coarse neighbour
            in its room scored within this many (tempered) log-likelihood units of the best
            coarse cell. ``None`` scores every candidate cell.
        path_loss_exponent: Exponent :math:`n_g` of gateways without their own calibration;
            ``None`` uses the engine's (multilateration's "walls folded in") exponent. The walls
            are modelled explicitly here (a multi-wall model, COST 231), so near free space (2)
            is the physically consistent value and the default: on the simulated hospital it
            gives better parked room accuracy and fewer room changes than 2.6 in both gateway
            layouts, and lets the self-calibration learn receiver offsets rather than the
            model's distance error (docs/accuracy.md).
    """

    cell_m: float = 1.0
    radius_m: float = 20.0
    sensitivity_dbm: float = -95.0
    silent_sigma_db: float = 6.0
    power_prior_sd_db: float = 5.0
    advertised_power_sd_db: float = 2.0
    huber_k: float = 2.0
    temper: float = 0.5
    tag_height_m: float = 1.0
    refine_nats: float | None = 12.0
    path_loss_exponent: float | None = 2.0


@dataclass(frozen=True, slots=True)
class RadioMapResult:
    """Per-tag output of :meth:`RadioMap.locate` (rows as given)."""

    xy: FloatArray
    accuracy_m: FloatArray
    room_prob: FloatArray  # (M, max rooms on a level), local room slots of the tag's level
    n_cells: IntArray
    cell: IntArray  # (M,) the most likely cell (index into RadioMap.cell_x; -1: none)


class RadioMap:
    """Predicted path loss from every gateway to every in-room cell of every level.

    Args:
        index: Spatial index of the site (rooms, walls).
        gateway_xyz: (G, 3) gateway x, y and height above its floor.
        gateway_level: (G,) level index of each gateway.
        path_loss_exponent: (G,) exponent per gateway.
        room_slot: (R,) local slot of each room on its level (see RoomFilter).
        params: Tuning.
    """

    def __init__(self, index: SiteIndex, gateway_xyz: FloatArray, gateway_level: IntArray,
                 path_loss_exponent: FloatArray, room_slot: IntArray,
                 params: RadioMapParams | None = None) -> None:
        self.params = p = params or RadioMapParams()
        self.index = index
        n_levels = len(index.level_ids)
        cells_x: list[FloatArray] = []
        cells_y: list[FloatArray] = []
        cells_slot: list[IntArray] = []
        cells_room: list[IntArray] = []
        cells_parent: list[IntArray] = []
        gw_local = np.full(gateway_level.shape[0], -1, dtype=np.int64)
        level_cells = np.zeros(n_levels + 1, dtype=np.int64)
        level_gws: list[IntArray] = []
        loss_blocks: list[npt.NDArray[np.float64]] = []
        loss_ptr = np.zeros(n_levels + 1, dtype=np.int64)
        level_ng = np.zeros(n_levels, dtype=np.int64)
        for lv in range(n_levels):
            x, y, room, ix, iy = self._cells(lv)
            cells_parent.append(_coarse_parents(ix, iy, room))
            gws = np.flatnonzero(gateway_level == lv).astype(np.int64)
            gw_local[gws] = np.arange(gws.size)
            level_gws.append(gws)
            level_ng[lv] = gws.size
            cells_x.append(x)
            cells_y.append(y)
            cells_slot.append(room_slot[room])
            cells_room.append(room)
            level_cells[lv + 1] = level_cells[lv] + x.size
            loss = np.zeros((x.size, gws.size))
            for j, g in enumerate(gws):
                gx, gy, gz = gateway_xyz[g]
                d = np.sqrt((x - gx) ** 2 + (y - gy) ** 2 + (gz - p.tag_height_m) ** 2)
                walls = index.wall_loss_db(lv, x, y, np.full(x.size, gx), np.full(x.size, gy))
                loss[:, j] = 10.0 * path_loss_exponent[g] * np.log10(np.maximum(d, 0.3)) + walls
            loss_blocks.append(loss.ravel())
            loss_ptr[lv + 1] = loss_ptr[lv] + loss.size
        self.cell_x = np.concatenate(cells_x) if cells_x else np.zeros(0)
        self.cell_y = np.concatenate(cells_y) if cells_y else np.zeros(0)
        self.cell_slot = np.concatenate(cells_slot).astype(np.int64) if cells_slot else np.zeros(
            0, np.int64)
        self.cell_room = (np.concatenate(cells_room).astype(np.int64) if cells_room
                          else np.zeros(0, np.int64))
        #: (C, 4) level-local indexes of each fine cell's coarse neighbours in its room (-1:
        #: none); a coarse cell has none.
        self.cell_parent = (np.concatenate(cells_parent).astype(np.int64) if cells_parent
                            else np.zeros((0, 4), np.int64))
        self.level_cells = level_cells
        self.loss = np.concatenate(loss_blocks) if loss_blocks else np.zeros(0)
        self.loss_ptr = loss_ptr
        self.level_ng = level_ng
        self.gw_local = gw_local
        self.gw_level = gateway_level.astype(np.int64)
        self.gw_xy = np.ascontiguousarray(gateway_xyz[:, :2])
        self._lp_f, self._lp_d = _log_phi_table()

    def loss_at(self, cell: IntArray, gateway: IntArray) -> FloatArray:
        """Predicted loss (dB) from cells to gateways (receive offsets not included).

        Args:
            cell: (K,) cell indices (into :attr:`cell_x`).
            gateway: (K,) gateway indices.

        Returns:
            (K,) losses; NaN where the gateway is not on the cell's level or the cell is -1.
        """
        cell = np.asarray(cell, dtype=np.int64)
        gateway = np.asarray(gateway, dtype=np.int64)
        out = np.full(cell.shape, np.nan)
        ok = cell >= 0
        lv = np.searchsorted(self.level_cells, np.where(ok, cell, 0), side="right") - 1
        ok &= self.gw_level[gateway] == lv
        lv, c, g = lv[ok], cell[ok], gateway[ok]
        out[ok] = self.loss[self.loss_ptr[lv] + (c - self.level_cells[lv]) * self.level_ng[lv]
                            + self.gw_local[g]]
        return out

    def _cells(self, lv: int) -> tuple[FloatArray, FloatArray, IntArray, IntArray, IntArray]:
        """Cell centres inside the rooms of a level, plus one point per room too small, with
        their room and grid column and row (-1 for the extra points)."""
        step = self.params.cell_m
        site = self.index.site
        lid = self.index.level_ids[lv]
        rooms = [i for i, r in enumerate(site.rooms) if r.level == lid]
        if not rooms:
            z = np.zeros(0, np.int64)
            return np.zeros(0), np.zeros(0), z, z, z
        x0, y0, x1, y1 = site.levels[lv].outline.bounds
        ax, ay = np.arange(x0 + step / 2, x1, step), np.arange(y0 + step / 2, y1, step)
        mx, my = np.meshgrid(ax, ay)
        mi, mj = np.meshgrid(np.arange(ax.size), np.arange(ay.size))
        gx, gy = mx.ravel(), my.ravel()
        room = self.index.room_at(gx, gy, lv)
        keep = room >= 0
        xs, ys, rs = [gx[keep]], [gy[keep]], [room[keep].astype(np.int64)]
        ixs, iys = [mi.ravel()[keep].astype(np.int64)], [mj.ravel()[keep].astype(np.int64)]
        present = set(np.unique(room[keep]).tolist())
        for i in rooms:
            if i not in present:
                pt = site.rooms[i].polygon.representative_point()
                xs.append(np.array([pt.x]))
                ys.append(np.array([pt.y]))
                rs.append(np.array([i], dtype=np.int64))
                ixs.append(np.array([-1], dtype=np.int64))
                iys.append(np.array([-1], dtype=np.int64))
        return (np.concatenate(xs), np.concatenate(ys), np.concatenate(rs), np.concatenate(ixs),
                np.concatenate(iys))

    def locate(self, level: IntArray, pair_ptr: IntArray, pair_gw: IntArray,
               pair_rssi: FloatArray, pair_sigma: FloatArray, power_prior: FloatArray,
               width: int, power_sd: FloatArray | None = None,
               gateway_offset: FloatArray | None = None) -> RadioMapResult:
        """Score the cells of each tag's level against its combined readings.

        Args:
            level: (M,) level index of each tag.
            pair_ptr: (M+1,) tag m's pairs are ``pair_ptr[m]:pair_ptr[m+1]``.
            pair_gw: gateway index of each pair (gateways on other levels are ignored).
            pair_rssi: combined RSSI of each pair (dBm).
            pair_sigma: its standard deviation (dB).
            power_prior: (M,) prior transmit power (RSSI at 1 m) of each tag.
            width: Room slots per level (columns of ``room_prob``).
            power_sd: (M,) standard deviation of each tag's power prior (dB); default
                :attr:`RadioMapParams.power_prior_sd_db` for every tag.
            gateway_offset: (G,) receive offset of each gateway in dB (a hot receiver reads
                high): a calibrated ``rssi_1m`` minus the site default, plus what
                :class:`positioning.autocal.SelfCalibration` learned; subtracted from what it
                heard and from its sensitivity, so a hot or deaf receiver is not mistaken for a
                nearer or farther tag. Default none.

        Returns:
            Position, accuracy and room probabilities; NaN position where no cell qualified.
        """
        p = self.params
        m = level.shape[0]
        xy = np.full((m, 2), np.nan)
        acc = np.full(m, np.nan)
        room_prob = np.zeros((m, max(width, 1)))
        n_cells = np.zeros(m, dtype=np.int64)
        psd = (np.full(m, p.power_prior_sd_db) if power_sd is None
               else np.ascontiguousarray(power_sd, np.float64))
        if psd.shape != (m,) or not (psd > 0).all():
            raise ValueError(f"power_sd: expected {m} positive values, got shape {psd.shape}")
        g_n = self.gw_level.shape[0]
        off = (np.zeros(g_n) if gateway_offset is None
               else np.ascontiguousarray(gateway_offset, np.float64))
        if off.shape != (g_n,) or not np.isfinite(off).all():
            raise ValueError(f"gateway_offset: expected {g_n} finite values, got shape "
                             f"{off.shape}")
        cell = np.full(m, -1, dtype=np.int64)
        _locate_kernel(
            np.ascontiguousarray(level, np.int64), np.ascontiguousarray(pair_ptr, np.int64),
            np.ascontiguousarray(pair_gw, np.int64), np.ascontiguousarray(pair_rssi, np.float64),
            np.ascontiguousarray(pair_sigma, np.float64),
            np.ascontiguousarray(power_prior, np.float64), off, self.gw_level, self.gw_local,
            self.gw_xy, self.level_cells, self.level_ng, self.loss_ptr, self.loss, self.cell_x,
            self.cell_y, self.cell_slot, self.cell_parent,
            np.inf if p.refine_nats is None else float(p.refine_nats), p.radius_m,
            p.sensitivity_dbm, p.silent_sigma_db,
            psd, p.huber_k, p.temper, self._lp_f, self._lp_d, xy, acc, room_prob, n_cells, cell)
        return RadioMapResult(xy, acc, room_prob, n_cells, cell)


def _coarse_parents(ix: IntArray, iy: IntArray, room: IntArray) -> IntArray:
    """Each cell's coarse neighbours in its own room (level-local indexes, -1 padded).

    Coarse cells are those on even grid columns and rows, plus any cell with no such cell of
    its room within one step (narrow rooms, extra points); they have no parents. Every other
    cell has one, two or four parents: the even-even cells at most one step away.
    """
    n = ix.shape[0]
    out = np.full((n, 4), -1, dtype=np.int64)
    where = {(int(a), int(b)): k for k, (a, b) in enumerate(zip(ix, iy, strict=True)) if a >= 0}
    for k in range(n):
        a, b = int(ix[k]), int(iy[k])
        if a < 0 or (a % 2 == 0 and b % 2 == 0):
            continue
        found = 0
        for pa in ((a,) if a % 2 == 0 else (a - 1, a + 1)):
            for pb in ((b,) if b % 2 == 0 else (b - 1, b + 1)):
                j = where.get((pa, pb))
                if j is not None and room[j] == room[k]:
                    out[k, found] = j
                    found += 1
    return out


#: Knots of the tabulated log normal CDF (:func:`_log_phi_table`): z from ``_LP_Z0`` to
#: ``_LP_Z1`` in steps of ``1 / _LP_PER_UNIT``.
_LP_Z0 = -30.0
_LP_Z1 = 8.5
_LP_PER_UNIT = 64


@njit(cache=True, nogil=True)
def _log_phi(z: float) -> float:
    # log of the standard normal CDF: exact above -30, the asymptotic series below (relative
    # error ~15/z^6 < 2e-8 there, so the two branches meet to 1e-8)
    if z >= _LP_Z0:
        return math.log(0.5 * math.erfc(-z / math.sqrt(2.0)))
    q = 1.0 / (z * z)
    return -0.5 * z * z - math.log(-z) - 0.9189385332046727 + math.log(1.0 - q + 3.0 * q * q)


@functools.cache
def _log_phi_table() -> tuple[FloatArray, FloatArray]:
    """log Phi and its derivative phi / Phi at the knots, for cubic Hermite interpolation.

    The silent-gateway term is most of the radio map's cost with ``math.erfc``; the
    interpolant is within 3e-11 of it over z in [-35, 9] (``tests/test_radiomap.py`` checks
    1e-10).
    """
    z = np.linspace(_LP_Z0, _LP_Z1, round((_LP_Z1 - _LP_Z0) * _LP_PER_UNIT) + 1)
    exact = getattr(_log_phi, "py_func", _log_phi)  # the plain function under NUMBA_DISABLE_JIT
    f = np.array([exact(float(v)) for v in z])
    d = np.exp(-0.5 * z * z - 0.9189385332046727 - f)
    return f, d


@njit(cache=True, nogil=True)
def _log_phi_fast(z: float, lp_f: FloatArray, lp_d: FloatArray) -> float:
    # cubic Hermite interpolation of the table from _log_phi_table (exact branch outside it)
    u = (z - _LP_Z0) * _LP_PER_UNIT
    i = int(u)
    if u < 0.0 or i >= lp_f.shape[0] - 1:
        return _log_phi(z) if z < _LP_Z1 else 0.0
    t = u - i
    h = 1.0 / _LP_PER_UNIT
    t2 = t * t
    t3 = t2 * t
    return float((2.0 * t3 - 3.0 * t2 + 1.0) * lp_f[i] + (t3 - 2.0 * t2 + t) * h * lp_d[i]
                 + (3.0 * t2 - 2.0 * t3) * lp_f[i + 1] + (t3 - t2) * h * lp_d[i + 1])


@njit(cache=True, nogil=True)
def _cell_score(loss, row, nh, h_r, h_w, h_is, h_j, ns, s_j, s_sens, w0, prior, inv_sw, inv_sil,  # type: ignore[no-untyped-def]
                huber_k, lp_f, lp_d):
    # untempered log-likelihood of one cell (loss row offset ``row``), the power profiled out
    swv = w0 * prior
    for a in range(nh):
        swv += h_w[a] * (h_r[a] + loss[row + h_j[a]])
    P = swv * inv_sw
    s = -0.5 * w0 * (P - prior) ** 2
    for a in range(nh):
        u = abs(h_r[a] - P + loss[row + h_j[a]]) * h_is[a]
        if u <= huber_k:
            s -= 0.5 * u * u
        else:
            s -= huber_k * (u - 0.5 * huber_k)
    for a in range(ns):
        z = (s_sens[a] - P + loss[row + s_j[a]]) * inv_sil
        if z < _LP_Z1:  # beyond, log Phi(z) rounds to zero in double precision
            s += _log_phi_fast(z, lp_f, lp_d)
    return s


@njit(cache=True, nogil=True, parallel=True)
def _locate_kernel(level, ptr, pgw, prssi, psig, prior, gw_off, gw_level, gw_local, gw_xy,  # type: ignore[no-untyped-def]
                   level_cells, level_ng, loss_ptr, loss, cx, cy, cslot, cpar, refine, radius,
                   sens, sil_sd, prior_sd, huber_k, temper, lp_f, lp_d, XY, ACC, ROOM, NC, CELL):
    m = level.shape[0]
    for t in prange(m):
        lv = level[t]
        c0 = level_cells[lv]
        c1 = level_cells[lv + 1]
        ng = level_ng[lv]
        if c1 == c0 or ng == 0:
            continue
        lo = ptr[t]
        hi = ptr[t + 1]
        # heard gateways on this level
        heard = np.full(ng, -1, dtype=np.int64)
        best = -1
        best_r = -1e300
        for k in range(lo, hi):
            g = pgw[k]
            if gw_level[g] != lv or prssi[k] != prssi[k]:
                continue
            heard[gw_local[g]] = k
            if prssi[k] > best_r:
                best_r = prssi[k]
                best = g
        if best < 0:
            continue
        bx = gw_xy[best, 0]
        by = gw_xy[best, 1]
        # The heard gateways of this level (rssi, 1/sigma, 1/sigma^2, local column) and the
        # silent ones within reach of the candidate area (their silence is evidence): only
        # these enter the per-cell loops.
        h_r = np.empty(ng)
        h_is = np.empty(ng)
        h_w = np.empty(ng)
        h_j = np.empty(ng, dtype=np.int64)
        s_j = np.empty(ng, dtype=np.int64)
        s_sens = np.empty(ng)
        nh = 0
        ns = 0
        for g in range(gw_level.shape[0]):
            if gw_level[g] == lv:
                j = gw_local[g]
                k = heard[j]
                if k >= 0:
                    h_r[nh] = prssi[k] - gw_off[g]
                    h_is[nh] = 1.0 / psig[k]
                    h_w[nh] = h_is[nh] * h_is[nh]
                    h_j[nh] = j
                    nh += 1
                else:
                    dx = gw_xy[g, 0] - bx
                    dy = gw_xy[g, 1] - by
                    if dx * dx + dy * dy < (2.0 * radius) ** 2:
                        s_j[ns] = j
                        s_sens[ns] = sens - gw_off[g]
                        ns += 1
        w0 = 1.0 / (prior_sd[t] * prior_sd[t])
        sw = w0
        for a in range(nh):
            sw += h_w[a]
        inv_sw = 1.0 / sw
        inv_sil = 1.0 / sil_sd
        n = c1 - c0
        ll = np.full(n, -np.inf)
        # coarse pass, then the fine cells beside a coarse cell that scored near the best
        top = -np.inf
        for c in range(n):
            if cpar[c0 + c, 0] < 0:
                dx = cx[c0 + c] - bx
                dy = cy[c0 + c] - by
                if dx * dx + dy * dy <= radius * radius:
                    ll[c] = temper * _cell_score(loss, loss_ptr[lv] + c * ng, nh, h_r, h_w,
                                                 h_is, h_j, ns, s_j, s_sens, w0, prior[t],
                                                 inv_sw, inv_sil, huber_k, lp_f, lp_d)
                    if ll[c] > top:
                        top = ll[c]
        for c in range(n):
            if cpar[c0 + c, 0] < 0:
                continue
            near = False
            for q in range(4):
                j = cpar[c0 + c, q]
                if j >= 0 and ll[j] >= top - refine:
                    near = True
            dx = cx[c0 + c] - bx
            dy = cy[c0 + c] - by
            if near and dx * dx + dy * dy <= radius * radius:
                ll[c] = temper * _cell_score(loss, loss_ptr[lv] + c * ng, nh, h_r, h_w, h_is,
                                             h_j, ns, s_j, s_sens, w0, prior[t], inv_sw,
                                             inv_sil, huber_k, lp_f, lp_d)
        mx = -np.inf
        arg = -1
        for c in range(n):
            if ll[c] > mx:
                mx = ll[c]
                arg = c
        if mx == -np.inf:
            continue
        CELL[t] = c0 + arg
        tot = 0.0
        sx = 0.0
        sy = 0.0
        cnt = 0
        for c in range(n):
            if ll[c] == -np.inf:
                continue
            w = math.exp(ll[c] - mx)
            ll[c] = w
            tot += w
            sx += w * cx[c0 + c]
            sy += w * cy[c0 + c]
            cnt += 1
        mxp = sx / tot
        myp = sy / tot
        vxx = 0.0
        vyy = 0.0
        vxy = 0.0
        for c in range(n):
            w = ll[c]
            if w == -np.inf or w == 0.0:
                continue
            w /= tot
            dx = cx[c0 + c] - mxp
            dy = cy[c0 + c] - myp
            vxx += w * dx * dx
            vyy += w * dy * dy
            vxy += w * dx * dy
            ROOM[t, cslot[c0 + c]] += w
        tr = 0.5 * (vxx + vyy)
        det = vxx * vyy - vxy * vxy
        lam = tr + math.sqrt(max(tr * tr - det, 0.0))
        XY[t, 0] = mxp
        XY[t, 1] = myp
        ACC[t] = 2.4477 * math.sqrt(max(lam, 0.0)) + 0.5
        NC[t] = cnt
