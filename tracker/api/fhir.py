"""FHIR R4 read API at ``/fhir/R4``: ``metadata``, ``Device`` and ``Location`` read and search.

Responses are ``application/fhir+json``; every error is an ``OperationOutcome`` with its HTTP
status (400 bad or unknown search parameter, 401/403 credentials, 404 unknown id, 503 database
unavailable). The mapping itself is in :mod:`tracker.fhir`. Every endpoint needs role porter.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import re
import time
from collections.abc import Callable, Coroutine, Mapping, Sequence
from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Path, Query, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute
from pydantic import BaseModel, ConfigDict

from tracker import fhir
from tracker.api import snapshots
from tracker.api.deps import StateDep, StoreDep
from tracker.api.errors import ApiError
from tracker.api.security import PorterDep
from tracker.api.state import AppState
from tracker.assets import Asset
from tracker.fhir import FhirError, LocationIndex, Resource, Token
from tracker.lookup import Locations
from tracker.records import FixRecord
from tracker.store.base import Store, StoreError, StoreUnavailableError

__all__ = ["router"]

PREFIX = "/fhir/R4"
MAX_COUNT = 500
DEFAULT_COUNT = 50
_PAGING = {"_count", "_offset"}
_DEVICE_PARAMS = {"identifier", "type", "location", *_PAGING}
_LOCATION_PARAMS = {"partof", "type", "name", "name:exact", "name:contains", "identifier",
                    *_PAGING}
_OR_LIST = re.compile(r"(?<!\\),")
_ISSUE_OF_STATUS = {400: "invalid", 401: "login", 403: "forbidden", 404: "not-found",
                    503: "transient"}


class FhirResponse(JSONResponse):
    """JSON with the FHIR media type."""

    media_type = fhir.FHIR_JSON


class FhirResource(BaseModel):
    """Any FHIR resource (the OpenAPI view; the structure is FHIR R4's)."""

    model_config = ConfigDict(extra="allow")
    resourceType: str  # noqa: N815 (FHIR's element name)


def _outcome(status: int, code: str, diagnostics: str, expression: str | None = None,
             headers: Mapping[str, str] | None = None) -> FhirResponse:
    return FhirResponse(fhir.operation_outcome(code, diagnostics, expression),
                        status_code=status, headers=headers)


class _FhirRoute(APIRoute):
    """Renders every error of a FHIR endpoint (validation, auth, domain) as OperationOutcome."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def route(request: Request) -> Response:
            try:
                return await handler(request)
            except RequestValidationError as exc:
                first = exc.errors()[0]
                where = ".".join(str(p) for p in first.get("loc", ())[1:]) or None
                return _outcome(400, "invalid", f"{where}: {first.get('msg')}", where)
            except FhirError as exc:
                return _outcome(exc.status, exc.code, exc.diagnostics, exc.expression)
            except HTTPException as exc:
                return _outcome(exc.status_code, _ISSUE_OF_STATUS.get(exc.status_code,
                                                                      "processing"),
                                str(exc.detail), headers=exc.headers)
            except ApiError as exc:
                return _outcome(exc.status, _ISSUE_OF_STATUS.get(exc.status, "processing"),
                                exc.detail)
            except StoreUnavailableError:
                return _outcome(503, "transient", "the database is unavailable; retry shortly")
            except StoreError:
                return _outcome(500, "exception", "storage error")

        return route


_ERRORS: dict[int | str, dict[str, Any]] = {
    s: {"model": FhirResource, "description": d, "content": {fhir.FHIR_JSON: {}}}
    for s, d in ((400, "Bad request (OperationOutcome)"), (401, "Not authenticated"),
                 (403, "Role too low"), (404, "Unknown id"), (503, "Database unavailable"))}
router = APIRouter(prefix=PREFIX, tags=["fhir"], route_class=_FhirRoute,
                   default_response_class=FhirResponse, responses=_ERRORS)

FhirId = Annotated[str, Path(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9\-.]{1,64}$",
                             description="FHIR logical id")]
Count = Annotated[int, Query(alias="_count", ge=0, le=10_000,
                             description=f"page size (at most {MAX_COUNT} are returned)")]
Offset = Annotated[int, Query(alias="_offset", ge=0, le=1_000_000_000,
                              description="index of the page's first match")]


def _base(request: Request) -> str:
    return str(request.base_url).rstrip("/") + PREFIX


def _check_params(request: Request, allowed: set[str]) -> None:
    for key in request.query_params:
        if key not in allowed:
            raise FhirError(400, "not-supported",
                            f"unknown search parameter {key!r}; this server supports "
                            f"{', '.join(sorted(allowed))}", key)
        if len(request.query_params.getlist(key)) > 1:
            raise FhirError(400, "not-supported", f"{key} is given more than once", key)


def _single(value: str | None, param: str) -> str | None:
    if value is None:
        return None
    if _OR_LIST.search(value):
        raise FhirError(400, "not-supported",
                        f"{param}: comma-separated (OR) values are not supported", param)
    return value.replace("\\,", ",")


def _token(value: str | None, param: str) -> Token | None:
    v = _single(value, param)
    return None if v is None else fhir.parse_token(v, param)


def _locations(state: AppState) -> LocationIndex:
    index = state.cache.get("fhir:locations")
    if not isinstance(index, LocationIndex) or index.site is not state.site:
        index = LocationIndex(state.site)
        state.cache["fhir:locations"] = index
    return index


def _stale_after_s(state: AppState) -> float:
    return state.states.stale_after_s


def _page(request: Request, url: str, found: Sequence[tuple[str, Resource]], total: int,
          offset: int, count: int) -> FhirResponse:
    params = [(k, v) for k, v in request.query_params.multi_items() if k not in _PAGING]
    links = fhir.page_links(url, params, offset=offset, count=count, total=total)
    return FhirResponse(fhir.searchset(found, total, links))


# ----------------------------------------------------------------------------- metadata
@router.get("/metadata", response_model=FhirResource, summary="FHIR CapabilityStatement")
async def metadata(request: Request, state: StateDep, principal: PorterDep) -> FhirResponse:
    """What this FHIR server supports: read and search of Device and Location."""
    date = dt.datetime.fromtimestamp(state.started_at, dt.UTC).isoformat(timespec="seconds")
    return FhirResponse(fhir.capability_statement(
        base_url=_base(request), date=date, software_version=request.app.version))


# ----------------------------------------------------------------------------- Location
@router.get("/Location/{location_id}", response_model=FhirResource,
            summary="One Location (site, building, level or room)")
async def read_location(state: StateDep, location_id: FhirId,
                        principal: PorterDep) -> FhirResponse:
    """The Location with this id (``room-A1.101``, ``level-A1``, ``building-A``, ...)."""
    index = await asyncio.to_thread(_locations, state)
    res = index.get(location_id)
    if res is None:
        raise FhirError(404, "not-found", f"Location/{location_id} is not known")
    return FhirResponse(res)


@router.get("/Location", response_model=FhirResource, summary="Search Locations")
async def search_locations(
    request: Request, state: StateDep, principal: PorterDep,
    partof: Annotated[str | None, Query(max_length=200, description="Location/<id>")] = None,
    type: Annotated[str | None, Query(max_length=200, description="room category")] = None,
    name: Annotated[str | None, Query(max_length=200)] = None,
    name_exact: Annotated[str | None, Query(alias="name:exact", max_length=200)] = None,
    name_contains: Annotated[str | None, Query(alias="name:contains", max_length=200)] = None,
    identifier: Annotated[str | None, Query(max_length=200, description="plan id")] = None,
    count: Count = DEFAULT_COUNT, offset: Offset = 0,
) -> FhirResponse:
    """A searchset Bundle of the Locations matching every parameter given."""
    _check_params(request, _LOCATION_PARAMS)
    names = [(v, m) for v, m in ((name, None), (name_exact, "exact"),
                                 (name_contains, "contains")) if v is not None]
    if len(names) > 1:
        raise FhirError(400, "not-supported", "give only one of name, name:exact, "
                        "name:contains", "name")
    parent = _single(partof, "partof")
    criteria: dict[str, Any] = {
        "partof": None if parent is None else fhir.parse_reference(parent, "partof"),
        "type": _token(type, "type"), "identifier": _token(identifier, "identifier")}
    if names:
        criteria["name"] = _single(names[0][0], "name")
        criteria["name_modifier"] = names[0][1]
    index = await asyncio.to_thread(_locations, state)
    found = index.search(**criteria)
    base = _base(request)
    n = min(count, MAX_COUNT)
    page = [(f"{base}/Location/{r['id']}", r) for r in found[offset:offset + n]]
    return _page(request, f"{base}/Location", page, len(found), offset, n)


# ----------------------------------------------------------------------------- Device
def _device(state: AppState, asset: Asset, fix: FixRecord | None, now: float) -> Resource:
    return fhir.device(asset, fix, now=now, locations=_locations(state),
                       stale_after_s=_stale_after_s(state))


def _all_assets(store: Store, **filters: Any) -> list[Asset]:
    out: list[Asset] = []
    while True:
        page, total = store.search_assets(limit=1000, offset=len(out), **filters)
        out.extend(page)
        if not page or len(out) >= total:
            return out


def _by_identifier(store: Store, token: Token) -> set[str]:
    if token.code is None:
        raise FhirError(400, "not-supported", "identifier needs a value", "identifier")
    code, system = token.code, token.system
    out: set[str] = set()
    if system in (None, fhir.ASSET_SYSTEM) and store.get_asset(code) is not None:
        out.add(code)
    if system in (None, fhir.TAG_SYSTEM):
        asset = store.asset_for_tag(code)
        if asset is not None:
            out.add(asset)
    if system in (None, fhir.GIAI_SYSTEM, fhir.BARCODE_SYSTEM):
        for a in _all_assets(store, text=code):
            if system in (None, fhir.GIAI_SYSTEM) and a.giai == code:
                out.add(a.id)
            if system in (None, fhir.BARCODE_SYSTEM) and a.barcode == code:
                out.add(a.id)
    return out


def _at_location(state: AppState, loc: Locations, location_id: str, now: float) -> set[str]:
    plan = _locations(state).plan_id(location_id)
    if plan is None or plan[0] not in ("room", "level"):
        return set()  # Devices reference rooms (else levels) only
    kind, raw = plan
    since = now - _stale_after_s(state)
    fixes: Sequence[FixRecord]
    if kind == "room":
        fixes = loc.by_room.get(raw, ())
    else:  # only fixes between rooms point at the level
        fixes = [f for f in loc.by_level.get(raw, ())
                 if f.room is None or not state.site.has_room(f.room)]
    return {f.asset for f in fixes if f.asset is not None and f.ts >= since}


def _search_devices(state: AppState, store: Store, loc: Locations, *, identifier: Token | None,
                    type: Token | None, location: str | None, count: int, offset: int,
                    now: float) -> tuple[list[Resource], int]:
    if type is not None and type.system not in (None, fhir.ASSET_TYPE_SYSTEM):
        return [], 0
    asset_type = None if type is None else type.code
    if identifier is None and location is None:
        if type is not None and asset_type is None:  # "urn:sporing:asset-type|": any type
            assets = [a for a in _all_assets(store) if a.type is not None]
            page, total = assets[offset:offset + count], len(assets)
        else:
            page, total = store.search_assets(type=asset_type, limit=count, offset=offset)
        return [_device(state, a, loc.of_asset(a), now) for a in page], total
    ids: set[str] | None = None
    if identifier is not None:
        ids = _by_identifier(store, identifier)
    if location is not None:
        here = _at_location(state, loc, location, now)
        ids = here if ids is None else ids & here
    assert ids is not None
    devices = []
    for aid in sorted(ids):
        a = store.get_asset(aid)
        if a is None or (type is not None and (a.type is None or asset_type not in
                                               (None, a.type))):
            continue
        d = _device(state, a, loc.of_asset(a), now)
        if location is None or d.get("location", {}).get("reference") == \
                f"Location/{location}":
            devices.append(d)
    return devices[offset:offset + count], len(devices)


@router.get("/Device/{device_id}", response_model=FhirResource, summary="One Device (asset)")
async def read_device(state: StateDep, store: StoreDep, device_id: FhirId,
                      principal: PorterDep) -> FhirResponse:
    """The Device of the asset with this id, located in its current room."""
    asset_id = fhir.from_fhir_id(device_id)
    asset, fix = (None, None) if asset_id is None else await snapshots.where(state, asset_id)
    if asset is None:
        raise FhirError(404, "not-found", f"Device/{device_id} is not known")
    res = await asyncio.to_thread(_device, state, asset, fix, time.time())
    return FhirResponse(res)


@router.get("/Device", response_model=FhirResource, summary="Search Devices")
async def search_devices(
    request: Request, state: StateDep, store: StoreDep, principal: PorterDep,
    identifier: Annotated[str | None, Query(max_length=300,
                                            description="[system|]value")] = None,
    type: Annotated[str | None, Query(max_length=200, description="asset type")] = None,
    location: Annotated[str | None, Query(max_length=200, description="Location/<id>")
                        ] = None,
    count: Count = DEFAULT_COUNT, offset: Offset = 0,
) -> FhirResponse:
    """A searchset Bundle of the Devices matching every parameter given."""
    _check_params(request, _DEVICE_PARAMS)
    loc = _single(location, "location")
    where = None if loc is None else fhir.parse_reference(loc, "location")
    by_id, by_type = _token(identifier, "identifier"), _token(type, "type")
    n = min(count, MAX_COUNT)
    fixes = await snapshots.locations(state)

    def run() -> tuple[list[Resource], int]:
        return _search_devices(state, store, fixes, identifier=by_id, type=by_type, location=where,
                               count=n, offset=offset, now=time.time())

    devices, total = await asyncio.to_thread(run)
    base = _base(request)
    page = [(fhir.device_full_url(base, d), d) for d in devices]
    return _page(request, f"{base}/Device", page, total, offset, n)
