"""FHIR R4 views of the floor plan and the asset registry (pure mapping, no HTTP).

A hospital's clinical systems read where a device is through two FHIR R4 resources:

* ``Location``: the site (``si``), its buildings (``bu``), levels (``lvl``) and rooms (``ro``;
  corridors ``co``), with ``physicalType`` from the HL7 code system
  :data:`PHYSICAL_TYPE_SYSTEM`, ``partOf`` room -> level -> building -> site, the plan's ids as
  identifiers, and a WGS84 ``position`` only when the plan has a georeference.
* ``Device``: one asset of the registry, with ``location`` referencing the room (else the
  level) of its latest fix, or no location when it has none or the fix is stale.

Resource ids. A FHIR id is 1-64 characters of ``[A-Za-z0-9.-]``. Location ids are the plan id
prefixed with its kind (``room-A1.101``, ``level-A1``, ``building-A``, ``site-fjellvik``) so a
building and a room may share a plan id; a Device id is the asset id. An id that is not a valid
FHIR id is carried reversibly as ``b32-`` + lower-case base32hex of its UTF-8 bytes (see
:func:`to_fhir_id`); an asset id too long even for that (over 37 bytes with characters outside
the alphabet) gives a Device without an id, listed in searches with a ``urn:uuid`` fullUrl.

Identifier systems. Plan ids, asset ids, tags, barcodes and asset types are local namespaces
``urn:sporing:<kind>`` (e.g. ``urn:sporing:asset``). The GS1 Global Individual Asset
Identifier (AI 8004) uses ``https://www.gs1.org/giai``: GS1 has no FHIR NamingSystem for GIAI,
and this follows the pattern of ``https://www.gs1.org/gtin``, the system FHIR's identifier
registry lists for GS1 GTINs (a chosen convention, not a registered one).
"""

from __future__ import annotations

import base64
import binascii
import re
import unicodedata
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import shapely

from floorplans.model import Site
from tracker.assets import Asset
from tracker.records import FixRecord

__all__ = [
    "ASSET_SYSTEM",
    "FHIR_JSON",
    "FHIR_VERSION",
    "GIAI_SYSTEM",
    "PHYSICAL_TYPE_SYSTEM",
    "FhirError",
    "LocationIndex",
    "Token",
    "capability_statement",
    "device",
    "device_full_url",
    "from_fhir_id",
    "operation_outcome",
    "page_links",
    "parse_reference",
    "parse_token",
    "searchset",
    "string_matches",
    "to_fhir_id",
]

Resource = dict[str, Any]

FHIR_VERSION = "4.0.1"
FHIR_JSON = "application/fhir+json"
PHYSICAL_TYPE_SYSTEM = "http://terminology.hl7.org/CodeSystem/location-physical-type"
GIAI_SYSTEM = "https://www.gs1.org/giai"
ASSET_SYSTEM = "urn:sporing:asset"
TAG_SYSTEM = "urn:sporing:tag"
BARCODE_SYSTEM = "urn:sporing:barcode"
ASSET_TYPE_SYSTEM = "urn:sporing:asset-type"
ROOM_CATEGORY_SYSTEM = "urn:sporing:room-category"

Kind = Literal["site", "building", "level", "room"]
_PLAN_SYSTEM: dict[str, str] = {k: f"urn:sporing:{k}" for k in ("site", "building", "level",
                                                                 "room")}
_PHYSICAL = {"site": ("si", "Site"), "building": ("bu", "Building"), "level": ("lvl", "Level"),
             "room": ("ro", "Room"), "corridor": ("co", "Corridor")}
_FHIR_ID = re.compile(r"[A-Za-z0-9\-.]{1,64}")
_ENCODED = "b32-"
_UUID_NS = uuid.UUID("5b0a3c52-6f1e-4d7e-9f0e-2f6c1e3a9d10")


