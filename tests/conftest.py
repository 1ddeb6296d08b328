"""Shared test fixtures: where ``../shared`` is, and the policy for real services.

Tests that read the shared fixtures or datasets use :func:`shared_path`, which skips with a
clear reason when ``../shared`` is absent (a bare clone). Tests that need Mosquitto or
TimescaleDB are marked ``integration``; under CI (``CI=true``) or ``SPORING_REQUIRE_SERVICES=1``
an unreachable service fails the test instead of skipping it.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from tracker.store import Store

ROOT = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("SPORING_SHARED_DIR", ROOT.parent / "shared"))


def shared_path(*parts: str) -> Path:
    """Path below ``../shared``; skips the calling test when it is not there."""
    p = SHARED.joinpath(*parts)
    if not p.exists():
        pytest.skip(f"shared material not found at {p} (clone with ../shared beside the repo)")
    return p


def services_required() -> bool:
    """Whether an unreachable broker or database must fail tests rather than skip them."""
    return os.environ.get("CI", "").lower() in ("1", "true", "yes") or os.environ.get(
        "SPORING_REQUIRE_SERVICES", ""
    ) in ("1", "true", "yes")


def service_unavailable(what: str) -> None:
    """Fail (under CI) or skip (on a laptop) a test whose service is unreachable."""
    msg = f"{what} is not reachable; start it with 'scripts/services start'"
    if services_required():
        pytest.fail(msg)
    pytest.skip(msg)


# ----------------------------------------------------------------------------- real services
DEFAULT_MQTT_URL = "mqtt://127.0.0.1:18830"
DEFAULT_DATABASE_URL = "postgresql://sporing:sporing@127.0.0.1:15432/sporing"


def _reachable(host: str, port: int) -> bool:
    import socket

    try:
        with socket.create_connection((host, port), timeout=2):
            return True
    except OSError:
        return False


@pytest.fixture(scope="session")
def mqtt_url() -> str:
    """URL of the real Mosquitto (``SPORING_MQTT_URL``); fails under CI when unreachable."""
    from urllib.parse import urlsplit

    url = os.environ.get("SPORING_MQTT_URL", DEFAULT_MQTT_URL)
    parts = urlsplit(url)
    if not _reachable(parts.hostname or "127.0.0.1", parts.port or 1883):
        service_unavailable(f"Mosquitto at {url}")
    return url


@pytest.fixture(scope="session")
def database_url() -> str:
    """URL of the real PostgreSQL + TimescaleDB (``SPORING_DATABASE_URL``)."""
    from urllib.parse import urlsplit

    url = os.environ.get("SPORING_DATABASE_URL", DEFAULT_DATABASE_URL)
    parts = urlsplit(url)
    if not _reachable(parts.hostname or "127.0.0.1", parts.port or 5432):
        service_unavailable(f"TimescaleDB at {url}")
    return url


@pytest.fixture
def fresh_database(database_url: str) -> object:
    """A new, empty database on the real server for one test, dropped afterwards."""
    import uuid
    from urllib.parse import urlsplit, urlunsplit

    import psycopg

    name = f"sporing_t_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    parts = urlsplit(database_url)
    url = urlunsplit(parts._replace(path=f"/{name}"))
    yield url
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def unique_topic() -> str:
    """A topic prefix no other test uses, so tests never see each other's traffic."""
    import uuid

    return f"sporing-test/{uuid.uuid4().hex[:12]}"


@pytest.fixture(params=["sqlite", pytest.param("timescale", marks=pytest.mark.integration)])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """Runs the test on both stores: a SQLite file, and a fresh database on the real
    TimescaleDB (``integration``)."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'store.db'}"
    return str(request.getfixturevalue("fresh_database"))


@pytest.fixture
def store(store_url: str) -> Iterator[Store]:
    """An upgraded store of each kind (see :func:`store_url`), closed afterwards."""
    from tracker.store import open_store

    s = open_store(store_url)
    s.upgrade()
    yield s
    s.close()
