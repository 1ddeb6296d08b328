"""Counter-based random numbers for the Numba kernels (SplitMix64).

The packet kernels need millions of random numbers per simulated second. Instead of
materialising them as NumPy arrays, each kernel derives them from ``(seed, counter)`` with the
SplitMix64 finaliser, so results are deterministic for a seed, independent of the order in
which work is done, and cheap. The NumPy functions here are the reference implementations the
tests compare the kernels against.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
from numba import njit

__all__ = ["mix64", "uniform", "uniform_np"]

_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_M1 = np.uint64(0xBF58476D1CE4E5B9)
_M2 = np.uint64(0x94D049BB133111EB)
_INV53 = 1.0 / 9007199254740992.0  # 2**-53


@njit(cache=True, nogil=True, inline="always")
def mix64(z: np.uint64) -> np.uint64:  # pragma: no cover - compiled
    """SplitMix64 finaliser of one 64-bit counter."""
    z = (z + _GOLDEN) & np.uint64(0xFFFFFFFFFFFFFFFF)
    z = (z ^ (z >> np.uint64(30))) * _M1
    z = (z ^ (z >> np.uint64(27))) * _M2
    return z ^ (z >> np.uint64(31))


@njit(cache=True, nogil=True, inline="always")
def uniform(seed: np.uint64, counter: np.uint64) -> float:  # pragma: no cover - compiled
    """A uniform double in [0, 1) for ``(seed, counter)``."""
    z = mix64(seed ^ mix64(counter))
    return float(z >> np.uint64(11)) * _INV53


def uniform_np(seed: int, counter: npt.ArrayLike) -> npt.NDArray[np.float64]:
    """NumPy reference of :func:`uniform` (vectorised over ``counter``)."""
    c = np.asarray(counter, dtype=np.uint64)
    with np.errstate(over="ignore"):
        inner = _mix64_np(c)
        z = _mix64_np(np.uint64(seed) ^ inner)
    return (z >> np.uint64(11)).astype(np.float64) * _INV53


def _mix64_np(z: npt.NDArray[np.uint64] | np.uint64) -> npt.NDArray[np.uint64]:
    z = np.asarray(z, dtype=np.uint64) + _GOLDEN
    z = (z ^ (z >> np.uint64(30))) * _M1
    z = (z ^ (z >> np.uint64(27))) * _M2
    out: npt.NDArray[np.uint64] = z ^ (z >> np.uint64(31))
    return out