class FhirError(Exception):
    """A request the FHIR API answers with an ``OperationOutcome`` error.

    Attributes:
        status: HTTP status (400 bad search parameter, 404 unknown id, ...).
        code: The issue type (``invalid``, ``not-found``, ``not-supported``, ...).
        diagnostics: What went wrong, for people.
        expression: The request parameter or element at fault, if any.
    """

    def __init__(self, status: int, code: str, diagnostics: str,
                 expression: str | None = None) -> None:
        super().__init__(diagnostics)
        self.status = status
        self.code = code
        self.diagnostics = diagnostics
        self.expression = expression


# ----------------------------------------------------------------------------- ids
def to_fhir_id(raw: str) -> str | None:
    """The FHIR id carrying ``raw``: itself when valid, else ``b32-`` + base32hex.

    Returns None when even the encoded form exceeds 64 characters. The mapping is one-to-one:
    a raw id that itself starts with ``b32-`` is encoded too.
    """
    if _FHIR_ID.fullmatch(raw) and not raw.startswith(_ENCODED):
        return raw
    encoded = _ENCODED + base64.b32hexencode(raw.encode()).decode().rstrip("=").lower()
    return encoded if len(encoded) <= 64 else None


def from_fhir_id(fhir_id: str) -> str | None:
    """The raw id :func:`to_fhir_id` made ``fhir_id`` from; None if it is not one it makes."""
    if not _FHIR_ID.fullmatch(fhir_id):
        return None
    if not fhir_id.startswith(_ENCODED):
        return fhir_id
    body = fhir_id[len(_ENCODED):].upper()
    try:
        raw = base64.b32hexdecode(body + "=" * (-len(body) % 8)).decode()
    except (binascii.Error, ValueError):
        return None
    return raw if to_fhir_id(raw) == fhir_id else None


# ----------------------------------------------------------------------------- search input
@dataclass(frozen=True, slots=True)
class Token:
    """A FHIR token search value ``[system|]code``; ``system`` "" means "no system"."""

    system: str | None
    code: str | None

    def matches(self, system: str | None, code: str) -> bool:
        """Whether a coding or identifier ``(system, code)`` satisfies this token."""
        if self.system is not None and (system or "") != self.system:
            return False
        return self.code is None or self.code == code


def parse_token(value: str, param: str) -> Token:
    """Parse ``code``, ``system|code``, ``|code`` or ``system|``.

    Raises:
        FhirError: 400 naming ``param`` when the value is empty.
    """
    if "|" not in value:
        if not value:
            raise FhirError(400, "invalid", f"{param} must not be empty", param)
        return Token(None, value)
    system, _, code = value.partition("|")
    if not system and not code:
        raise FhirError(400, "invalid", f"{param} needs a code or a system", param)
    return Token(system, code or None)


def parse_reference(value: str, param: str, resource_type: str = "Location") -> str:
    """The logical id of a reference search value ``id``, ``Type/id`` or an absolute URL.

    Raises:
        FhirError: 400 naming ``param`` for another resource type or an invalid id.
    """
    parts = value.rstrip("/").split("/")
    if len(parts) >= 2:
        rtype, rid = parts[-2], parts[-1]
        if rtype != resource_type:
            raise FhirError(400, "invalid",
                            f"{param} must reference a {resource_type}, got {value!r}", param)
    else:
        rid = parts[0]
    if not _FHIR_ID.fullmatch(rid):
        raise FhirError(400, "invalid", f"{param}: {rid!r} is not a FHIR id", param)
    return rid


def _fold(text: str) -> str:
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(c for c in decomposed if not unicodedata.combining(c)).casefold()


def string_matches(value: str, candidates: Iterable[str], modifier: str | None) -> bool:
    """FHIR string search: case- and accent-insensitive prefix match by default;
    ``contains`` matches anywhere; ``exact`` compares exactly."""
    if modifier == "exact":
        return any(c == value for c in candidates)
    v = _fold(value)
    if modifier == "contains":
        return any(v in _fold(c) for c in candidates)
    return any(_fold(c).startswith(v) for c in candidates)


# ----------------------------------------------------------------------------- Location
@dataclass(frozen=True, slots=True)
class _Entry:
    kind: Kind
    raw: str
    resource: Resource


