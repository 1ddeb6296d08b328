"""The engine's learned self-calibration on disk, so a restart does not start from scratch.

:mod:`positioning.autocal` learns gateway receive offsets and tag powers over days; the service
saves them (JSON, written to a temporary file and renamed, so a crash mid-write leaves the old
file) every few minutes and at shutdown, and loads them at start. A missing file is a first
start; an unreadable one is logged with its path and ignored (the engine learns again), never a
reason not to start.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any

import orjson

from positioning.engine import StreamingEngine

__all__ = ["load_calibration", "save_calibration"]

log = logging.getLogger(__name__)


def save_calibration(path: Path, state: dict[str, Any] | None) -> bool:
    """Write ``state`` (from :meth:`StreamingEngine.calibration_state`) atomically.

    Args:
        path: Target file.
        state: The state; None (no calibration) writes nothing.

    Returns:
        Whether a file was written.
    """
    if state is None:
        return False
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_bytes(orjson.dumps(state))
    os.replace(tmp, path)
    return True


def load_calibration(path: Path, engine: StreamingEngine) -> int:
    """Load a saved calibration into ``engine``.

    Args:
        path: The file :func:`save_calibration` wrote.
        engine: The engine to restore into.

    Returns:
        The gateways and tags restored (0 when the file is missing or unusable; the reason is
        logged with the path).
    """
    if not path.exists():
        return 0
    try:
        state = orjson.loads(path.read_bytes())
        if not isinstance(state, dict):
            raise ValueError(f"expected a JSON object, got {type(state).__name__}")
        n = engine.load_calibration(state)
    except (OSError, ValueError) as exc:  # orjson.JSONDecodeError is a ValueError
        log.warning("calibration file %s not used: %s", path, exc)
        return 0
    log.info("restored the self-calibration of %d gateways and tags from %s", n, path)
    return n
