"""Compiled kernels of every package are cached in the user cache dir, not beside the sources."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

SCRIPT = """
import tracker.cli  # the entry point configures Numba first
import numpy as np
from floorplans.sample import load_sample_site
from floorplans.spatial import SiteIndex
idx = SiteIndex(load_sample_site())
print(int(idx.room_at(np.array([5.0]), np.array([10.0]), 0)[0]))
"""


def test_floorplan_kernels_cache_under_the_user_cache_dir(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k != "NUMBA_CACHE_DIR"}
    env["XDG_CACHE_HOME"] = str(tmp_path)
    done = subprocess.run([sys.executable, "-c", SCRIPT], env=env, capture_output=True,
                          text=True, timeout=600, check=False)
    assert done.returncode == 0, done.stderr
    cached = list((tmp_path / "sporing" / "numba").rglob("spatial*.nbi"))
    assert cached, f"no floorplans.spatial cache index under {tmp_path}"