class LocationIndex:
    """Every ``Location`` of a site, by FHIR id, built once from the plan.

    Args:
        site: The floor plan.
    """

    def __init__(self, site: Site) -> None:
        self.site = site
        self._by_id: dict[str, _Entry] = {}
        self._ref: dict[tuple[Kind, str], str] = {}
        frame = None
        if site.georeference is not None:
            from floorplans.geo import LocalFrame

            frame = LocalFrame(site.georeference)
        points: list[tuple[float, float] | None] = []
        pending: list[Resource] = []

        def add(kind: Kind, raw: str, name: str, parent: tuple[Kind, str] | None,
                point: tuple[float, float] | None, physical: str,
                extra: Resource | None = None) -> None:
            fid = to_fhir_id(f"{kind}-{raw}")
            if fid in self._by_id:  # a duplicate plan id: the first one wins, as in Site
                return
            if fid is None:  # plan id too long to carry; its children point at its parent
                if parent is not None and parent in self._ref:
                    self._ref[(kind, raw)] = self._ref[parent]
                return
            code, display = _PHYSICAL[physical]
            res: Resource = {
                "resourceType": "Location", "id": fid,
                "identifier": [{"system": _PLAN_SYSTEM[kind], "value": raw}],
                "status": "active", "name": name, "mode": "instance",
                "physicalType": {"coding": [{"system": PHYSICAL_TYPE_SYSTEM, "code": code,
                                             "display": display}], "text": display},
            }
            if extra:
                res.update(extra)
            if parent is not None and parent in self._ref:
                res["partOf"] = {"reference": f"Location/{self._ref[parent]}",
                                 "display": self._by_id[self._ref[parent]].resource["name"]}
            self._ref[(kind, raw)] = fid
            self._by_id[fid] = _Entry(kind, raw, res)
            pending.append(res)
            points.append(point)

        def centre(geom: Any) -> tuple[float, float] | None:
            if geom is None or geom.is_empty:
                return None
            p = geom.representative_point()
            return float(p.x), float(p.y)

        outlines = [g for g in (*(b.outline for b in site.buildings),
                                *(lv.outline for lv in site.levels)) if g is not None]
        middle = shapely.unary_union(outlines).centroid if outlines else None
        add("site", site.id, site.name, None,
            None if middle is None else (float(middle.x), float(middle.y)), "site")
        for b in site.buildings:
            add("building", b.id, b.name, ("site", site.id), centre(b.outline), "building")
        for lv in site.levels:
            add("level", lv.id, lv.name, ("building", lv.building), centre(lv.outline), "level",
                {"alias": [lv.id]})
        for r in site.rooms:
            extra: Resource = {"alias": [r.id], "type": [{
                "coding": [{"system": ROOM_CATEGORY_SYSTEM, "code": r.category}],
                "text": r.category.replace("_", " ")}]}
            if r.department:
                extra["description"] = r.department
            add("room", r.id, r.name, ("level", r.level), centre(r.polygon),
                "corridor" if r.category == "corridor" else "room", extra)
        if frame is not None:
            known = [(i, p) for i, p in enumerate(points) if p is not None]
            if known:
                xs = np.array([p[0] for _, p in known])
                ys = np.array([p[1] for _, p in known])
                lon, lat = frame.to_wgs84(xs, ys)
                for (i, _), lo, la in zip(known, lon, lat, strict=True):
                    pending[i]["position"] = {"longitude": round(float(lo), 7),
                                              "latitude": round(float(la), 7)}

    def __len__(self) -> int:
        return len(self._by_id)

    def get(self, fhir_id: str) -> Resource | None:
        """The Location with this FHIR id, or None."""
        e = self._by_id.get(fhir_id)
        return None if e is None else e.resource

    def all(self) -> list[Resource]:
        """Every Location: the site, buildings, levels, then rooms in plan order."""
        return [e.resource for e in self._by_id.values()]

    def reference(self, *, level: str | None, room: str | None) -> Resource | None:
        """A ``Reference`` to the room (when the plan has it), else the level, else None."""
        fid = None
        if room is not None:
            fid = self._ref.get(("room", room))
        if fid is None and level is not None:
            fid = self._ref.get(("level", level))
        if fid is None:
            return None
        return {"reference": f"Location/{fid}", "display": self._by_id[fid].resource["name"]}

    def plan_id(self, fhir_id: str) -> tuple[Kind, str] | None:
        """``(kind, plan id)`` of a Location, or None when there is none with this id."""
        e = self._by_id.get(fhir_id)
        return None if e is None else (e.kind, e.raw)

    def search(self, *, partof: str | None = None, type: Token | None = None,
               name: str | None = None, name_modifier: str | None = None,
               identifier: Token | None = None) -> list[Resource]:
        """Locations matching every given criterion (FHIR semantics for each parameter)."""
        out = []
        for e in self._by_id.values():
            r = e.resource
            if partof is not None and r.get("partOf", {}).get("reference") != f"Location/"\
                    f"{partof}":
                continue
            if type is not None and not any(
                    type.matches(c.get("system"), c["code"])
                    for t in r.get("type", []) for c in t["coding"]):
                continue
            if name is not None and not string_matches(
                    name, [r["name"], *r.get("alias", [])], name_modifier):
                continue
            if identifier is not None and not any(
                    identifier.matches(i["system"], i["value"]) for i in r["identifier"]):
                continue
            out.append(r)
        return out


