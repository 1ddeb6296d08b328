"""FHIR R4 views (tracker.fhir) and the /fhir/R4 API, validated against the FHIR structure.

Structure is checked with the pydantic models of ``fhir.resources.R4B`` (Device, Location,
Bundle, OperationOutcome and CapabilityStatement are structurally R4 there): required elements,
cardinalities, data types, id syntax, no unknown elements. Codes from required value sets are
checked here against the R4 value sets, which those models do not enforce.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from fastapi.testclient import TestClient
from fhir.resources.R4B.bundle import Bundle
from fhir.resources.R4B.capabilitystatement import CapabilityStatement
from fhir.resources.R4B.device import Device
from fhir.resources.R4B.location import Location
from fhir.resources.R4B.operationoutcome import OperationOutcome
from hypothesis import given
from hypothesis import strategies as st

from floorplans.model import Site
from floorplans.sample import load_sample_site
from tests.authutil import bearer
from tracker import fhir
from tracker.api.errors import status_of
from tracker.api.state import AppState
from tracker.app import create_app
from tracker.assets import Asset
from tracker.records import FixRecord, WriteBatch
from tracker.store import open_store
from tracker.store.base import (
    ConflictError,
    StoreError,
    StoreUnavailableError,
    UnknownAssetError,
)

# R4 required value sets (http://hl7.org/fhir/R4/valueset-*.html)
LOCATION_STATUS = {"active", "suspended", "inactive"}
LOCATION_MODE = {"instance", "kind"}
DEVICE_STATUS = {"active", "inactive", "entered-in-error", "unknown"}
DEVICE_NAME_TYPE = {"udi-label-name", "user-friendly-name", "patient-reported-name",
                    "manufacturer-name", "model-name", "other"}
PHYSICAL_TYPES = {"si", "bu", "wi", "wa", "lvl", "co", "ro", "bd", "ve", "ho", "ca", "rd",
                  "area", "jdn"}
ISSUE_TYPES = {"invalid", "not-supported", "not-found", "login", "forbidden", "transient"}
FHIR_BASE = "/fhir/R4"


@pytest.fixture(scope="module")
def site() -> Site:
    return load_sample_site()


@pytest.fixture(scope="module")
def index(site: Site) -> fhir.LocationIndex:
    return fhir.LocationIndex(site)


def check_location(res: dict[str, Any]) -> None:
    Location.model_validate(res)
    assert res["status"] in LOCATION_STATUS and res["mode"] in LOCATION_MODE
    (coding,) = res["physicalType"]["coding"]
    assert coding["system"] == fhir.PHYSICAL_TYPE_SYSTEM and coding["code"] in PHYSICAL_TYPES


def check_device(res: dict[str, Any]) -> None:
    Device.model_validate(res)
    assert res["status"] in DEVICE_STATUS
    assert all(n["type"] in DEVICE_NAME_TYPE for n in res["deviceName"])


def fix(tag: str, asset: str | None, level: str | None, room: str | None,
        ts: float) -> FixRecord:
    return FixRecord(ts=ts, tag=tag, asset=asset, site="fjellvik",
                     building=None if level is None else level[0], level=level, room=room,
                     x=10.0, y=3.0, accuracy_m=1.5, room_confidence=0.9, moving=False)


# ----------------------------------------------------------------------------- ids
@given(st.text(min_size=1, max_size=40))
def test_fhir_ids_are_valid_and_reversible(raw: str) -> None:
    fid = fhir.to_fhir_id(raw)
    if fid is None:
        assert len(raw.encode()) > 37
        return
    Location.model_validate({"resourceType": "Location", "id": fid})
    assert len(fid) <= 64 and fhir.from_fhir_id(fid) == raw


def test_fhir_ids_keep_valid_ids_and_encode_the_rest() -> None:
    assert fhir.to_fhir_id("A1.101") == "A1.101"
    assert fhir.to_fhir_id("pump 1/2") != fhir.to_fhir_id("pump-1-2")
    encoded = fhir.to_fhir_id("b32-0")  # looks encoded, so it is encoded itself
    assert encoded != "b32-0" and fhir.from_fhir_id(encoded or "") == "b32-0"
    assert fhir.from_fhir_id("b32-!") is None and fhir.from_fhir_id("b32-zz") is None
    assert fhir.to_fhir_id("x" * 64) == "x" * 64 and fhir.to_fhir_id("x" * 65) is None
    assert fhir.to_fhir_id("æ" * 40) is None


# ----------------------------------------------------------------------------- Location
def test_every_plan_feature_is_a_valid_location(site: Site,
                                                index: fhir.LocationIndex) -> None:
    resources = index.all()
    assert len(resources) == 1 + len(site.buildings) + len(site.levels) + len(site.rooms)
    for res in resources:
        check_location(res)
    codes = {r["identifier"][0]["value"]: r["physicalType"]["coding"][0]["code"]
             for r in resources}
    assert codes["fjellvik"] == "si" and codes["A"] == "bu" and codes["A1"] == "lvl"
    assert codes["A1.101"] == "ro" and codes["A1.000"] == "co"  # a patient room; a corridor
    assert index.get("room-A1.101")["name"] == site.room("A1.101").name  # type: ignore[index]


def test_part_of_chain_reaches_the_site(site: Site, index: fhir.LocationIndex) -> None:
    for room in site.rooms:
        chain = []
        res = index.get(f"room-{room.id}")
        while res is not None:
            chain.append(res["physicalType"]["coding"][0]["code"])
            ref = res.get("partOf", {}).get("reference")
            res = None if ref is None else index.get(ref.removeprefix("Location/"))
            assert ref is None or res is not None, f"{ref} does not resolve"
        lv = site.level(room.level)
        assert chain[:2] in (["ro", "lvl"], ["co", "lvl"]) and chain[2:] == ["bu", "si"]
        level = index.get(f"level-{lv.id}")
        assert level is not None and level["partOf"]["reference"] == f"Location/building-" \
            f"{lv.building}"


def test_position_only_with_a_georeference(site: Site, index: fhir.LocationIndex) -> None:
    assert site.georeference is not None
    room = index.get("room-A1.101")
    assert room is not None
    pos = room["position"]
    # A1.101 spans x 0..3.6 m, y 0..6 m east/north of the origin: a few metres NE of it.
    assert 0 < pos["longitude"] - site.georeference.origin_lon < 1e-4
    assert 0 < pos["latitude"] - site.georeference.origin_lat < 1e-4
    plain = Site.build(id=site.id, name=site.name, buildings=site.buildings,
                       levels=site.levels, rooms=site.rooms)
    assert all("position" not in r for r in fhir.LocationIndex(plain).all())


def test_location_search_semantics(index: fhir.LocationIndex) -> None:
    on_a1 = index.search(partof="level-A1")
    assert on_a1 and all(r["partOf"]["reference"] == "Location/level-A1" for r in on_a1)
    stores = index.search(type=fhir.Token(None, "equipment_storage"))
    assert len(stores) == 12
    assert index.search(type=fhir.Token("urn:other", "equipment_storage")) == []
    assert len(index.search(name="SENGEROM")) == 84  # case-insensitive prefix
    assert [r["id"] for r in index.search(name="A1.101", name_modifier="exact")] == [
        "room-A1.101"]
    assert index.search(name="ngerom", name_modifier=None) == []
    assert len(index.search(name="ngerom", name_modifier="contains")) == 84
    assert [r["id"] for r in index.search(identifier=fhir.Token("urn:sporing:level", "B2"))
            ] == ["level-B2"]


# ----------------------------------------------------------------------------- Device
def test_device_mapping(index: fhir.LocationIndex) -> None:
    now = 1_800_000_000.0
    a = Asset("MTU-1", "Infusjonspumpe", type="infusion_pump", model="Volumat", serial="S9",
              giai="7071234500001", barcode="BC1", tags=("t1",))
    d = fhir.device(a, fix("t1", "MTU-1", "A1", "A1.101", now - 30), now=now,
                    locations=index, stale_after_s=3600)
    check_device(d)
    assert d["id"] == "MTU-1" and d["status"] == "active"
    assert d["location"]["reference"] == "Location/room-A1.101"
    assert {(i["system"], i["value"]) for i in d["identifier"]} == {
        (fhir.ASSET_SYSTEM, "MTU-1"), (fhir.GIAI_SYSTEM, "7071234500001"),
        ("urn:sporing:barcode", "BC1"), ("urn:sporing:tag", "t1")}
    assert d["serialNumber"] == "S9" and d["modelNumber"] == "Volumat"
    stale = fhir.device(a, fix("t1", "MTU-1", "A1", "A1.101", now - 7200), now=now,
                        locations=index, stale_after_s=3600)
    assert "location" not in stale
    between = fhir.device(a, fix("t1", "MTU-1", "A2", None, now), now=now, locations=index,
                          stale_after_s=3600)
    assert between["location"]["reference"] == "Location/level-A2"
    never = fhir.device(Asset("x", "X", status="in_repair"), None, now=now, locations=index,
                        stale_after_s=3600)
    check_device(never)
    assert never["status"] == "inactive" and "location" not in never and "type" not in never


# ----------------------------------------------------------------------------- HTTP
@pytest.fixture
def served(site: Site, tmp_path: Path) -> Iterator[tuple[TestClient, AppState]]:
    url = f"sqlite:///{tmp_path / 'fhir.db'}"
    store = open_store(url)
    store.upgrade()
    now = time.time()
    assets = [Asset(f"pump-{i:02d}", f"Pump {i}", type="infusion_pump", tags=(f"tp{i}",))
              for i in range(7)]
    assets += [Asset("bed-1", "Bed 1", type="bed", giai="7071234500009", barcode="B-1",
                     tags=("tb1",)),
               Asset("bed 2/old", "Bed 2", type="bed", status="retired")]
    store.upsert_assets(assets, at=now - 3600)
    store.write(WriteBatch(fixes=[
        *(fix(f"tp{i}", f"pump-{i:02d}", "A1", "A1.101" if i < 3 else "A1.102", now - 10)
          for i in range(6)),
        fix("tp6", "pump-06", "A1", "A1.101", now - 86400),  # stale: nowhere
        fix("tb1", "bed-1", "B2", None, now - 10),  # between rooms: on level B2
    ]))
    store.close()
    state = AppState(site=site, database_url=url)
    with TestClient(create_app(state)) as c:
        yield c, state


def get(c: TestClient, state: AppState, path: str, role: str = "porter") -> Any:
    r = c.get(path, headers=bearer(state, role))
    assert r.headers["content-type"] == fhir.FHIR_JSON
    return r


def all_pages(c: TestClient, state: AppState, path: str) -> tuple[int, list[dict[str, Any]]]:
    """Follow ``next`` links; returns the total and every entry's resource."""
    headers = bearer(state, "porter")
    out: list[dict[str, Any]] = []
    url: str | None = path
    total = -1
    while url is not None:
        r = c.get(url, headers=headers)
        assert r.status_code == 200, r.text
        body = r.json()
        Bundle.model_validate(body)
        assert body["type"] == "searchset"
        total = body["total"]
        out.extend(e["resource"] for e in body.get("entry", []))
        nxt = [lk["url"] for lk in body["link"] if lk["relation"] == "next"]
        url = None if not nxt else urlsplit(nxt[0])._replace(scheme="", netloc="").geturl()
    return total, out


