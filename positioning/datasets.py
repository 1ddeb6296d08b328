"""Loaders for the public datasets used in tests and accuracy scripts (read-only, no pandas).

The datasets live outside the repository, in ``../shared/datasets`` (override with the
``SPORING_SHARED_DIR`` environment variable, which points at the ``shared`` directory):

* Kolakowski BLE flat (CC BY 4.0; M. Kolakowski, *Sensors* 21:6270, 2021): six receiving
  anchors, a robot-carried tag at 1.3 m with LiDAR-SLAM ground truth.
* LIAS UWB planar (MIT; H. Jiang et al., ICRA 2023): 8 anchors, 3 tags on a trolley, 42
  static recordings with surveyed poses.
* UJI BLE RSS (CC BY 4.0; Mendoza-Silva et al., *Data* 4(1):12, 2019): beacons transmit, a
  phone receives, at surveyed points.
"""

from __future__ import annotations

import csv
import gzip
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt

__all__ = [
    "KOLAKOWSKI_TAG_Z_M",
    "Kolakowski",
    "LiasStatic",
    "Uji",
    "datasets_dir",
    "load_kolakowski",
    "load_lias_static",
    "load_uji",
]

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]

KOLAKOWSKI_TAG_Z_M = 1.3
"""Height of the robot-carried tag in the Kolakowski dataset (upstream description)."""


def datasets_dir() -> Path:
    """``$SPORING_SHARED_DIR/datasets``, default ``<repo>/../shared/datasets``."""
    env = os.environ.get("SPORING_SHARED_DIR")
    base = Path(env) if env else Path(__file__).resolve().parents[2] / "shared"
    return base / "datasets"


def _root(root: Path | str | None, name: str) -> Path:
    p = Path(root) if root is not None else datasets_dir() / name
    if not p.is_dir():
        raise FileNotFoundError(f"dataset directory not found: {p}")
    return p


def _read_csv(path: Path) -> tuple[list[str], list[list[str]]]:
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rt", newline="") as fh:
        rows = list(csv.reader(fh))
    return rows[0], rows[1:]


@dataclass(frozen=True, slots=True)
class Kolakowski:
    """Kolakowski calibration set (robot path, time-ordered).

    Attributes:
        anchors: (6, 3) gateway positions (m); column k of ``rssi`` belongs to row k.
        ts: (T,) timestamps in seconds.
        xy: (T, 2) tag ground truth (m).
        rssi: (T, 6) RSSI in dBm, NaN = not received.
        layout: (V, 2) wall polyline of the flat.
    """

    anchors: FloatArray
    ts: FloatArray
    xy: FloatArray
    rssi: FloatArray
    layout: FloatArray


def load_kolakowski(root: Path | str | None = None) -> Kolakowski:
    """Load ``kolakowski-ble-flat/upstream`` (calibration set, sorted by time)."""
    up = _root(root, "kolakowski-ble-flat") / "upstream"
    hdr, rows = _read_csv(up / "anchors.csv")
    anchors = np.array([[float(v) for v in r[1:4]] for r in sorted(rows, key=lambda r: int(r[0]))])
    hdr, rows = _read_csv(up / "calibration" / "calibration_df.csv")
    col = {h: i for i, h in enumerate(hdr)}
    data = np.array([[float(v) if v != "" else np.nan for v in r] for r in rows])
    order = np.argsort(data[:, col["ts"]], kind="stable")
    data = data[order]
    rssi = data[:, [col[f"rssi_{k}"] for k in range(1, 7)]]
    _, lrows = _read_csv(up / "layout.csv")
    layout = np.array([[float(r[0]), float(r[1])] for r in lrows])
    return Kolakowski(
        anchors=anchors,
        ts=data[:, col["ts"]] * 1e-9,
        xy=data[:, [col["x"], col["y"]]],
        rssi=rssi,
        layout=layout,
    )


