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
from tracker.api.errors import ApiError, status_of
from tracker.api.security import PorterDep
from tracker.api.state import AppState
from tracker.assets import Asset
from tracker.fhir import FhirError, LocationIndex, Resource, Token
from tracker.lookup import Locations, Registry
from tracker.records import FixRecord
from tracker.store.base import Store, StoreError, all_assets

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
                    409: "conflict", 500: "exception", 503: "transient"}


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


def _issue(status: int) -> str:
    return _ISSUE_OF_STATUS.get(status, "processing")


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
                return _outcome(exc.status_code, _issue(exc.status_code), str(exc.detail),
                                headers=exc.headers)
            except (ApiError, StoreError) as exc:
                status, detail = status_of(exc)
                return _outcome(status, _issue(status), detail)

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
                       stale_after_s=state.states.stale_after_s)


def _by_identifier(store: Store, reg: Registry, token: Token) -> dict[str, Asset]:
    """The assets with this identifier: asset id and tag from the registry snapshot; GIAI and
    barcode through the store's text search (then compared exactly)."""
    if token.code is None:
        raise FhirError(400, "not-supported", "identifier needs a value", "identifier")
    code, system = token.code, token.system
    out: dict[str, Asset] = {}
    if system in (None, fhir.ASSET_SYSTEM) and code in reg.by_id:
        out[code] = reg.by_id[code]
    if system in (None, fhir.TAG_SYSTEM):
        paired = reg.by_tag.get(code)
        if paired is not None:
            out[paired] = reg.by_id[paired]
    if system in (None, fhir.GIAI_SYSTEM, fhir.BARCODE_SYSTEM):
        for a in all_assets(store, text=code):
            if ((system in (None, fhir.GIAI_SYSTEM) and a.giai == code)
                    or (system in (None, fhir.BARCODE_SYSTEM) and a.barcode == code)):
                out[a.id] = reg.by_id.get(a.id, a)
    return out


def _at_location(state: AppState, reg: Registry, loc: Locations, location_id: str,
                 now: float) -> dict[str, Asset]:
    """The assets a recent fix places in the room or (between rooms) on the level; the
    caller still checks each Device's own location."""
    plan = _locations(state).plan_id(location_id)
    if plan is None or plan[0] not in ("room", "level"):
        return {}  # Devices reference rooms (else levels) only
    kind, raw = plan
    since = now - state.states.stale_after_s
    fixes: Sequence[FixRecord]
    if kind == "room":
        fixes = loc.by_room.get(raw, ())
    else:  # only fixes between rooms point at the level
        fixes = [f for f in loc.by_level.get(raw, ())
                 if f.room is None or not state.site.has_room(f.room)]
    ids = reg.asset_ids(f for f in fixes if f.ts >= since)
    return {aid: reg.by_id[aid] for aid in ids if aid in reg.by_id}


def _search_devices(state: AppState, store: Store, reg: Registry, loc: Locations, *,
                    identifier: Token | None, type: Token | None, location: str | None,
                    count: int, offset: int, now: float) -> tuple[list[Resource], int]:
    if type is not None and type.system not in (None, fhir.ASSET_TYPE_SYSTEM):
        return [], 0
    asset_type = None if type is None else type.code
    if identifier is None and location is None:
        assets: Sequence[Asset]
        if type is None:
            assets = reg.assets
        elif asset_type is None:  # "urn:sporing:asset-type|": any type
            assets = [a for a in reg.assets if a.type is not None]
        else:
            assets = reg.by_type.get(asset_type, ())
        return ([_device(state, a, loc.of_asset(a), now) for a in assets[offset:offset + count]],
                len(assets))
    found: dict[str, Asset] | None = None
    if identifier is not None:
        found = _by_identifier(store, reg, identifier)
    if location is not None:
        here = _at_location(state, reg, loc, location, now)
        found = here if found is None else {k: a for k, a in found.items() if k in here}
    assert found is not None
    devices = []
    for aid in sorted(found):
        a = found[aid]
        if type is not None and (a.type is None or asset_type not in (None, a.type)):
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
    reg = await snapshots.registry(state)
    fixes = await snapshots.locations(state)

    def run() -> tuple[list[Resource], int]:
        return _search_devices(state, store, reg, fixes, identifier=by_id, type=by_type,
                               location=where, count=n, offset=offset, now=time.time())

    devices, total = await asyncio.to_thread(run)
    base = _base(request)
    page = [(fhir.device_full_url(base, d), d) for d in devices]
    return _page(request, f"{base}/Device", page, total, offset, n)