def test_requires_credentials(served: tuple[TestClient, AppState]) -> None:
    c, _ = served
    for path in ("/metadata", "/Device", "/Device/pump-00", "/Location", "/Location/site-x"):
        r = c.get(FHIR_BASE + path)
        assert r.status_code == 401 and r.headers["www-authenticate"] == "Bearer"
        assert r.headers["content-type"] == fhir.FHIR_JSON
        OperationOutcome.model_validate(r.json())
        assert r.json()["issue"][0]["code"] == "login"


def test_metadata(served: tuple[TestClient, AppState]) -> None:
    c, state = served
    r = get(c, state, FHIR_BASE + "/metadata")
    assert r.status_code == 200
    body = r.json()
    CapabilityStatement.model_validate(body)
    assert body["fhirVersion"] == "4.0.1" and body["kind"] == "instance"
    by_type = {res["type"]: res for res in body["rest"][0]["resource"]}
    assert set(by_type) == {"Device", "Location"}
    assert {p["name"] for p in by_type["Device"]["searchParam"]} >= {"identifier", "type",
                                                                      "location"}


def test_device_read(served: tuple[TestClient, AppState]) -> None:
    c, state = served
    r = get(c, state, FHIR_BASE + "/Device/pump-00")
    assert r.status_code == 200
    d = r.json()
    check_device(d)
    assert d["location"]["reference"] == "Location/room-A1.101"
    bed2 = get(c, state, FHIR_BASE + "/Device/" + (fhir.to_fhir_id("bed 2/old") or "")).json()
    check_device(bed2)
    assert bed2["status"] == "inactive" and bed2["identifier"][0]["value"] == "bed 2/old"
    assert "location" not in get(c, state, FHIR_BASE + "/Device/pump-06").json()  # stale
    missing = get(c, state, FHIR_BASE + "/Device/nope")
    assert missing.status_code == 404
    OperationOutcome.model_validate(missing.json())
    assert missing.json()["issue"][0]["code"] == "not-found"
    assert get(c, state, FHIR_BASE + "/Device/b32-zz").status_code == 404


