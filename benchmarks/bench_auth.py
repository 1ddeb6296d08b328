"""What authentication costs: one password check (scrypt, the production cost) and one API
token check against the store (SHA-256 and one indexed query; the 5 s cache off).

Run: ``python -m pytest benchmarks/bench_auth.py --benchmark-only``
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tracker.auth import AuthService, hash_password, verify_password
from tracker.store import open_store


def test_password_check(benchmark: Any) -> None:
    stored = hash_password("correct horse battery")  # the production cost (N = 2**15)
    assert benchmark(verify_password, "correct horse battery", stored)


def test_token_check_uncached(benchmark: Any, tmp_path: Path) -> None:
    store = open_store(f"sqlite:///{tmp_path / 'auth.db'}")
    store.upgrade()
    auth = AuthService(lambda: store, kdf_log_n=10)
    auth.cache_ttl_s = 0.0
    token, _ = auth.create_token("bench", "porter", created_by="bench")
    try:
        assert benchmark(auth.authenticate_token, token) is not None
    finally:
        store.close()
