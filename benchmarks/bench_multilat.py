"""Throughput of multilaterate (N = 100,000 rows × K = 8 gateways) vs SciPy per row.

Run: ``python -m pytest benchmarks/bench_multilat.py --benchmark-only``. The one-core figure
sets ``numba.set_num_threads(1)``; the all-cores figure uses every Numba thread. The baseline
a user would otherwise write, ``scipy.optimize.least_squares`` per row with the same soft-L1
loss, is timed in the same run on the first 500 rows and scaled; the ratio is printed and
stored in ``extra_info``. Compile time (cold, empty cache) and cached load time are measured
in fresh subprocesses.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from typing import Any

import numba
import numpy as np
import pytest
from scipy.optimize import least_squares

from positioning import multilaterate

N, K = 100_000, 8
SCIPY_ROWS = 500


@pytest.fixture(scope="module")
def problem() -> dict[str, Any]:
    rng = np.random.default_rng(20240601)
    A = np.zeros((N, K, 3))
    A[..., :2] = rng.uniform(0, 40, (N, K, 2))
    A[..., 2] = 3.0
    P = rng.uniform(0, 40, (N, 2))
    d = np.sqrt(((A[..., :2] - P[:, None]) ** 2).sum(-1) + 4.0)
    S = rng.uniform(0.5, 2.0, (N, K))
    R = d + rng.normal(0, 1.0, (N, K)) * S
    R[rng.random((N, K)) < 0.2] = np.nan
    multilaterate(A[:10], R[:10], S[:10])  # warm-up (compile or load from cache)
    return {"anchors": A, "ranges": R, "sigmas": S, "truth": P}


@pytest.fixture(scope="module")
def scipy_rate(problem: dict[str, Any]) -> float:
    """Rows per second of a per-row SciPy least_squares loop (soft-L1, same inputs)."""
    A, R, S = problem["anchors"], problem["ranges"], problem["sigmas"]
    t0 = time.perf_counter()
    for i in range(SCIPY_ROWS):
        use = ~np.isnan(R[i])
        a, r, s = A[i, use], R[i, use], S[i, use]

        def res(p: np.ndarray, a: np.ndarray = a, r: np.ndarray = r,
                s: np.ndarray = s) -> np.ndarray:
            return (np.sqrt(((a[:, :2] - p) ** 2).sum(1) + (1.0 - a[:, 2]) ** 2) - r) / s

        w = 1.0 / np.maximum(r, 0.5) ** 2
        least_squares(res, (w[:, None] * a[:, :2]).sum(0) / w.sum(), loss="soft_l1",
                      f_scale=2.0)
    return SCIPY_ROWS / (time.perf_counter() - t0)


def _run(problem: dict[str, Any]) -> Any:
    return multilaterate(problem["anchors"], problem["ranges"], problem["sigmas"])


def _record(benchmark: Any, problem: dict[str, Any], scipy_rate: float, label: str) -> None:
    rate = N / benchmark.stats.stats.min
    fx = _run(problem)
    err = np.hypot(*(fx.xy - problem["truth"]).T)
    benchmark.extra_info.update({
        "fixes_per_s": round(rate),
        "scipy_rows_per_s": round(scipy_rate, 1),
        "speedup_vs_scipy": round(rate / scipy_rate, 1),
        "median_error_m": round(float(np.nanmedian(err)), 3),
        "threads": numba.get_num_threads(),
    })
    print(f"\n{label}: {rate:,.0f} fixes/s; SciPy per row {scipy_rate:,.0f} rows/s; "
          f"ratio {rate / scipy_rate:,.0f}x")


def test_multilaterate_one_core(benchmark: Any, problem: dict[str, Any],
                                scipy_rate: float) -> None:
    before = numba.get_num_threads()
    numba.set_num_threads(1)
    try:
        benchmark.pedantic(_run, args=(problem,), rounds=5, iterations=1, warmup_rounds=1)
        _record(benchmark, problem, scipy_rate, "one core")
    finally:
        numba.set_num_threads(before)


def test_multilaterate_all_cores(benchmark: Any, problem: dict[str, Any],
                                 scipy_rate: float) -> None:
    benchmark.pedantic(_run, args=(problem,), rounds=5, iterations=1, warmup_rounds=1)
    _record(benchmark, problem, scipy_rate, f"{numba.get_num_threads()} threads")


def test_scipy_least_squares_per_row(benchmark: Any, problem: dict[str, Any]) -> None:
    """The baseline on its own: SciPy on 500 rows (the ratio above uses the same loop)."""
    A, R, S = problem["anchors"], problem["ranges"], problem["sigmas"]

    def loop() -> None:
        for i in range(SCIPY_ROWS):
            use = ~np.isnan(R[i])
            a, r, s = A[i, use], R[i, use], S[i, use]
            least_squares(
                lambda p, a=a, r=r, s=s: (np.sqrt(((a[:, :2] - p) ** 2).sum(1)
                                                  + (1.0 - a[:, 2]) ** 2) - r) / s,
                a[:, :2].mean(0), loss="soft_l1", f_scale=2.0)

    benchmark.pedantic(loop, rounds=1, iterations=1)
    benchmark.extra_info["rows_per_s"] = round(SCIPY_ROWS / benchmark.stats.stats.min, 1)


_FIRST_CALL = (
    "import time, numpy as np; t=time.perf_counter(); import positioning; "
    "t1=time.perf_counter(); positioning.multilaterate(np.zeros((3,3)), np.ones((1,3)), 1.0); "
    "print(t1-t, time.perf_counter()-t1)"
)


def test_compile_and_cached_load_time(benchmark: Any) -> None:
    """First-call time in fresh processes: empty cache (compile) vs warm cache (load)."""
    with tempfile.TemporaryDirectory() as cache:
        env = dict(os.environ, NUMBA_CACHE_DIR=cache)

        def first_call() -> tuple[float, float]:
            out = subprocess.run([sys.executable, "-c", _FIRST_CALL], env=env, check=True,
                                 capture_output=True, text=True).stdout.split()
            return float(out[0]), float(out[1])

        cold = benchmark.pedantic(first_call, rounds=1, iterations=1)
        warm = first_call()
        files = sum(len(f) for _, _, f in os.walk(cache))
    benchmark.extra_info.update({
        "import_s": round(cold[0], 2), "compile_first_call_s": round(cold[1], 2),
        "cached_first_call_s": round(warm[1], 2), "cache_files": files,
    })
    print(f"\ncompile on first call {cold[1]:.1f} s; from cache {warm[1]:.2f} s "
          f"({files} cache files)")
    assert files > 0
