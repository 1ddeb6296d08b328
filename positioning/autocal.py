"""Self-calibration at run time: gateway receive offsets and tag transmit powers.

The radio map (:mod:`positioning.radiomap`) predicts that gateway *g* hears a tag *t* in cell *c*
at :math:`r = P_t - L_{cg} + o_g`, with the tag's power at 1 m :math:`P_t` and the gateway's
receive offset :math:`o_g` (antenna, enclosure, mounting) both unknown. Oracle decoders on the
simulator (``scripts/room_bound.py``) show that knowing them is worth several points of room
accuracy for parked assets, and neither is something a hospital can survey for 15,000 tags and
hundreds of gateways. This module learns both from the engine's own confident fixes, the way
ESPresense-companion and commercial systems "auto-calibrate", but without reference beacons:

* **Which fixes teach.** A tag teaches in a tick when it is parked, its room filter is at least
  ``min_confidence`` sure of the room, and its most likely radio-map cell lies in that room.
  For each gateway *g* that heard it, :math:`e_{tg} = r_{tg} + L_{cg}` is the power the tag
  would need at 1 m to explain the reading from that cell.
* **The tag's power in this stay** is the weighted mean :math:`\\hat P_t = \\sum_g w_g
  (e_{tg} - o_g) / \\sum_g w_g` (weights: inverse variance of the combined RSSI).
* **Gateway offsets.** Every taught pair gives a sample :math:`e_{tg} - \\hat P_t` of
  :math:`o_g`. They are pooled over all tags with exponential forgetting (``memory_s``) and
  shrunk towards 0 by ``gateway_prior_weight`` pseudo-samples, so a gateway heard by few tags
  keeps a small offset. Only differences between gateways are identifiable (a common shift
  moves into the tags' powers); the shrinkage pins the common level at the site default.
* **Samples are weighted by time, not counted per tick.** A parked tag's shadowing does not
  change during a stay, so ``decorrelation_s`` seconds of confident fixes make one sample:
  a 30-minute stay is worth a few samples, not 1,800.
* **Tag powers are learned across stays.** A stay's :math:`\\hat P_t` is committed when the tag
  next moves (and only if the stay taught for at least ``min_stay_s``); the radio map's power
  prior of the tag then combines the advertised (or site default) power with the committed
  stays, each worth ``stay_sd_db``, at most ``max_stays`` of them (older stays fade). A stay
  never feeds its own prior: that would only make the engine surer of the cell it chose first.

The state is plain arrays (per gateway; per tag row, grown on demand) and can be saved and
loaded as JSON-ready dicts (:meth:`SelfCalibration.state`, :meth:`SelfCalibration.load`).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

__all__ = ["AutoCalParams", "SelfCalibration"]

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]


@dataclass(frozen=True, slots=True)
class AutoCalParams:
    """Tuning of :class:`SelfCalibration`.

    Attributes:
        enabled: Learn and apply the calibration.
        min_confidence: Room confidence a parked fix needs to teach.
        decorrelation_s: Seconds of one tag's confident fixes that make one sample.
        memory_s: Time constant of the gateway offsets' exponential forgetting.
        gateway_prior_weight: Pseudo-samples at offset 0 (shrinkage of the offsets).
        max_offset_db: Offsets are clipped to ± this.
        min_stay_s: Confident seconds a stay needs before its power estimate is committed.
        stay_sd_db: Standard deviation of one stay's power estimate (shadowing averaged over
            the gateways that heard it, plus the cell's error).
        max_stays: At most this many committed stays count (older ones fade).
    """

    enabled: bool = True
    min_confidence: float = 0.9
    decorrelation_s: float = 600.0
    memory_s: float = 7 * 86400.0
    gateway_prior_weight: float = 3.0
    max_offset_db: float = 10.0
    min_stay_s: float = 120.0
    stay_sd_db: float = 2.5
    max_stays: float = 8.0


class SelfCalibration:
    """Learned gateway offsets and tag powers (see the module docstring).

    Args:
        n_gateways: Gateways of the site (indices as the engine's).
        params: Tuning.
    """

    def __init__(self, n_gateways: int, params: AutoCalParams | None = None) -> None:
        if n_gateways < 0:
            raise ValueError(f"n_gateways must be >= 0, got {n_gateways}")
        self.params = params or AutoCalParams()
        self._g_sum = np.zeros(n_gateways)
        self._g_w = np.zeros(n_gateways)
        self._stay_sum = np.zeros(0)
        self._stay_w = np.zeros(0)
        self._power = np.zeros(0)
        self._stays = np.zeros(0)

    # ------------------------------------------------------------------ read
    @property
    def gateway_offset(self) -> FloatArray:
        """(G,) learned receive offset of each gateway, dB (0 where nothing was learned)."""
        p = self.params
        off = self._g_sum / (self._g_w + p.gateway_prior_weight)
        return np.asarray(np.clip(off, -p.max_offset_db, p.max_offset_db), dtype=np.float64)

    @property
    def gateway_samples(self) -> FloatArray:
        """(G,) effective samples behind each gateway's offset."""
        return self._g_w.copy()

    def tag_prior(self, rows: IntArray, prior_dbm: FloatArray, prior_sd_db: FloatArray
                  ) -> tuple[FloatArray, FloatArray]:
        """Combine each tag's prior power with its committed stays.

        Args:
            rows: (M,) tag rows (the engine's tag indices).
            prior_dbm: (M,) prior power at 1 m (advertised or site default).
            prior_sd_db: (M,) its standard deviation.

        Returns:
            ``(mean, sd)`` of the combined prior, both (M,).
        """
        rows = np.asarray(rows, dtype=np.int64)
        n = np.zeros(rows.shape)
        mean = np.zeros(rows.shape)
        known = rows < self._stays.shape[0]
        n[known] = self._stays[rows[known]]
        mean[known] = self._power[rows[known]]
        w0 = 1.0 / np.square(prior_sd_db)
        w1 = n / self.params.stay_sd_db ** 2
        prec = w0 + w1
        mu = (w0 * prior_dbm + w1 * mean) / prec
        return np.asarray(mu, dtype=np.float64), np.asarray(1.0 / np.sqrt(prec), np.float64)

    def tag_power(self, row: int) -> tuple[float, float]:
        """``(committed mean power, committed stays)`` of one tag row (NaN, 0 if none)."""
        if row < self._stays.shape[0] and self._stays[row] > 0:
            return float(self._power[row]), float(self._stays[row])
        return math.nan, 0.0

    # ------------------------------------------------------------------ learn
    def _grow(self, n: int) -> None:
        k = self._stays.shape[0]
        if n <= k:
            return
        size = max(n, 2 * k, 16)
        for name in ("_stay_sum", "_stay_w", "_power", "_stays"):
            old = getattr(self, name)
            new = np.zeros(size)
            new[:k] = old
            setattr(self, name, new)

    def observe(self, dt: float, tag_row: IntArray, gateway: IntArray, power_seen: FloatArray,
                weight: FloatArray, *, span: FloatArray | None = None) -> None:
        """Learn from one tick's taught pairs.

        Args:
            dt: Seconds since the previous tick.
            tag_row: (K,) tag row of each pair.
            gateway: (K,) gateway index of each pair.
            power_seen: (K,) :math:`e_{tg} = r_{tg} + L_{cg}`: combined RSSI plus the predicted
                loss from the tag's most likely cell to the gateway (dBm at 1 m).
            weight: (K,) inverse variance of each pair's combined RSSI.
            span: (K,) seconds of parked time each pair stands for (its tag's time since its
                previous fix); ``dt`` for every pair by default.
        """
        p = self.params
        tag_row = np.asarray(tag_row, dtype=np.int64)
        gateway = np.asarray(gateway, dtype=np.int64)
        e = np.asarray(power_seen, dtype=np.float64)
        w = np.asarray(weight, dtype=np.float64)
        sp = np.full(w.shape, dt) if span is None else np.asarray(span, dtype=np.float64)
        if not tag_row.shape == gateway.shape == e.shape == w.shape == sp.shape:
            raise ValueError("tag_row, gateway, power_seen, weight and span must have one shape, "
                             f"got {tag_row.shape}, {gateway.shape}, {e.shape}, {w.shape}, "
                             f"{sp.shape}")
        if dt > 0 and p.memory_s > 0:
            fade = math.exp(-dt / p.memory_s)
            self._g_sum *= fade
            self._g_w *= fade
        ok = np.isfinite(e) & np.isfinite(w) & (w > 0) & (gateway >= 0) & (
            gateway < self._g_w.shape[0]) & (sp > 0)
        if dt <= 0 or not ok.any():
            return
        tag_row, gateway, e, w, sp = tag_row[ok], gateway[ok], e[ok], w[ok], sp[ok]
        off = self.gateway_offset
        tags, k = np.unique(tag_row, return_inverse=True)
        p_hat = (np.bincount(k, weights=w * (e - off[gateway]), minlength=tags.size)
                 / np.bincount(k, weights=w, minlength=tags.size))
        # each tag's pairs share its span
        wt = np.bincount(k, weights=sp, minlength=tags.size) / np.bincount(
            k, minlength=tags.size) / p.decorrelation_s
        self._grow(int(tags.max()) + 1)
        self._stay_sum[tags] += wt * p_hat
        self._stay_w[tags] += wt
        np.add.at(self._g_sum, gateway, wt[k] * (e - p_hat[k]))
        np.add.at(self._g_w, gateway, wt[k])

    def end_stays(self, rows: IntArray) -> None:
        """The tags ``rows`` are moving: commit the power of stays that taught long enough and
        start afresh."""
        rows = np.asarray(rows, dtype=np.int64)
        rows = rows[rows < self._stays.shape[0]]
        if rows.size == 0:
            return
        p = self.params
        enough = self._stay_w[rows] >= p.min_stay_s / p.decorrelation_s
        r = rows[enough]
        stay = self._stay_sum[r] / self._stay_w[r]
        n = self._stays[r]
        self._power[r] = (self._power[r] * n + stay) / (n + 1.0)
        self._stays[r] = np.minimum(n + 1.0, p.max_stays)
        self._stay_sum[rows] = 0.0
        self._stay_w[rows] = 0.0

    # ------------------------------------------------------------------ persistence
    def state(self, gateway_ids: Sequence[str], tag_ids: Sequence[str]) -> dict[str, Any]:
        """The learned calibration as a JSON-ready dict keyed by gateway and tag ids.

        Args:
            gateway_ids: Id of each gateway index.
            tag_ids: Id of each tag row.
        """
        gws = {gateway_ids[g]: {"sum": float(self._g_sum[g]), "weight": float(self._g_w[g])}
               for g in np.flatnonzero(self._g_w > 0).tolist()}
        n = min(len(tag_ids), self._stays.shape[0])
        tags = {tag_ids[r]: {"power_dbm": float(self._power[r]), "stays": float(self._stays[r])}
                for r in np.flatnonzero(self._stays[:n] > 0).tolist()}
        return {"version": 1, "gateways": gws, "tags": tags}

    def load(self, state: Mapping[str, Any], gateway_index: Mapping[str, int],
             tag_row: Mapping[str, int]) -> int:
        """Restore what :meth:`state` saved; unknown gateways and tags are skipped.

        Args:
            state: A dict from :meth:`state`.
            gateway_index: Gateway id to index.
            tag_row: Tag id to row (tags absent here are skipped).

        Returns:
            The number of gateways and tags restored.

        Raises:
            ValueError: ``state`` is not a version 1 calibration, or a value is not a number.
        """
        if state.get("version") != 1:
            raise ValueError(f"calibration state: unsupported version {state.get('version')!r}")
        gws = [(g, _num(v, "sum", gid), _num(v, "weight", gid))
               for gid, v in dict(state.get("gateways", {})).items()
               if (g := gateway_index.get(gid)) is not None]
        tags = [(r, _num(v, "power_dbm", tid), _num(v, "stays", tid))
                for tid, v in dict(state.get("tags", {})).items()
                if (r := tag_row.get(tid)) is not None]
        # every value checked before any is applied: a bad file changes nothing
        for g, total, weight in gws:
            self._g_sum[g], self._g_w[g] = total, weight
        for r, power, stays in tags:
            self._grow(r + 1)
            self._power[r] = power
            self._stays[r] = min(stays, self.params.max_stays)
        return len(gws) + len(tags)


def _num(v: Any, key: str, where: str) -> float:
    try:
        x = float(v[key])
    except (KeyError, TypeError, ValueError) as exc:
        raise ValueError(f"calibration state: {where}: {key!r} missing or not a number") from exc
    if not math.isfinite(x):
        raise ValueError(f"calibration state: {where}: {key!r} is not finite")
    return x