# ----------------------------------------------------------------------------- Device
def device(asset: Asset, fix: FixRecord | None, *, now: float, locations: LocationIndex,
           stale_after_s: float) -> Resource:
    """The ``Device`` of an asset; ``fix`` is its latest fix (None: never located).

    ``location`` references the fix's room (else its level) unless the fix is older than
    ``stale_after_s``. ``status`` is ``active`` for a registry status ``active`` and
    ``inactive`` for ``in_repair``, ``retired`` and ``lost``.
    """
    identifiers: list[Resource] = [{"use": "usual", "system": ASSET_SYSTEM, "value": asset.id}]
    if asset.giai:
        identifiers.append({"system": GIAI_SYSTEM, "value": asset.giai})
    if asset.barcode:
        identifiers.append({"system": BARCODE_SYSTEM, "value": asset.barcode})
    identifiers.extend({"use": "secondary", "system": TAG_SYSTEM, "value": t}
                       for t in asset.tags)
    res: Resource = {"resourceType": "Device"}
    fid = to_fhir_id(asset.id)
    if fid is not None:
        res["id"] = fid
    res["identifier"] = identifiers
    res["status"] = "active" if asset.status == "active" else "inactive"
    if asset.serial:
        res["serialNumber"] = asset.serial
    res["deviceName"] = [{"name": asset.name, "type": "user-friendly-name"}]
    if asset.model:
        res["deviceName"].append({"name": asset.model, "type": "model-name"})
        res["modelNumber"] = asset.model
    if asset.type:
        res["type"] = {"coding": [{"system": ASSET_TYPE_SYSTEM, "code": asset.type}],
                       "text": asset.type.replace("_", " ")}
    if fix is not None and now - fix.ts <= stale_after_s:
        ref = locations.reference(level=fix.level, room=fix.room)
        if ref is not None:
            res["location"] = ref
    return res


def device_full_url(base: str, resource: Resource) -> str:
    """``fullUrl`` of a Device entry: its RESTful URL, or a ``urn:uuid`` when it has no id."""
    if "id" in resource:
        return f"{base}/Device/{resource['id']}"
    asset_id = resource["identifier"][0]["value"]
    return f"urn:uuid:{uuid.uuid5(_UUID_NS, asset_id)}"


# ----------------------------------------------------------------------------- envelopes
def searchset(entries: Sequence[tuple[str, Resource]], total: int,
              links: Sequence[Resource]) -> Resource:
    """A ``searchset`` Bundle of ``(fullUrl, resource)`` entries, all matches (FHIR JSON has
    no empty arrays, so an empty page has no ``entry``)."""
    bundle: Resource = {"resourceType": "Bundle", "type": "searchset", "total": total}
    if links:
        bundle["link"] = list(links)
    if entries:
        bundle["entry"] = [{"fullUrl": url, "resource": r, "search": {"mode": "match"}}
                           for url, r in entries]
    return bundle


