"""Levels and their drawings: SVG, and GeoJSON of the rooms for client-side maps."""

from __future__ import annotations

import asyncio
from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Path, Response
from shapely.geometry import mapping

from floorplans.geojson import rounded
from floorplans.model import Site
from floorplans.render import level_projection
from tracker.api.deps import StateDep
from tracker.api.errors import NotFoundError
from tracker.api.schemas import LevelOut
from tracker.api.security import PorterDep

__all__ = ["level_geojson", "router"]

router = APIRouter(prefix="/api/v1", tags=["floorplans"])

SVG_WIDTH_PX = 1200
LevelId = Annotated[str, Path(min_length=1, max_length=100, description="level id")]


@router.get("/levels", response_model=list[LevelOut], summary="Levels of the site")
async def levels(principal: PorterDep, state: StateDep) -> list[LevelOut]:
    """Every level with its SVG URL and the metres-to-pixels mapping of that SVG."""
    out = []
    for lv in state.site.levels:
        minx, maxy, scale, ox, oy = level_projection(state.site, lv.id, SVG_WIDTH_PX)
        out.append(LevelOut(id=lv.id, name=lv.name, building=lv.building,
                            svg=f"/api/v1/floorplans/{lv.id}.svg", min_x=minx, max_y=maxy,
                            scale=scale, offset_x=ox, offset_y=oy))
    return out


@router.get("/floorplans/{level_id}.svg", response_class=Response,
            summary="A level drawn as SVG",
            responses={200: {"content": {"image/svg+xml": {}}}, 404: {}})
async def floorplan_svg(principal: PorterDep, state: StateDep, level_id: LevelId) -> Response:
    """The level's plan (rooms, walls, doors, gateways), cached after the first request."""
    if not state.site.has_level(level_id):
        raise NotFoundError(f"unknown level {level_id!r}")
    key = f"svg:{level_id}"
    svg = state.cache.get(key)
    if svg is None:
        from floorplans.render import render_level_svg

        svg = await asyncio.to_thread(render_level_svg, state.site, level_id,
                                      width_px=SVG_WIDTH_PX)
        state.cache[key] = svg
    return Response(svg, media_type="image/svg+xml",
                    headers={"Cache-Control": "public, max-age=300"})


def level_geojson(site: Site, level_id: str) -> dict[str, Any]:
    """The rooms of a level as a GeoJSON FeatureCollection in site metres (x east, y north;
    not WGS84, so the collection carries no ``crs``), with the level as a foreign member."""
    lv = site.level(level_id)
    features = [{"type": "Feature", "id": r.id,
                 "geometry": {"type": "Polygon",
                              "coordinates": rounded(mapping(r.polygon)["coordinates"])},
                 "properties": {"id": r.id, "name": r.name, "category": r.category,
                                "department": r.department}}
                for r in site.rooms_on(level_id)]
    return {"type": "FeatureCollection",
            "level": {"id": lv.id, "name": lv.name, "building": lv.building},
            "features": features}


@router.get("/floorplans/{level_id}.geojson", summary="A level's rooms as GeoJSON",
            responses={200: {"content": {"application/geo+json": {}}}, 404: {}})
async def floorplan_geojson(principal: PorterDep, state: StateDep, level_id: LevelId
                            ) -> Response:
    """The level's rooms (properties ``id``, ``name``, ``category``, ``department``) in site
    metres, the same coordinates as fixes; cached after the first request."""
    if not state.site.has_level(level_id):
        raise NotFoundError(f"unknown level {level_id!r}")
    key = f"geojson:{level_id}"
    body = state.cache.get(key)
    if body is None:
        body = orjson.dumps(await asyncio.to_thread(level_geojson, state.site, level_id))
        state.cache[key] = body
    return Response(body, media_type="application/geo+json",
                    headers={"Cache-Control": "public, max-age=300"})
