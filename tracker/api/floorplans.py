"""Levels and their SVG drawings."""

from __future__ import annotations

import asyncio
from typing import Annotated

from fastapi import APIRouter, Path, Response

from floorplans.render import level_projection
from tracker.api.deps import StateDep
from tracker.api.errors import NotFoundError
from tracker.api.schemas import LevelOut

__all__ = ["router"]

router = APIRouter(prefix="/api/v1", tags=["floorplans"])

SVG_WIDTH_PX = 1200


@router.get("/levels", response_model=list[LevelOut], summary="Levels of the site")
async def levels(state: StateDep) -> list[LevelOut]:
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
async def floorplan_svg(
    state: StateDep, level_id: Annotated[str, Path(min_length=1, max_length=100)],
) -> Response:
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