def page_links(url: str, params: Sequence[tuple[str, str]], *, offset: int, count: int,
               total: int) -> list[Resource]:
    """``self``, ``first``, ``previous``, ``next`` and ``last`` links of one page.

    Args:
        url: The search URL without its query.
        params: The query parameters except ``_count`` and ``_offset``.
        offset: Index of the page's first match.
        count: Page size (0: the Bundle only counts).
        total: Number of matches.
    """
    from urllib.parse import urlencode

    def link(relation: str, off: int) -> Resource:
        q = urlencode([*params, ("_count", str(count)), ("_offset", str(off))])
        return {"relation": relation, "url": f"{url}?{q}"}

    out = [link("self", offset)]
    if count <= 0:
        return out
    last = max(0, (total - 1) // count * count)
    out.append(link("first", 0))
    if offset > 0:
        out.append(link("previous", max(0, offset - count)))
    if offset + count < total:
        out.append(link("next", offset + count))
    out.append(link("last", last))
    return out


def operation_outcome(code: str, diagnostics: str, expression: str | None = None,
                      severity: str = "error") -> Resource:
    """An ``OperationOutcome`` with one issue."""
    issue: Resource = {"severity": severity, "code": code, "diagnostics": diagnostics}
    if expression:
        issue["expression"] = [expression]
    return {"resourceType": "OperationOutcome", "issue": [issue]}


def _search_param(name: str, type_: str, doc: str) -> Resource:
    return {"name": name, "type": type_, "documentation": doc}


def capability_statement(*, base_url: str, date: str, software_version: str) -> Resource:
    """The server's ``CapabilityStatement`` (what ``/metadata`` returns).

    Args:
        base_url: The FHIR base URL (``.../fhir/R4``).
        date: When this statement was published (FHIR dateTime).
        software_version: The Sporing version.
    """
    count = _search_param("_count", "number", "Page size (default 50, at most 500).")
    offset = _search_param("_offset", "number", "Index of the first match of the page.")
    return {
        "resourceType": "CapabilityStatement", "status": "active", "date": date,
        "publisher": "Sporing", "kind": "instance",
        "software": {"name": "Sporing", "version": software_version},
        "implementation": {"description": "Sporing real-time location of hospital equipment",
                           "url": base_url},
        "fhirVersion": FHIR_VERSION, "format": [FHIR_JSON, "json"],
        "rest": [{
            "mode": "server",
            "documentation": "Read-only. Unknown search parameters are rejected (400).",
            "security": {"description": "Send 'Authorization: Bearer <API token>' (role "
                                        "porter or above), or the web session cookie."},
            "resource": [
                {"type": "Device", "interaction": [{"code": "read"}, {"code": "search-type"}],
                 "searchParam": [
                     _search_param("identifier", "token",
                                   f"Asset id ({ASSET_SYSTEM}), GIAI ({GIAI_SYSTEM}), "
                                   f"barcode ({BARCODE_SYSTEM}) or tag ({TAG_SYSTEM})."),
                     _search_param("type", "token", f"Asset type ({ASSET_TYPE_SYSTEM})."),
                     _search_param("location", "reference",
                                   "Devices whose current location is this Location."),
                     count, offset]},
                {"type": "Location", "interaction": [{"code": "read"},
                                                     {"code": "search-type"}],
                 "searchParam": [
                     _search_param("partof", "reference", "Locations directly inside it."),
                     _search_param("type", "token",
                                   f"Room category ({ROOM_CATEGORY_SYSTEM})."),
                     _search_param("name", "string",
                                   "Name or plan id; supports :exact and :contains."),
                     _search_param("identifier", "token", "The plan's id."),
                     count, offset]},
            ],
        }],
    }