def test_device_search_and_paging(served: tuple[TestClient, AppState]) -> None:
    c, state = served
    total, devices = all_pages(c, state, FHIR_BASE + "/Device?_count=4")
    assert total == 9 and len(devices) == 9
    assert len({d["id"] for d in devices}) == 9
    for d in devices:
        check_device(d)
    total, pumps = all_pages(c, state, FHIR_BASE + "/Device?type=infusion_pump&_count=3")
    assert total == 7 and {d["type"]["coding"][0]["code"] for d in pumps} == {"infusion_pump"}
    first = get(c, state, FHIR_BASE + "/Device?type=bed&_count=1").json()
    assert first["total"] == 2 and len(first["entry"]) == 1
    rels = {lk["relation"] for lk in first["link"]}
    assert rels == {"self", "first", "next", "last"}
    counted = get(c, state, FHIR_BASE + "/Device?_count=0").json()
    assert counted["total"] == 9 and "entry" not in counted  # FHIR JSON: no empty arrays


@pytest.mark.parametrize(("query", "expected"), [
    ("identifier=bed-1", {"bed-1"}),
    ("identifier=urn:sporing:asset|pump-03", {"pump-03"}),
    ("identifier=urn:sporing:tag|tp4", {"pump-04"}),
    ("identifier=https://www.gs1.org/giai|7071234500009", {"bed-1"}),
    ("identifier=urn:sporing:barcode|B-1", {"bed-1"}),
    ("identifier=https://www.gs1.org/giai|B-1", set()),
    ("identifier=urn:sporing:asset|pump-0", set()),  # exact, not a prefix
    ("location=Location/room-A1.101", {"pump-00", "pump-01", "pump-02"}),
    ("location=room-A1.102&type=infusion_pump", {"pump-03", "pump-04", "pump-05"}),
    ("location=level-B2", {"bed-1"}),
    ("location=level-A1", set()),  # the pumps there are in rooms
    ("location=room-A1.102&identifier=tp4", {"pump-04"}),
    ("type=urn:sporing:asset-type|bed", {"bed-1", "bed 2/old"}),
    ("type=http://snomed.info/sct|bed", set()),
])
def test_device_search_parameters(served: tuple[TestClient, AppState], query: str,
                                  expected: set[str]) -> None:
    c, state = served
    total, devices = all_pages(c, state, f"{FHIR_BASE}/Device?{query}")
    assert total == len(devices)
    assert {d["identifier"][0]["value"] for d in devices} == expected


