"""Property-based fuzzing of every ``/api/v1`` and ``/fhir/R4`` operation from the OpenAPI schema.

Schemathesis generates requests from the app's own ``/openapi.json`` and sends them, with a
valid admin API token, to the app in-process (ASGI). Each response must not be a server error
and must conform to the schema: a documented status code, the documented content type and a
body that validates against the documented schema. ``/api/v1/live`` (an endless Server-Sent
Events stream) is left out. Examples are bounded and derandomized so a run is reproducible.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.core.result import Ok
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from floorplans.sample import load_sample_site
from tests.authutil import bearer
from tracker.api.state import AppState
from tracker.app import create_app
from tracker.assets import Asset
from tracker.records import FixRecord, GatewayStatusRecord, WriteBatch
from tracker.store import open_store

CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance,
          response_schema_conformance]


STATE = AppState(site=load_sample_site())  # the store is opened by the fixture below
APP = create_app(STATE)
# Built at import: schemathesis' lazy (fixture) schemas do not work with pytest 9.
schema = (schemathesis.openapi.from_asgi("/openapi.json", APP)
          .include(path_regex=r"^/(api/v1|fhir/R4)/").exclude(path="/api/v1/live"))


@pytest.fixture(scope="module")
def admin(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    """Opens an SQLite store with a few assets and fixes; yields an admin token header."""
    url = f"sqlite:///{tmp_path_factory.mktemp('fuzz') / 'fuzz.db'}"
    store = open_store(url)
    store.upgrade()
    now = time.time()
    store.upsert_assets([
        Asset("pump-1", "Pump 1", type="infusion_pump", tags=("t1",), giai="7071234500001"),
        Asset("bed-1", "Bed 1", type="bed", tags=("t2",), home_room="A1.101"),
        Asset("bed-2", "Bed 2", type="bed", status="in_repair"),
    ], at=now - 3600)
    store.write(WriteBatch(
        fixes=[FixRecord(now - 5, "t1", "pump-1", "fjellvik", "A", "A1", "A1.101", 2.0, 3.0,
                         1.5, 0.9, False),
               FixRecord(now - 5, "t2", "bed-1", "fjellvik", "A", "A2", "A2.103", 9.0, 3.0,
                         1.5, 0.9, False)],
        statuses=[GatewayStatusRecord(now - 10, "gw-a1-001", True, 2.0, 40.0, now - 11)]))
    STATE.store = store
    try:
        yield bearer(STATE, "admin")
    finally:
        STATE.store = None
        STATE.cache.clear()
        store.close()


@schema.parametrize()
@settings(max_examples=30, derandomize=True, deadline=None, database=None,
          suppress_health_check=list(HealthCheck))
def test_api_conforms_and_never_fails(case: Any, admin: dict[str, str]) -> None:
    case.call_and_validate(headers=admin, checks=CHECKS)


def test_the_fuzzed_schema_covers_the_read_apis() -> None:
    ops = [r.ok() if isinstance(r, Ok) else pytest.fail(f"invalid operation: {r.err()}")
           for r in schema.get_all_operations()]
    paths = {op.path for op in ops}
    assert {"/fhir/R4/Device", "/fhir/R4/Location/{location_id}",
            "/api/v1/assets/{asset_id}/location", "/api/v1/nearest"} <= paths
    assert "/api/v1/live" not in paths
