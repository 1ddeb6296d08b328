"""Which tags to locate this tick: every tick while a tag moves, less often while it is parked.

Most hospital equipment is parked most of the time, and locating a tag is the engine's main
cost (the radio map scores hundreds of cells per tag). With a reading window of ``window_s``
and a tick every second, successive windows of a parked tag share most of their readings, so
locating it every tick adds little evidence. :class:`LocateCadence` therefore re-locates a
parked tag every ``parked_every_s`` seconds (staggered over the tags, so the work is spread
evenly over the ticks) and repeats its latest fix in between, and locates a tag at once when:

* it has no fix yet, or its level changed;
* the tracker sees it moving, or has evidence of motion or rejected fixes it has not yet
  resolved (:attr:`positioning.kalman.TagFilterBank.counters`);
* the gateway that hears it strongest changed, or that strongest RSSI moved by more than
  ``rssi_change_db`` since its last fix (a tag being pushed away changes both within seconds).

The repeated fix is the same position, room, confidence and accuracy: the tag has not been
seen to move. The next fix weighs its room evidence as the ticks it stands for (the engine
caps them at its reading window)
(:meth:`positioning.rooms.RoomFilter.update`, ``evidence``) and teaches the self-calibration
as much (:meth:`positioning.autocal.SelfCalibration.observe`, ``span``).

One window's evidence counted for several ticks is noisier than several overlapping windows,
so a long cadence makes parked tags change room more often. On the simulated hospital
(``docs/accuracy.md``) 2 s keeps parked room accuracy and room changes close to locating
every tick, 3 s and 5 s do not; 2 s is the default.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

__all__ = ["CadenceParams", "HeldFixes", "LocateCadence"]

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]


@dataclass(frozen=True, slots=True)
class CadenceParams:
    """Tuning of :class:`LocateCadence`.

    Attributes:
        parked_every_s: A parked tag is located at least this often; at most the tick
            (``<= tick_s``: every tag every tick, as without a cadence).
        rssi_change_db: A change of the strongest RSSI by more than this locates the tag at
            once.
    """

    parked_every_s: float = 2.0
    rssi_change_db: float = 6.0


@dataclass(frozen=True, slots=True)
class HeldFixes:
    """The latest fix of some tags (columns, in the order asked)."""

    level: IntArray
    x: FloatArray
    y: FloatArray
    accuracy_m: FloatArray
    room: IntArray
    room_confidence: FloatArray
    moving: BoolArray
    n_gateways: IntArray


class LocateCadence:
    """Per-tag bookkeeping of the latest fix and when the tag is next due.

    Args:
        params: Tuning.
        tick_s: The engine's tick (for the stagger).
    """

    def __init__(self, params: CadenceParams, tick_s: float) -> None:
        self.params = params
        self._k = max(round(params.parked_every_s / tick_s), 1)
        self._tick = tick_s
        self._n = 0
        self._alloc(0)

    def _alloc(self, n: int) -> None:
        self._due_at = np.full(n, -np.inf)  # the next scheduled fix of a parked tag
        self._at = np.full(n, np.nan)  # time of the latest fix (NaN: none)
        self._gw = np.full(n, -1, dtype=np.int64)
        self._top = np.zeros(n)
        self._fix = HeldFixes(np.full(n, -1, np.int64), np.zeros(n), np.zeros(n), np.zeros(n),
                              np.full(n, -1, np.int64), np.zeros(n), np.zeros(n, np.bool_),
                              np.zeros(n, np.int64))

    def _grow(self, n: int) -> None:
        if n <= self._n:
            return
        old = (self._due_at, self._at, self._gw, self._top, self._fix)
        k = self._n
        self._alloc(max(n, 2 * k))
        self._due_at[:k], self._at[:k], self._gw[:k], self._top[:k] = old[:4]
        for name in HeldFixes.__slots__:
            getattr(self._fix, name)[:k] = getattr(old[4], name)
        self._n = self._due_at.shape[0]

    @property
    def enabled(self) -> bool:
        """Whether parked tags are located less often than every tick."""
        return self._k > 1

    def due(self, rows: IntArray, t: float, level: IntArray, gateway: IntArray,
            strength: FloatArray, unsure: BoolArray) -> BoolArray:
        """Which of the tags ``rows`` (heard this tick) to locate at time ``t``.

        Args:
            rows: (M,) tag rows.
            t: Tick time.
            level: (M,) level of each tag this tick.
            gateway: (M,) the gateway that hears it strongest.
            strength: (M,) that gateway's combined RSSI (dBm).
            unsure: (M,) the tracker has unresolved motion evidence or rejections.
        """
        self._grow(int(rows.max()) + 1 if rows.size else 0)
        if not self.enabled:
            return np.ones(rows.shape[0], dtype=np.bool_)
        f = self._fix
        due: BoolArray = (np.isnan(self._at[rows]) | (f.level[rows] != level) | f.moving[rows]
                          | unsure | (self._gw[rows] != gateway)
                          | (np.abs(self._top[rows] - strength) > self.params.rssi_change_db)
                          | (t >= self._due_at[rows] - 0.5 * self._tick))
        return due

    def since(self, rows: IntArray, t: float) -> FloatArray:
        """Seconds since each tag's latest fix (one tick for a tag without one)."""
        at = self._at[rows]
        return np.where(np.isnan(at), self._tick, np.maximum(t - at, 0.0))

    def remember(self, rows: IntArray, t: float, gateway: IntArray, strength: FloatArray,
                 fixes: HeldFixes) -> None:
        """Store the fixes computed at ``t`` and schedule the tags' next fix."""
        first = np.isnan(self._at[rows])
        # a new tag's first re-fix falls on its own slot of the stagger
        lead = np.where(first, (rows % self._k) * self._tick, 0.0)
        self._due_at[rows] = t + self.params.parked_every_s - lead
        self._at[rows] = t
        self._gw[rows] = gateway
        self._top[rows] = strength
        for name in HeldFixes.__slots__:
            getattr(self._fix, name)[rows] = getattr(fixes, name)

    def recall(self, rows: IntArray) -> HeldFixes:
        """The latest fix of each tag in ``rows`` (all must have one)."""
        return HeldFixes(*(getattr(self._fix, name)[rows] for name in HeldFixes.__slots__))
