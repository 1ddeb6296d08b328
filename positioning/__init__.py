"""Positioning: RSSI/UWB ranges to fixes, levels, rooms and tracks (Numba kernels).

Numeric core: :func:`multilaterate` (robust multilateration), range models in
:mod:`positioning.pathloss`, calibration in :mod:`positioning.calibrate`, per-tag Kalman
filtering in :mod:`positioning.kalman`. Importing the package sets ``NUMBA_CACHE_DIR`` to
``~/.cache/sporing/numba`` when it is unset (see :mod:`positioning._numba`).
"""

from __future__ import annotations

from positioning._numba import CACHE_DIR
from positioning.calibrate import (
    PathLossFit,
    UwbRangeFit,
    fit_accuracy_scale,
    fit_path_loss,
    fit_path_loss_per_gateway,
    fit_uwb_range_model,
    gateway_pair_samples,
    reference_tag_samples,
)
from positioning.kalman import MotionModel, TagFilterBank, TrackOutput, cv_model, predict, update
from positioning.multilat import DEFAULT_LOSS_SCALE, DEFAULT_TAG_Z_M, Fixes, multilaterate
from positioning.pathloss import (
    CombinedRssi,
    PathLoss,
    combine_rssi,
    combined_sigma_db,
    rssi_at,
    rssi_to_range,
    uwb_range_model,
)

__all__ = [
    "CACHE_DIR",
    "DEFAULT_LOSS_SCALE",
    "DEFAULT_TAG_Z_M",
    "CombinedRssi",
    "Fixes",
    "MotionModel",
    "PathLoss",
    "PathLossFit",
    "TagFilterBank",
    "TrackOutput",
    "UwbRangeFit",
    "combine_rssi",
    "combined_sigma_db",
    "cv_model",
    "fit_accuracy_scale",
    "fit_path_loss",
    "fit_path_loss_per_gateway",
    "fit_uwb_range_model",
    "gateway_pair_samples",
    "multilaterate",
    "predict",
    "reference_tag_samples",
    "rssi_at",
    "rssi_to_range",
    "update",
    "uwb_range_model",
]
