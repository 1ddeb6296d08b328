"""Shared Numba settings for the positioning kernels.

Importing this module (every kernel module does, before importing :mod:`numba`) makes
``cache=True`` work from a read-only install: when ``NUMBA_CACHE_DIR`` is not set, it defaults
to ``$XDG_CACHE_HOME/sporing/numba`` (``~/.cache/sporing/numba``), so compiled kernels are
cached per user instead of beside the installed sources. Set ``NUMBA_CACHE_DIR`` yourself to
override it, or ``NUMBA_DISABLE_JIT=1`` to run the kernels as plain Python (coverage, debugging).

``FASTMATH`` lists the fast-math flags the kernels use. It deliberately leaves out ``nnan``
and ``ninf`` (which plain ``fastmath=True`` would imply): missing readings are NaN and the
kernels test for them.
"""

from __future__ import annotations

import os
from pathlib import Path

__all__ = ["CACHE_DIR", "FASTMATH"]


def _default_cache_dir() -> str:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return str(Path(base) / "sporing" / "numba")


if not os.environ.get("NUMBA_CACHE_DIR"):
    os.environ["NUMBA_CACHE_DIR"] = _default_cache_dir()

CACHE_DIR: str = os.environ["NUMBA_CACHE_DIR"]

import numba  # noqa: E402  (must follow the environment set-up above)

# numba may have been imported before us (its config is read once at import): keep it in step.
if not getattr(numba.config, "CACHE_DIR", ""):
    numba.config.CACHE_DIR = CACHE_DIR  # type: ignore[attr-defined]

FASTMATH: set[str] = {"nsz", "arcp", "contract", "afn", "reassoc"}
