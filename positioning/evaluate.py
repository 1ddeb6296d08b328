"""Scoring fixes against ground truth (``sporing evaluate``).

For each truth line ``{"ts", "tag", "x", "y"[, "level"][, "room"]}`` the latest fix of that tag
at or before ``ts`` is scored: horizontal error in metres, whether the level matches, and
whether the room matches (the truth room is derived from the plan when the line has none).
Truth lines with no earlier fix count against ``coverage`` and are not scored otherwise; truth
lines without a position (an asset that left the building) are not counted at all.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import orjson

from floorplans.spatial import SiteIndex

__all__ = ["Score", "load_jsonl", "score_fixes"]


@dataclass(frozen=True, slots=True)
class Score:
    """The figures ``sporing evaluate`` prints (keys of its ``--json`` object)."""

    n: int
    mean_error_m: float
    median_error_m: float
    p75_error_m: float
    p95_error_m: float
    room_accuracy: float
    level_accuracy: float
    coverage: float

    def as_dict(self) -> dict[str, float | int]:
        """The score as a JSON-ready dict."""
        return asdict(self)


def load_jsonl(path: str | Path, required: tuple[str, ...]) -> list[dict[str, Any]]:
    """Read JSON lines, checking that every object has the ``required`` keys.

    Raises:
        ValueError: naming the file, line and missing key or JSON error.
    """
    out: list[dict[str, Any]] = []
    with Path(path).open("rb") as fh:
        for lineno, line in enumerate(fh, start=1):
            if not line.strip():
                continue
            try:
                obj = orjson.loads(line)
            except orjson.JSONDecodeError as exc:
                raise ValueError(f"{path}:{lineno}: not valid JSON ({exc})") from None
            if not isinstance(obj, dict):
                raise ValueError(f"{path}:{lineno}: expected a JSON object")
            for key in required:
                if key not in obj:
                    raise ValueError(f"{path}:{lineno}: missing field {key!r}")
            out.append(obj)
    return out


def _nan(v: float) -> float:
    return float(v) if np.isfinite(v) else float("nan")


def score_fixes(
    fixes: Iterable[Mapping[str, Any]],
    truth: Iterable[Mapping[str, Any]],
    index: SiteIndex | None = None,
) -> Score:
    """Score fixes against truth (see the module docstring).

    Args:
        fixes: Fix dicts with ``ts, tag, x, y`` and optionally ``level`` and ``room``.
        truth: Truth dicts with ``ts, tag, x, y`` and optionally ``level`` and ``room``.
        index: Spatial index used to derive the truth room when a truth line has none.

    Returns:
        The score. Accuracies are over the scored lines that carry (or allow deriving) the
        level or room; NaN when none do.
    """
    by_tag: dict[str, list[Mapping[str, Any]]] = {}
    for f in fixes:
        by_tag.setdefault(str(f["tag"]), []).append(f)
    times: dict[str, np.ndarray] = {}
    for tag, lst in by_tag.items():
        lst.sort(key=lambda f: float(f["ts"]))
        times[tag] = np.array([float(f["ts"]) for f in lst])
    errors: list[float] = []
    level_hits: list[bool] = []
    room_hits: list[bool] = []
    total = 0
    for t in truth:
        if t.get("x") is None or t.get("y") is None:
            continue  # the asset is out of the building (simulated "missing"): nothing to score
        total += 1
        tag = str(t["tag"])
        if tag not in times:
            continue
        i = int(np.searchsorted(times[tag], float(t["ts"]), side="right")) - 1
        if i < 0:
            continue
        f = by_tag[tag][i]
        errors.append(float(np.hypot(float(f["x"]) - float(t["x"]), float(f["y"]) - float(t["y"]))))
        t_level = t.get("level")
        if t_level is not None:
            level_hits.append(f.get("level") == t_level)
        t_room = t.get("room")
        if t_room is None and index is not None and t_level is not None:
            j = int(index.room_at(float(t["x"]), float(t["y"]), str(t_level)))
            t_room = index.room_ids[j] if j >= 0 else None
        if t_room is not None:
            room_hits.append(f.get("room") == t_room)
    e = np.asarray(errors)
    if e.size == 0:
        return Score(0, *(float("nan"),) * 6, coverage=0.0 if total else float("nan"))
    return Score(
        n=int(e.size),
        mean_error_m=float(e.mean()),
        median_error_m=float(np.median(e)),
        p75_error_m=float(np.percentile(e, 75)),
        p95_error_m=float(np.percentile(e, 95)),
        room_accuracy=_nan(float(np.mean(room_hits))) if room_hits else float("nan"),
        level_accuracy=_nan(float(np.mean(level_hits))) if level_hits else float("nan"),
        coverage=e.size / total,
    )