def test_location_search_finds_a_tag_paired_after_its_fix(site: Site, tmp_path: Path) -> None:
    """A fix stored before its tag was paired names no asset; the Device is still where the
    tag is, and the location search finds it there."""
    url = f"sqlite:///{tmp_path / 'late.db'}"
    store = open_store(url)
    store.upgrade()
    now = time.time()
    store.upsert_assets([Asset("pump-late", "Pump", type="infusion_pump")], at=now - 3600)
    store.write(WriteBatch(fixes=[fix("tlate", None, "A1", "A1.101", now - 10)]))
    store.pair_tag("pump-late", "tlate", now - 5)
    store.close()
    state = AppState(site=site, database_url=url)
    with TestClient(create_app(state)) as c:
        device = get(c, state, FHIR_BASE + "/Device/pump-late").json()
        assert device["location"]["reference"] == "Location/room-A1.101"
        total, found = all_pages(c, state, FHIR_BASE + "/Device?location=room-A1.101")
        assert total == 1 and [d["id"] for d in found] == ["pump-late"]


@pytest.mark.parametrize(("error", "status", "code", "logged"), [
    (StoreUnavailableError("connection refused"), 503, "transient", True),
    (ConflictError("constraint: duplicate key"), 409, "conflict", True),
    (UnknownAssetError("pump-x"), 404, "not-found", False),
    (StoreError("disk full"), 500, "exception", True),
])
def test_store_errors_map_as_in_the_json_api(served: tuple[TestClient, AppState],
                                             monkeypatch: pytest.MonkeyPatch,
                                             caplog: pytest.LogCaptureFixture,
                                             error: StoreError, status: int, code: str,
                                             logged: bool) -> None:
    """FHIR and the JSON API answer a store error with one status (``status_of``)."""
    c, state = served
    assert get(c, state, FHIR_BASE + "/Device?_count=0").status_code == 200  # registry loaded
    assert state.store is not None

    def fail(*_args: object, **_kwargs: object) -> None:
        raise error

    monkeypatch.setattr(state.store, "search_assets", fail)
    caplog.set_level(logging.WARNING, logger="sporing.api")
    r = get(c, state, FHIR_BASE + "/Device?identifier=https://www.gs1.org/giai|7071234500009")
    assert r.status_code == status
    OperationOutcome.model_validate(r.json())
    (issue,) = r.json()["issue"]
    assert (issue["code"], issue["diagnostics"]) == (code, status_of(error)[1])
    assert any(rec.name == "sporing.api" for rec in caplog.records) is logged
    as_json = c.get("/api/v1/assets?q=pump", headers=bearer(state, "porter"))
    assert (as_json.status_code, as_json.json()) == (status, {"detail": issue["diagnostics"]})


