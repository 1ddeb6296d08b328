"""The streaming positioning engine: canonical readings in, fixes out, one tick at a time.

The same code runs offline (``sporing locate``) and in the live service. Every tick ``t``:

1. **Window.** Readings with ``t - window_s < ts <= t`` are grouped by tag–gateway pair and
   combined robustly (:func:`positioning.pathloss.combine_rssi`): a trimmed mean of dBm for
   BLE, a median of ranges for UWB. Readings newer than ``t`` wait for the next tick, so the
   engine is causal.
2. **Level.** :class:`positioning.levels.LevelFilter` picks the tag's level with hysteresis.
3. **Radio map.** BLE tags are located on :class:`positioning.radiomap.RadioMap`: the plan's
   walls predict every gateway's RSSI over the in-room cells of the level, and the cells (and,
   summed, the rooms) are scored by how well they explain the readings, silent gateways
   included. It gives a fix, its accuracy and the room likelihoods.
4. **Multilateration.** Tags the radio map does not place (UWB tags, BLE tags with no
   candidate cell, or every tag with ``radio_map=False``) are solved by
   :func:`positioning.multilaterate`: each pair becomes a range and sigma (log-distance model
   with per-gateway calibration, site defaults otherwise, an advertised ``tx_power`` standing
   in for an uncalibrated ``rssi_1m``; UWB ranges bias-corrected), strongest
   ``max_gateways`` of the level first, bounded by the level's outline.
5. **Track.** :class:`positioning.kalman.TagFilterBank` smooths each tag with a constant-velocity
   Kalman filter, a speed gate and a parked mode; the result is kept inside the level.
6. **Room.** :class:`positioning.rooms.RoomFilter` gives the room and its confidence, from the
   radio map's room likelihoods or, for multilaterated tags, from the fix's uncertainty disc.

Steps 3–6 run for the tags :class:`positioning.cadence.LocateCadence` says are due: every tick
for a tag that moves, has changed level or strongest gateway, or is new; every
``cadence.parked_every_s`` for a parked one, whose latest fix is repeated in between. Every tag
heard in the window gets a fix every tick, except a due tag that could not be located (no
gateway of its level heard it usably): it has none that tick.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import numpy.typing as npt

from floorplans.model import Gateway, Site
from floorplans.spatial import SiteIndex
from gateway.canonical import Reading, ReadingBatch
from positioning.autocal import AutoCalParams, SelfCalibration
from positioning.cadence import CadenceParams, HeldFixes, LocateCadence
from positioning.kalman import MotionModel, TagFilterBank
from positioning.levels import LevelFilter, LevelParams, level_scores
from positioning.multilat import multilaterate
from positioning.pathloss import combine_rssi, combined_sigma_db, rssi_to_range, uwb_range_model
from positioning.radiomap import RadioMap, RadioMapParams
from positioning.rooms import RoomFilter, RoomParams

__all__ = ["EngineConfig", "EngineStats", "FixFrame", "StreamingEngine"]


@dataclass(frozen=True, slots=True)
class _Pairs:
    """Window readings combined per tag–gateway pair (one entry per pair)."""

    tag: npt.NDArray[np.int64]
    gateway: npt.NDArray[np.int64]
    rssi: npt.NDArray[np.float64]
    range_m: npt.NDArray[np.float64]
    tx_power: npt.NDArray[np.float64]
    count: npt.NDArray[np.int64]


def _combine_pairs(tag: npt.NDArray[np.int64], gw: npt.NDArray[np.int64],
                   rssi: npt.NDArray[np.float64], rng: npt.NDArray[np.float64],
                   txp: npt.NDArray[np.float64], n_gateways: int) -> _Pairs:
    keys = tag * n_gateways + gw
    order = np.argsort(keys, kind="stable")
    keys = keys[order]
    ble = combine_rssi(keys, rssi[order])
    uwb = combine_rssi(keys, rng[order], outlier_min_db=0.3)
    starts = ble.start
    tx = np.fmax.reduceat(txp[order], starts) if starts.size else np.zeros(0)
    return _Pairs(tag=ble.key // n_gateways, gateway=ble.key % n_gateways, rssi=ble.rssi_dbm,
                  range_m=uwb.rssi_dbm, tx_power=tx,
                  count=np.maximum(ble.count, uwb.count).astype(np.int64))


@dataclass(frozen=True, slots=True)
class EngineConfig:
    """Settings of the streaming engine (site defaults; gateways may override path loss).

    Attributes:
        tick_s: Seconds between fixes of an active tag.
        window_s: Readings older than this (relative to the tick) are not used.
        max_gateways: At most this many gateways (the strongest on the level) per fix.
        tag_height_m: Assumed tag height above the floor.
        rssi_1m_dbm: Default RSSI at 1 m for uncalibrated gateways and silent tags.
        path_loss_exponent: Default log-distance exponent (walls folded in).
        shadowing_sigma_db: Static shadowing of a link (dB), which averaging cannot remove.
        fading_sigma_db: Reading-to-reading fading (dB), which averaging reduces.
        uwb_bias_m: Subtracted from UWB ranges (two-way ranging reads long).
        uwb_sigma_m: UWB range standard deviation.
        radio_map: Locate BLE tags on the plan-aware radio map (multilateration otherwise).
        radio_map_params: Radio map tuning.
        levels: Level filter tuning.
        rooms: Room filter tuning.
        tracks: Tracker tuning.
        autocal: Run-time self-calibration of gateway offsets and tag powers (radio map only).
        cadence: How often a parked tag is located (its latest fix is repeated in between).
    """

    tick_s: float = 1.0
    window_s: float = 5.0
    max_gateways: int = 8
    tag_height_m: float = 1.0
    rssi_1m_dbm: float = -59.0
    path_loss_exponent: float = 2.6
    shadowing_sigma_db: float = 4.5
    fading_sigma_db: float = 5.0
    uwb_bias_m: float = 0.15
    uwb_sigma_m: float = 0.08
    radio_map: bool = True
    radio_map_params: RadioMapParams = field(default_factory=RadioMapParams)
    levels: LevelParams = field(default_factory=LevelParams)
    rooms: RoomParams = field(default_factory=RoomParams)
    tracks: MotionModel = field(default_factory=MotionModel)
    autocal: AutoCalParams = field(default_factory=AutoCalParams)
    cadence: CadenceParams = field(default_factory=CadenceParams)


@dataclass(slots=True)
class EngineStats:
    """Counters the service exposes as metrics."""

    readings: int = 0
    unknown_gateway: int = 0
    late: int = 0
    ticks: int = 0
    fixes: int = 0
    located: int = 0
    """Fixes computed (the rest repeat a parked tag's latest fix)."""


@dataclass(frozen=True, slots=True)
class FixFrame:
    """The fixes of one tick, as columns (one entry per active tag)."""

    ts: float
    tag: tuple[str, ...]
    x: npt.NDArray[np.float64]
    y: npt.NDArray[np.float64]
    level: tuple[str | None, ...]
    building: tuple[str | None, ...]
    room: tuple[str | None, ...]
    room_confidence: npt.NDArray[np.float64]
    accuracy_m: npt.NDArray[np.float64]
    moving: npt.NDArray[np.bool_]
    n_gateways: npt.NDArray[np.int64]
    gateway: tuple[str | None, ...] = ()
    """The gateway that heard each tag strongest in the window (empty: not recorded)."""

    def __len__(self) -> int:
        return len(self.tag)

    def to_dicts(self) -> list[dict[str, Any]]:
        """One JSON-ready dict per fix: ``{ts, tag, x, y, level, room, room_confidence, ...}``."""
        return [
            {
                "ts": round(float(self.ts), 3), "tag": self.tag[i], "x": round(float(self.x[i]), 3),
                "y": round(float(self.y[i]), 3), "level": self.level[i], "room": self.room[i],
                "room_confidence": round(float(self.room_confidence[i]), 4),
                "accuracy_m": round(float(self.accuracy_m[i]), 3),
                "building": self.building[i], "moving": bool(self.moving[i]),
                "n_gateways": int(self.n_gateways[i]),
                "gateway": self.gateway[i] if self.gateway else None,
            }
            for i in range(len(self))
        ]


def _exponents(gateways: Sequence[Gateway], default: float) -> npt.NDArray[np.float64]:
    """Path-loss exponent of each gateway: its calibrated one, ``default`` otherwise."""
    return np.array([default if g.path_loss_exponent is None else g.path_loss_exponent
                     for g in gateways], dtype=np.float64)


class _Tracks:
    """A growable :class:`TagFilterBank` that restarts a tag's track when its level changes."""

    def __init__(self, model: MotionModel) -> None:
        self.bank = TagFilterBank(0, model)
        self.level = np.zeros(0, dtype=np.int64)

    def _grow(self, n: int) -> None:
        old = self.bank
        if n <= old.n_tags:
            return
        new = TagFilterBank(max(n, 2 * old.n_tags), old.model)
        k = old.n_tags
        new.x[:k], new.P[:k], new.t[:k] = old.x, old.P, old.t
        new.mode[:k], new.counters[:k], new.still_since[:k] = (old.mode, old.counters,
                                                                old.still_since)
        self.bank = new
        level = np.full(new.n_tags, -1, dtype=np.int64)
        level[:k] = self.level
        self.level = level

    def unsure(self, rows: npt.NDArray[np.int64]) -> npt.NDArray[np.bool_]:
        """Tags with unresolved motion evidence or rejected fixes."""
        out = np.zeros(rows.shape[0], dtype=np.bool_)
        have = rows < self.bank.n_tags
        out[have] = self.bank.counters[rows[have]].any(axis=1)
        return out

    def update(self, rows: npt.NDArray[np.int64], t: float, x: npt.NDArray[np.float64],
               y: npt.NDArray[np.float64], acc: npt.NDArray[np.float64],
               level: npt.NDArray[np.int64]) -> tuple[npt.NDArray[np.float64],
                                                      npt.NDArray[np.float64],
                                                      npt.NDArray[np.float64],
                                                      npt.NDArray[np.bool_]]:
        if rows.size == 0:
            z = np.zeros(0)
            return z, z, z, np.zeros(0, np.bool_)
        self._grow(int(rows.max()) + 1)
        moved = self.level[rows] != level
        self.bank.t[rows[moved]] = np.nan  # a new track starts at the next fix
        self.level[rows] = level
        out = self.bank.step(rows, np.full(rows.size, t), np.column_stack([x, y]),
                             np.maximum(acc, 0.2) / 2.4477)
        return out.xy[:, 0].copy(), out.xy[:, 1].copy(), out.accuracy_m, out.moving


class StreamingEngine:
    """Causal, tick-driven positioning of many tags against one site.

    Args:
        site: The floor plan (gateways, levels, rooms, walls).
        config: Engine settings.
        index: A prebuilt spatial index of ``site`` (built when omitted).
    """

    def __init__(self, site: Site, config: EngineConfig | None = None,
                 index: SiteIndex | None = None) -> None:
        self.site = site
        self.config = cfg = config or EngineConfig()
        self.index = index or SiteIndex(site)
        self.stats = EngineStats()
        gws = site.gateways
        self._gw_pos = {g.id: i for i, g in enumerate(gws)}
        self._gw_ids = tuple(g.id for g in gws)
        self._gw_level = np.array([self.index.level_index(g.level) for g in gws], dtype=np.int64)
        self._gw_xyz = np.array([[g.x, g.y, g.height_m] for g in gws], dtype=np.float64
                                ).reshape(-1, 3)
        self._gw_rssi_1m = np.array([np.nan if g.rssi_1m is None else g.rssi_1m for g in gws])
        self._gw_n = _exponents(gws, cfg.path_loss_exponent)
        # receive offset of each calibrated gateway against the site default (0: uncalibrated)
        self._gw_offset = np.nan_to_num(self._gw_rssi_1m - cfg.rssi_1m_dbm)
        outline_bounds = [lv.outline.bounds for lv in site.levels]
        self._level_box = np.array(outline_bounds, dtype=np.float64).reshape(-1, 4)
        self._level_building = tuple(lv.building for lv in site.levels)
        self._levels = LevelFilter(len(site.levels), cfg.levels)
        self._rooms = RoomFilter(self.index, cfg.rooms)
        self._radio: RadioMap | None = None
        if cfg.radio_map and site.rooms and gws:
            n_default = cfg.radio_map_params.path_loss_exponent
            radio_n = _exponents(gws, cfg.path_loss_exponent if n_default is None else n_default)
            self._radio = RadioMap(self.index, self._gw_xyz, self._gw_level, radio_n,
                                   self._rooms.local_slots(),
                                   replace(cfg.radio_map_params, tag_height_m=cfg.tag_height_m))
        self._cal: SelfCalibration | None = (
            SelfCalibration(len(gws), cfg.autocal)
            if self._radio is not None and cfg.autocal.enabled else None)
        self._tracks = _Tracks(cfg.tracks)
        self._cadence = LocateCadence(cfg.cadence, cfg.tick_s)
        self._tag_row: dict[str, int] = {}
        self._tag_ids: list[str] = []
        self._last_tick = -np.inf
        self._cal_elapsed = 0.0  # seconds since the self-calibration last learned
        self._buf: list[tuple[npt.NDArray[Any], ...]] = []

    # ------------------------------------------------------------------ input
    def _rows_of(self, tags: Iterable[str]) -> npt.NDArray[np.int64]:
        rows = []
        for t in tags:
            r = self._tag_row.get(t)
            if r is None:
                r = self._tag_row[t] = len(self._tag_ids)
                self._tag_ids.append(t)
            rows.append(r)
        return np.asarray(rows, dtype=np.int64)

    def add_batch(self, batch: ReadingBatch) -> None:
        """Queue a batch of readings; unknown gateways are counted and dropped."""
        n = len(batch)
        if n == 0:
            return
        self.stats.readings += n
        gw_map = np.array([self._gw_pos.get(g, -1) for g in batch.gateway_ids], dtype=np.int64)
        gw = gw_map[batch.gateway] if gw_map.size else np.full(n, -1, np.int64)
        known = gw >= 0
        self.stats.unknown_gateway += int(n - known.sum())
        late = batch.ts <= self._last_tick - self.config.window_s
        self.stats.late += int((late & known).sum())
        keep = known & ~late
        if not keep.any():
            return
        # only the tags with kept readings get a row (a batch's vocabulary may name tags whose
        # readings were all dropped upstream, e.g. heard only by an unknown gateway)
        tk = batch.tag[keep]
        present = np.flatnonzero(np.bincount(tk, minlength=len(batch.tag_ids)))
        lut = np.zeros(len(batch.tag_ids), dtype=np.int64)
        lut[present] = self._rows_of([batch.tag_ids[k] for k in present.tolist()])
        tag_rows = lut[tk]
        self._buf.append((batch.ts[keep], tag_rows, gw[keep], batch.rssi[keep],
                          batch.range_m[keep], batch.tx_power[keep]))

    def add(self, readings: Iterable[Reading]) -> None:
        """Queue canonical readings (see :meth:`add_batch`)."""
        self.add_batch(ReadingBatch.from_readings(list(readings)))

    # ------------------------------------------------------------------ tick
    def _window(self, t: float) -> tuple[npt.NDArray[Any], ...] | None:
        if not self._buf:
            return None
        cols = tuple(np.concatenate(c) for c in zip(*self._buf, strict=True))
        ts = cols[0]
        keep = ts > t - self.config.window_s
        self._buf = [tuple(c[keep] for c in cols)] if keep.any() else []
        use = keep & (ts <= t)
        if not use.any():
            return None
        return tuple(c[use] for c in cols)

    def tick(self, t: float) -> FixFrame:
        """Compute the fixes at time ``t`` from the readings queued so far (up to ``t``)."""
        cfg = self.config
        dt = cfg.tick_s if not np.isfinite(self._last_tick) else max(t - self._last_tick, 0.0)
        self._last_tick = t
        # the self-calibration forgets with time, not with the ticks that happen to teach it
        self._cal_elapsed += dt
        self.stats.ticks += 1
        win = self._window(t)
        if win is None:
            return self._empty(t)
        _ts, tag, gw, rssi, rng, txp = win
        pairs = _combine_pairs(tag, gw, rssi, rng, txp, max(len(self.site.gateways), 1))
        rows, inv = np.unique(pairs.tag, return_inverse=True)
        m = rows.size
        n_levels = len(self.site.levels)
        plevel = self._gw_level[pairs.gateway]
        # UWB pairs vote for their level like a strong BLE reading at that distance would.
        strength = np.where(np.isnan(pairs.rssi),
                            -40.0 - 20.0 * np.log10(np.maximum(pairs.range_m, 0.1)), pairs.rssi)
        scores = level_scores(inv, plevel, strength, m, n_levels,
                              top=cfg.levels.top, floor_dbm=cfg.levels.floor_dbm)
        heard = np.zeros((m, n_levels), dtype=np.bool_)
        heard[inv, plevel] = True
        level, _level_p = self._levels.update(rows, scores, heard)
        # the strongest pair of each tag (UWB ranges ranked as their level vote above)
        order = np.lexsort((-strength, inv))
        first = order[np.searchsorted(inv[order], np.arange(m))]
        strongest, top = pairs.gateway[first], strength[first]
        due = self._cadence.due(rows, t, level, strongest, top, self._tracks.unsure(rows))
        d = np.flatnonzero(due)
        fixed, fix = self._locate(t, rows[d], level[d], inv, pairs, due, plevel, strength)
        fixed = d[fixed]
        self._cadence.remember(rows[fixed], t, strongest[fixed], top[fixed], fix)
        # this tick's fixes (just remembered) and the held ones of parked tags between fixes
        got = ~due
        got[fixed] = True
        which = np.flatnonzero(got)
        f = self._cadence.recall(rows[which])
        self.stats.fixes += int(which.size)
        self.stats.located += int(fixed.size)
        room_ids = self.index.room_ids
        return FixFrame(
            ts=t,
            tag=tuple(self._tag_ids[r] for r in rows[which]),
            x=f.x, y=f.y,
            level=tuple(self.index.level_ids[v] for v in f.level),
            building=tuple(self._level_building[v] for v in f.level),
            room=tuple(room_ids[v] if v >= 0 else None for v in f.room),
            room_confidence=f.room_confidence, accuracy_m=f.accuracy_m, moving=f.moving,
            n_gateways=f.n_gateways,
            gateway=tuple(self._gw_ids[g] for g in strongest[which]),
        )

    def _locate(self, t: float, rows: npt.NDArray[np.int64],
                level: npt.NDArray[np.int64], inv_all: npt.NDArray[np.int64], pairs_all: _Pairs,
                due: npt.NDArray[np.bool_], plevel_all: npt.NDArray[np.int64],
                strength_all: npt.NDArray[np.float64]
                ) -> tuple[npt.NDArray[np.int64], HeldFixes]:
        """Locate, track and place in a room the due tags ``rows`` (this tick's tags where
        ``due``); returns the indexes into ``rows`` that got a fix, and their fixes."""
        pm = due[inv_all]
        m = rows.size
        remap = np.full(due.shape[0], -1, dtype=np.int64)
        remap[np.flatnonzero(due)] = np.arange(m)
        inv = remap[inv_all[pm]]
        pairs = _Pairs(*(getattr(pairs_all, f)[pm] for f in _Pairs.__slots__))
        strength = strength_all[pm]
        on_level = plevel_all[pm] == level[inv]
        # Seconds since each tag's previous fix: the room filter's time step. The evidence a
        # fix carries (room filter, self-calibration) stands for those ticks, but for no more
        # than its window holds: a tag back after an hour unheard brings one window of readings.
        elapsed = self._cadence.since(rows, t)
        span = np.minimum(elapsed, self.config.window_s)
        xy = np.full((m, 2), np.nan)
        acc = np.full(m, np.nan)
        n_used = np.zeros(m, dtype=np.int64)
        emission = None
        radio_sel = radio_cell = None
        if self._radio is not None:
            xy, acc, emission, n_used, radio_sel, radio_cell = self._radio_fix(
                rows, level, inv, pairs, on_level)
        need = np.isnan(xy[:, 0])
        if need.any():
            xy[need], acc[need], n_used[need] = self._multilaterate(
                np.flatnonzero(need), level, inv, pairs, on_level, strength)
        ok = np.isfinite(xy[:, 0])
        fixed = np.flatnonzero(ok)
        all_rows = rows
        rows, level, xy, acc, n_used = rows[ok], level[ok], xy[ok], acc[ok], n_used[ok]
        tx, ty, tacc, moving = self._tracks.update(rows, t, xy[:, 0], xy[:, 1], acc, level)
        tx, ty = self._inside(level, tx, ty)
        room, conf = self._rooms.update(rows, level, tx, ty, tacc, moving, elapsed[ok],
                                        None if emission is None else emission[ok],
                                        evidence=span[ok] / self.config.tick_s)
        if self._cal is not None and radio_sel is not None and radio_cell is not None:
            self._learn(span, all_rows, ok, inv, pairs, radio_sel, radio_cell, room, conf,
                        moving)
        return fixed, HeldFixes(level, tx, ty, tacc, room, conf, moving, n_used)

    def _ranges(self, gw: npt.NDArray[np.int64], rssi: npt.NDArray[np.float64],
                rng: npt.NDArray[np.float64], txp: npt.NDArray[np.float64],
                count: npt.NDArray[np.int64]) -> tuple[npt.NDArray[np.float64],
                                                         npt.NDArray[np.float64]]:
        cfg = self.config
        r1 = self._gw_rssi_1m[gw]
        r1 = np.where(np.isnan(r1), np.where(np.isnan(txp), cfg.rssi_1m_dbm, txp), r1)
        ble_r, ble_s = rssi_to_range(np.where(np.isnan(rssi), r1, rssi), r1, self._gw_n[gw],
                                     self._sigma_db(count))
        uwb = ~np.isnan(rng)
        uwb_r, uwb_s = uwb_range_model(rng, bias_m=cfg.uwb_bias_m, sigma_m=cfg.uwb_sigma_m)
        out_r = np.where(uwb, uwb_r, ble_r)
        out_s = np.where(uwb, uwb_s, ble_s)
        out_r = np.where(uwb | ~np.isnan(rssi), out_r, np.nan)
        return out_r, out_s

    def _multilaterate(self, rows: npt.NDArray[np.int64], level: npt.NDArray[np.int64],
                       inv: npt.NDArray[np.int64], pairs: _Pairs,
                       on_level: npt.NDArray[np.bool_], strength: npt.NDArray[np.float64]
                       ) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64],
                                  npt.NDArray[np.int64]]:
        """Fixes of the tag rows ``rows`` (indexes into this tick's tags) by multilateration
        over their level's gateways, strongest ``max_gateways`` first."""
        cfg = self.config
        m = rows.size
        local = np.full(level.shape[0], -1, dtype=np.int64)
        local[rows] = np.arange(m)
        sel = np.flatnonzero(on_level & (local[inv] >= 0))
        rng_m, sig_m = self._ranges(pairs.gateway[sel], pairs.rssi[sel], pairs.range_m[sel],
                                    pairs.tx_power[sel], pairs.count[sel])
        finite = np.isfinite(rng_m)
        sel, rng_m, sig_m = sel[finite], rng_m[finite], sig_m[finite]
        ti = local[inv[sel]]
        order = np.lexsort((-strength[sel], ti))
        sel, rng_m, sig_m, ti = sel[order], rng_m[order], sig_m[order], ti[order]
        k = cfg.max_gateways
        rank = np.arange(sel.size) - np.searchsorted(ti, np.arange(m))[ti]
        keep = rank < k
        sel, rng_m, sig_m, ti, slot = sel[keep], rng_m[keep], sig_m[keep], ti[keep], rank[keep]
        anchors = np.full((m, k, 3), np.nan)
        ranges = np.full((m, k), np.nan)
        sigmas = np.ones((m, k))
        anchors[ti, slot] = self._gw_xyz[pairs.gateway[sel]]
        ranges[ti, slot] = rng_m
        sigmas[ti, slot] = sig_m
        fixes = multilaterate(anchors, ranges, sigmas, z=cfg.tag_height_m,
                              bounds=self._level_box[level[rows]])
        return fixes.xy, fixes.accuracy_m, fixes.n_used.astype(np.int64)

    def _radio_fix(self, rows: npt.NDArray[np.int64], level: npt.NDArray[np.int64],
                   inv: npt.NDArray[np.int64], pairs: _Pairs, on_level: npt.NDArray[np.bool_]
                   ) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64],
                              npt.NDArray[np.float64], npt.NDArray[np.int64],
                              npt.NDArray[np.int64], npt.NDArray[np.int64]]:
        """Radio-map fixes of the BLE tags (NaN for UWB tags and tags it cannot place), with
        the pairs it used and each tag's most likely cell (for self-calibration)."""
        assert self._radio is not None
        cfg = self.config
        m = level.shape[0]
        sel = np.flatnonzero(on_level & ~np.isnan(pairs.rssi))
        sel = sel[np.argsort(inv[sel], kind="stable")]
        ptr = np.searchsorted(inv[sel], np.arange(m + 1)).astype(np.int64)
        prior = np.full(m, cfg.rssi_1m_dbm)
        prior_sd = np.full(m, cfg.radio_map_params.power_prior_sd_db)
        txp = pairs.tx_power[sel]
        has = ~np.isnan(txp)
        prior[inv[sel][has]] = txp[has]
        prior_sd[inv[sel][has]] = cfg.radio_map_params.advertised_power_sd_db
        offset = self._gw_offset
        if self._cal is not None:
            prior, prior_sd = self._cal.tag_prior(rows, prior, prior_sd)
            offset = offset + self._cal.gateway_offset
        res = self._radio.locate(level, ptr, pairs.gateway[sel], pairs.rssi[sel],
                                 self._sigma_db(pairs.count[sel]), prior, self._rooms.width,
                                 prior_sd, offset)
        uwb = np.zeros(m, dtype=np.bool_)
        uwb[inv[~np.isnan(pairs.range_m)]] = True
        use = np.isfinite(res.xy[:, 0]) & ~uwb
        xy = np.where(use[:, None], res.xy, np.nan)
        acc = np.where(use, res.accuracy_m, np.nan)
        n_used = np.where(use, np.diff(ptr), 0).astype(np.int64)
        emission = np.where(use[:, None], res.room_prob, 0.0)
        return xy, acc, emission, n_used, sel, np.where(use, res.cell, -1)

    def _learn(self, span: npt.NDArray[np.float64], rows: npt.NDArray[np.int64],
               ok: npt.NDArray[np.bool_],
               inv: npt.NDArray[np.int64], pairs: _Pairs, sel: npt.NDArray[np.int64],
               cell: npt.NDArray[np.int64], room: npt.NDArray[np.int64],
               conf: npt.NDArray[np.float64], moving: npt.NDArray[np.bool_]) -> None:
        """Feed the self-calibration: parked tags sure of their room teach (see
        :mod:`positioning.autocal`); moving tags end their stay."""
        assert self._cal is not None and self._radio is not None
        fixed = np.flatnonzero(ok)  # tick rows of the fixes, in fix order
        self._cal.end_stays(rows[fixed[moving]])
        c = cell[fixed]
        teach = (~moving & (conf >= self._cal.params.min_confidence) & (c >= 0)
                 & (self._radio.cell_room[np.maximum(c, 0)] == room))
        taught = np.zeros(rows.shape[0], dtype=np.bool_)
        taught[fixed[teach]] = True
        p = sel[taught[inv[sel]]]
        if p.size == 0:
            return
        gw = pairs.gateway[p]
        # what is left after the plan's calibration is what the self-calibration learns
        seen = pairs.rssi[p] - self._gw_offset[gw] + self._radio.loss_at(cell[inv[p]], gw)
        w = 1.0 / np.square(self._sigma_db(pairs.count[p]))
        self._cal.observe(self._cal_elapsed, rows[inv[p]], gw, seen, w, span=span[inv[p]])
        self._cal_elapsed = 0.0

    @property
    def calibration(self) -> SelfCalibration | None:
        """The run-time self-calibration (None when disabled or without a radio map)."""
        return self._cal

    def calibration_state(self) -> dict[str, Any] | None:
        """The learned calibration as a JSON-ready dict (None when there is none)."""
        if self._cal is None:
            return None
        return self._cal.state(self._gw_ids, self._tag_ids)

    def load_calibration(self, state: dict[str, Any]) -> int:
        """Restore a :meth:`calibration_state`; returns the gateways and tags restored.

        Raises:
            ValueError: The state is malformed (no value is applied then; its tags are
                registered as known tags all the same).
        """
        if self._cal is None:
            return 0
        self._rows_of(dict(state.get("tags", {})))
        return self._cal.load(state, self._gw_pos, self._tag_row)

    def _sigma_db(self, count: npt.NDArray[np.int64]) -> npt.NDArray[np.float64]:
        cfg = self.config
        return np.nan_to_num(combined_sigma_db(np.maximum(count, 1), cfg.shadowing_sigma_db,
                                               cfg.fading_sigma_db), nan=cfg.shadowing_sigma_db)

    def _inside(self, level: npt.NDArray[np.int64], x: npt.NDArray[np.float64],
                y: npt.NDArray[np.float64]) -> tuple[npt.NDArray[np.float64],
                                                     npt.NDArray[np.float64]]:
        x, y = x.copy(), y.copy()
        for lv in np.unique(level):
            mask = level == lv
            x[mask], y[mask] = self.index.nearest_point_inside(int(lv), x[mask], y[mask])
        return x, y

    def _empty(self, t: float) -> FixFrame:
        z = np.zeros(0)
        return FixFrame(t, (), z, z, (), (), (), z, z, np.zeros(0, np.bool_),
                        np.zeros(0, np.int64))

    # ------------------------------------------------------------------ offline driver
    def run(self, readings: Iterable[Reading], *, batch_size: int = 20000) -> Iterator[FixFrame]:
        """Feed time-ordered readings and yield the fixes of every tick (causal).

        Ticks fall on multiples of ``tick_s``; a tick is computed once the stream has passed
        it, using only readings stamped at or before it.
        """
        step = self.config.tick_s
        pending: list[Reading] = []
        next_tick: float | None = None
        for r in readings:
            if next_tick is None:
                next_tick = float((np.floor(r.ts / step) + 1.0) * step)
            if r.ts > next_tick:
                if pending:
                    self.add(pending)
                    pending = []
                while r.ts > next_tick:
                    frame = self.tick(next_tick)
                    if len(frame):
                        yield frame
                    next_tick += step
            pending.append(r)
            if len(pending) >= batch_size:
                self.add(pending)
                pending = []
        if pending:
            self.add(pending)
        if next_tick is not None:
            frame = self.tick(next_tick)
            if len(frame):
                yield frame