@dataclass(frozen=True, slots=True)
class LiasStatic:
    """One LIAS static recording.

    Attributes:
        session: "2022-08-14" or "2022-08-20".
        pos: surveyed position number.
        deg: nominal trolley yaw (degrees).
        anchors: (8, 3) anchor positions of the session (m).
        tag_xy: (3, 2) ground-truth position of each tag.
        ranges: (T, 8, 3) ranges in metres, [sample, anchor, tag]. Only complete rows (all 24
            ranges) are kept: in incomplete rows the missing values are not marked, the later
            columns shift left.
    """

    session: str
    pos: int
    deg: int
    anchors: FloatArray
    tag_xy: FloatArray
    ranges: FloatArray


def load_lias_static(
    root: Path | str | None = None, *, max_rows: int | None = None
) -> list[LiasStatic]:
    """Load the 42 LIAS static recordings, ordered by session, position and yaw.

    Args:
        root: dataset directory (default :func:`datasets_dir` / ``lias-uwb-planar``).
        max_rows: read at most this many lines per file (quick tests).
    """
    base = _root(root, "lias-uwb-planar")
    _, rows = _read_csv(base / "anchors.csv")
    anchors: dict[str, FloatArray] = {}
    for sess in sorted({r[0] for r in rows}):
        sel = sorted((r for r in rows if r[0] == sess), key=lambda r: int(r[1]))
        anchors[sess] = np.array([[float(v) for v in r[2:5]] for r in sel])
    _, rows = _read_csv(base / "static_tag_ground_truth.csv")
    files: dict[tuple[str, int, int, str], dict[int, tuple[float, float]]] = {}
    for r in rows:
        key = (r[0], int(r[1]), int(r[2]), r[3])
        files.setdefault(key, {})[int(r[4])] = (float(r[5]), float(r[6]))
    out: list[LiasStatic] = []
    for (sess, pos, deg, fname), tags in sorted(files.items()):
        vals: list[list[str]] = []
        with gzip.open(base / fname, "rt") as fh:
            for line in fh:
                vals.append(line.rstrip("\n").split(",")[1:])
                if max_rows is not None and len(vals) >= max_rows:
                    break
        full = [[float(v) for v in r[:24]] for r in vals if sum(1 for v in r if v != "") == 24
                and all(v != "" for v in r[:24])]
        ranges = np.array(full, dtype=np.float64).reshape(-1, 8, 3)
        tag_xy = np.array([tags[k] for k in sorted(tags)])
        out.append(LiasStatic(sess, pos, deg, anchors[sess], tag_xy, ranges))
    return out


@dataclass(frozen=True, slots=True)
class Uji:
    """UJI BLE RSS zone (beacons transmit, phone receives).

    Attributes:
        beacons: (B, 2) beacon positions (m).
        rss: (F, B) RSS in dBm, NaN = not detected (the file's sentinel 100).
        xy: (F, 2) ground truth of each fingerprint.
        tx_code: (F,) TX power code (1 = −4, 2 = −12, 3 = −20 dBm).
        phone: (F,) phone code.
        point: (F,) surveyed point id.
    """

    beacons: FloatArray
    rss: FloatArray
    xy: FloatArray
    tx_code: IntArray
    phone: IntArray
    point: IntArray


def load_uji(zone: str = "geo", root: Path | str | None = None) -> Uji:
    """Load a UJI zone: ``"geo"`` (Geotec) or ``"lib"`` (library)."""
    if zone not in ("geo", "lib"):
        raise ValueError(f"zone: expected 'geo' or 'lib', got {zone!r}")
    d = _root(root, "uji-ble-rss") / "upstream" / "data"
    _, rows = _read_csv(d / "dep" / f"{zone}.csv")
    beacons = np.array([[float(r[1]), float(r[2])] for r in rows])
    rss = np.loadtxt(d / "rss" / f"{zone}_rss.csv", delimiter=",", ndmin=2)
    rss[rss == 100] = np.nan
    xy = np.loadtxt(d / "rss" / f"{zone}_crd.csv", delimiter=",", ndmin=2)
    ids = np.loadtxt(d / "rss" / f"{zone}_ids.csv", dtype=np.int64, ndmin=1)
    return Uji(
        beacons=beacons,
        rss=rss,
        xy=xy,
        tx_code=(ids // 1_000_000) % 10,
        phone=ids // 10_000_000,
        point=(ids // 100) % 1000,
    )