@pytest.mark.parametrize(("query", "param"), [
    ("colour=red", "colour"),
    ("_count=many", "_count"),
    ("_count=-1", "_count"),
    ("_offset=-5", "_offset"),
    ("type=bed,infusion_pump", "type"),
    ("type=bed&type=bed", "type"),
    ("identifier=|", "identifier"),
    ("location=Patient/1", "location"),
    ("location=room%20A", "location"),
])
def test_bad_search_parameters_are_400(served: tuple[TestClient, AppState], query: str,
                                       param: str) -> None:
    c, state = served
    r = get(c, state, f"{FHIR_BASE}/Device?{query}")
    assert r.status_code == 400, r.text
    OperationOutcome.model_validate(r.json())
    (issue,) = r.json()["issue"]
    assert issue["code"] in ISSUE_TYPES and issue["expression"] == [param]


def test_location_endpoints(served: tuple[TestClient, AppState], site: Site) -> None:
    c, state = served
    total, everything = all_pages(c, state, FHIR_BASE + "/Location?_count=500")
    assert total == len(everything) == 1 + 2 + 6 + len(site.rooms)
    for res in everything:
        check_location(res)
    total, rooms = all_pages(c, state, FHIR_BASE + "/Location?partof=Location/level-B3")
    assert total == len(rooms) == len(site.rooms_on("B3"))
    _, dirty = all_pages(c, state, FHIR_BASE + "/Location?type=dirty_utility&partof=level-A1")
    assert dirty and all(r["type"][0]["coding"][0]["code"] == "dirty_utility" for r in dirty)
    assert all(r["partOf"]["reference"] == "Location/level-A1" for r in dirty)
    _, named = all_pages(c, state, FHIR_BASE + "/Location?name:exact=A1.101")
    assert [r["id"] for r in named] == ["room-A1.101"]
    r = get(c, state, FHIR_BASE + "/Location?name=a&name:contains=b")
    assert r.status_code == 400 and r.json()["issue"][0]["expression"] == ["name"]
    assert get(c, state, FHIR_BASE + "/Location/room-Z9.999").status_code == 404
    assert get(c, state, FHIR_BASE + "/Location/room%20A").status_code == 400


def test_every_reference_resolves(served: tuple[TestClient, AppState]) -> None:
    """Every Device.location and Location.partOf names a Location the server serves."""
    c, state = served
    _, devices = all_pages(c, state, FHIR_BASE + "/Device")
    _, locations = all_pages(c, state, FHIR_BASE + "/Location?_count=500")
    refs = {d["location"]["reference"] for d in devices if "location" in d}
    refs |= {r["partOf"]["reference"] for r in locations if "partOf" in r}
    assert len(refs) > 10
    for ref in sorted(refs):
        rtype, rid = ref.split("/")
        r = get(c, state, f"{FHIR_BASE}/{rtype}/{rid}")
        assert r.status_code == 200 and r.json()["id"] == rid


def test_full_urls_point_at_the_resources(served: tuple[TestClient, AppState]) -> None:
    c, state = served
    body = get(c, state, FHIR_BASE + "/Device?type=bed").json()
    for e in body["entry"]:
        path = urlsplit(e["fullUrl"]).path
        assert get(c, state, path).json() == e["resource"]
