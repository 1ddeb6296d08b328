"""Render one level of a site as a standalone SVG floor plan (hand-written SVG, no dependencies).

The drawing has rooms filled by category group, each group with its own colour *and* hatch
pattern and a legend naming it (information is never carried by colour alone); room labels
where they fit; walls with a stroke width by material; doors; connectors (lettered symbols);
gateways (symbol + id); a scale bar, a north arrow (from the site's georeference rotation) and a
title block.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from html import escape

from shapely.geometry import LineString, Point, Polygon
from shapely.ops import polylabel

from floorplans.model import Level, Site

__all__ = [
    "CATEGORY_GROUPS",
    "GroupStyle",
    "group_of",
    "level_projection",
    "render_level_svg",
]


@dataclass(frozen=True, slots=True)
class GroupStyle:
    """How a category group is drawn: fill colour, hatch pattern id and legend label."""

    label: str
    fill: str
    pattern: str | None


#: Category groups, in legend order. Fills are light (label text stays >= 7:1 contrast);
#: patterns distinguish groups for readers who cannot tell the colours apart and in greyscale.
CATEGORY_GROUPS: Mapping[str, GroupStyle] = {
    "clinical": GroupStyle("Clinical", "#f4c7c3", "diag"),
    "staff": GroupStyle("Staff / office", "#cde5c4", None),
    "utility": GroupStyle("Utility / storage", "#e3d3b4", "dots"),
    "sanitary": GroupStyle("Sanitary", "#c4e0ec", "grid"),
    "public": GroupStyle("Public / food", "#f6e6a8", "hlines"),
    "vertical": GroupStyle("Stairs / elevator", "#c5cbe8", "cross"),
    "circulation": GroupStyle("Circulation", "#f1f1ee", None),
    "room": GroupStyle("Room (unspecified)", "#ffffff", "vlines"),
}

_GROUP_OF: dict[str, str] = {}
for _group, _cats in {
    "clinical": "patient_room icu operating_room emergency firstaid laboratory",
    "staff": "office nurse_station conferenceroom huddleroom phoneroom classroom library "
    "auditorium privatelounge",
    "utility": "clean_utility dirty_utility equipment_storage storage serverroom mailroom "
    "nonpublic structure column brick concrete drywall glass wood",
    "sanitary": "restroom restroom.family restroom.female restroom.female.wheelchair "
    "restroom.male restroom.male.wheelchair restroom.transgender "
    "restroom.transgender.wheelchair restroom.unisex restroom.unisex.wheelchair "
    "restroom.wheelchair shower mothersroom",
    "public": "foodservice kitchen lounge waitingroom recreation fitnessroom movietheater "
    "theater smokingarea",
    "vertical": "elevator stairs escalator steps",
    "circulation": "corridor walkway walkway.island lobby ramp footbridge movingwalkway "
    "unenclosedarea opentobelow platform terrace road parking vegetation fieldofplay",
}.items():
    for _c in _cats.split():
        _GROUP_OF[_c] = _group

_WALL_STYLE: Mapping[str, tuple[float, str]] = {
    "glass": (1.2, "#3a7ca5"),
    "drywall": (1.6, "#3c3c3c"),
    "wood": (2.0, "#7a4b22"),
    "brick": (2.6, "#8c2f1b"),
    "concrete": (3.4, "#1a1a1a"),
    "metal": (4.0, "#4b5563"),
    "lead": (4.6, "#111827"),
}
_FONT = "DejaVu Sans, Helvetica, Arial, sans-serif"
_LEGEND_W = 300.0
_MARGIN = 40.0
_TITLE_H = 78.0


def group_of(category: str) -> str:
    """The category group (a key of :data:`CATEGORY_GROUPS`) of a room category."""
    return _GROUP_OF.get(category, "room")


class _Proj:
    """Local metres -> SVG pixels (y flipped)."""

    def __init__(self, bounds: tuple[float, float, float, float], width: float) -> None:
        minx, miny, maxx, maxy = bounds
        span_x, span_y = max(maxx - minx, 1.0), max(maxy - miny, 1.0)
        self.scale = width / span_x
        self.minx, self.maxy = minx, maxy
        self.height = span_y * self.scale

    def xy(self, x: float, y: float) -> tuple[float, float]:
        return (_MARGIN + (x - self.minx) * self.scale, _TITLE_H + (self.maxy - y) * self.scale)

    def path(self, coords: Iterable[tuple[float, ...]]) -> str:
        pts = [self.xy(c[0], c[1]) for c in coords]
        return "M" + "L".join(f"{x:.1f},{y:.1f}" for x, y in pts)

    def polygon(self, poly: Polygon) -> str:
        rings = [poly.exterior, *poly.interiors]
        return " ".join(self.path(r.coords) + "Z" for r in rings)


def _projection(site: Site, level_id: str, width_px: int) -> _Proj:
    level = site.level(level_id)
    minx, miny, maxx, maxy = level.outline.bounds
    for r in site.rooms_on(level_id):
        bx = r.polygon.bounds
        minx, miny, maxx, maxy = min(minx, bx[0]), min(miny, bx[1]), max(maxx, bx[2]), max(
            maxy, bx[3]
        )
    for g in site.gateways_on(level_id):
        minx, miny, maxx, maxy = min(minx, g.x), min(miny, g.y), max(maxx, g.x), max(maxy, g.y)
    pad = 0.03 * max(maxx - minx, maxy - miny, 1.0)
    return _Proj((minx - pad, miny - pad, maxx + pad, maxy + pad), float(width_px))


def level_projection(site: Site, level_id: str, width_px: int = 1200
                     ) -> tuple[float, float, float, float, float]:
    """How :func:`render_level_svg` maps local metres to SVG pixels for one level.

    Returns:
        ``(min_x, max_y, scale, offset_x, offset_y)``: pixel ``x = offset_x + (x - min_x) *
        scale`` and ``y = offset_y + (max_y - y) * scale``.

    Raises:
        KeyError: Unknown level.
    """
    proj = _projection(site, level_id, width_px)
    return proj.minx, proj.maxy, proj.scale, _MARGIN, _TITLE_H


def render_level_svg(site: Site, level_id: str, *, width_px: int = 1200) -> str:
    """An SVG document drawing one level.

    Args:
        site: The site.
        level_id: Id of the level to draw.
        width_px: Width of the plan area in pixels (the legend panel is added to it).

    Returns:
        The SVG text.

    Raises:
        KeyError: Unknown level.
    """
    level = site.level(level_id)
    rooms = site.rooms_on(level_id)
    walls = site.walls_on(level_id)
    doors = [o for o in site.openings if o.level == level_id]
    gateways = site.gateways_on(level_id)
    connectors = [c for c in site.connectors if level_id in c.levels]
    proj = _projection(site, level_id, width_px)
    total_w = _MARGIN * 2 + width_px + _LEGEND_W
    plan_h = proj.height
    total_h = max(_TITLE_H + plan_h + 70.0, _TITLE_H + 420.0)
    out: list[str] = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{total_w:.0f}" height="{total_h:.0f}" '
        f'viewBox="0 0 {total_w:.0f} {total_h:.0f}" font-family="{_FONT}">',
        f"<title>{escape(site.name)} - {escape(level.name)}</title>",
        _defs(),
        f'<rect width="{total_w:.0f}" height="{total_h:.0f}" fill="#ffffff"/>',
    ]
    out += _title(site, level, len(rooms), sum(r.polygon.area for r in rooms))
    out.append(f'<path d="{proj.polygon(level.outline)}" fill="#fafaf7" stroke="#9a9a94" '
               'stroke-width="1" stroke-dasharray="6 3" fill-rule="evenodd"/>')
    used = Counter(group_of(r.category) for r in rooms)
    for r in rooms:
        style = CATEGORY_GROUPS[group_of(r.category)]
        d = proj.polygon(r.polygon)
        out.append(f'<path d="{d}" fill="{style.fill}" stroke="#b8b8b0" stroke-width="0.6" '
                   f'fill-rule="evenodd"><title>{escape(r.id)}: {escape(r.name or "")} '
                   f"({escape(r.category)})</title></path>")
        if style.pattern:
            out.append(f'<path d="{d}" fill="url(#pat-{style.pattern})" stroke="none" '
                       'fill-rule="evenodd"/>')
    for w in walls:
        sw, colour = _WALL_STYLE.get(w.material, (1.6, "#3c3c3c"))
        out.append(f'<path d="{proj.path(w.line.coords)}" fill="none" stroke="{colour}" '
                   f'stroke-width="{sw}" stroke-linecap="square" stroke-linejoin="miter"/>')
    for o in doors:
        out.append(_door(proj, o.geometry))
    for r in rooms:
        out += _room_label(proj, r.polygon, r.name, r.category)
    for c in connectors:
        x, y = proj.xy(c.x, c.y)
        letter = {"elevator": "E", "stairs": "S", "escalator": "Es", "ramp": "R"}.get(c.kind, "C")
        out.append(f'<g><title>{escape(c.id)}: {escape(c.kind)} '
                   f'{escape(", ".join(c.levels))}</title>'
                   f'<circle cx="{x:.1f}" cy="{y:.1f}" r="9" fill="#1f3a93" stroke="#ffffff" '
                   f'stroke-width="1.5"/><text x="{x:.1f}" y="{y + 3.8:.1f}" font-size="10.5" '
                   f'font-weight="bold" fill="#ffffff" text-anchor="middle">{letter}</text></g>')
    for g in gateways:
        out += _gateway(proj, g.id, g.x, g.y, g.tech)
    out += _scale_bar(proj, _TITLE_H + plan_h + 30.0)
    rotation = site.georeference.rotation_deg if site.georeference else 0.0
    out += _north_arrow(_MARGIN * 1.5 + width_px + _LEGEND_W - 50.0, _TITLE_H - 30.0, rotation)
    walls_used = Counter(w.material for w in walls)
    out += _legend(_MARGIN * 1.5 + width_px, _TITLE_H, used, walls_used, bool(doors),
                   Counter(c.kind for c in connectors), Counter(g.tech for g in gateways))
    out.append("</svg>")
    return "\n".join(out) + "\n"


def _defs() -> str:
    stroke = 'stroke="#5b5b55" stroke-opacity="0.45" stroke-width="0.8"'
    return (
        "<defs>"
        f'<pattern id="pat-diag" width="8" height="8" patternUnits="userSpaceOnUse" '
        f'patternTransform="rotate(45)"><line x1="0" y1="0" x2="0" y2="8" {stroke}/></pattern>'
        f'<pattern id="pat-cross" width="8" height="8" patternUnits="userSpaceOnUse" '
        f'patternTransform="rotate(45)"><path d="M0,0V8M0,0H8" {stroke}/></pattern>'
        f'<pattern id="pat-grid" width="7" height="7" patternUnits="userSpaceOnUse">'
        f'<path d="M0,0V7M0,0H7" {stroke}/></pattern>'
        f'<pattern id="pat-hlines" width="8" height="6" patternUnits="userSpaceOnUse">'
        f'<line x1="0" y1="0" x2="8" y2="0" {stroke}/></pattern>'
        f'<pattern id="pat-vlines" width="10" height="10" patternUnits="userSpaceOnUse">'
        f'<line x1="0" y1="0" x2="0" y2="10" {stroke}/></pattern>'
        '<pattern id="pat-dots" width="7" height="7" patternUnits="userSpaceOnUse">'
        '<circle cx="3.5" cy="3.5" r="1" fill="#5b5b55" fill-opacity="0.5"/></pattern>'
        "</defs>"
    )


def _title(site: Site, level: Level, n_rooms: int, area: float) -> list[str]:
    building = next((b.name for b in site.buildings if b.id == level.building), level.building)
    sub = (f"{building} · ordinal {level.ordinal} · elevation "
           f"{level.elevation_m:g} m · {n_rooms} rooms · {area:,.0f} m²")
    return [
        f'<text x="{_MARGIN}" y="36" font-size="22" font-weight="bold" fill="#111111">'
        f"{escape(site.name)} — {escape(level.name)}</text>",
        f'<text x="{_MARGIN}" y="58" font-size="13" fill="#444444">{escape(sub)}</text>',
        f'<line x1="{_MARGIN}" y1="68" x2="{_MARGIN + 400}" y2="68" stroke="#111111" '
        'stroke-width="1.5"/>',
    ]


def _room_label(proj: _Proj, poly: Polygon, name: str, category: str) -> list[str]:
    try:
        anchor = polylabel(poly, tolerance=0.05)
    except Exception:  # degenerate polygons: fall back to a point on the surface
        anchor = poly.representative_point()
    if not isinstance(anchor, Point):
        return []
    clearance = poly.exterior.distance(anchor) * proj.scale
    minx, _, maxx, _ = poly.bounds
    room_w = (maxx - minx) * proj.scale
    text = name or category.replace("_", " ")
    size = min(12.0, clearance * 0.9)
    if size * 0.56 * len(text) > room_w * 0.9:
        size = room_w * 0.9 / (0.56 * max(len(text), 1))
    if size < 6.5:
        return []
    x, y = proj.xy(anchor.x, anchor.y)
    lines = [f'<text x="{x:.1f}" y="{y + size * 0.35:.1f}" font-size="{size:.1f}" '
             f'fill="#1a1a1a" text-anchor="middle">{escape(text)}</text>']
    if name and clearance > size * 2.6 and 0.5 * size * 0.56 * len(category) < room_w:
        lines.append(f'<text x="{x:.1f}" y="{y + size * 1.45:.1f}" font-size="{size * 0.75:.1f}" '
                     f'fill="#4a4a4a" text-anchor="middle">{escape(category)}</text>')
    return lines


def _door(proj: _Proj, geom: LineString | Point) -> str:
    if isinstance(geom, Point):
        x, y = proj.xy(geom.x, geom.y)
        return (f'<rect x="{x - 4:.1f}" y="{y - 4:.1f}" width="8" height="8" fill="#ffffff" '
                f'stroke="#9a5b13" stroke-width="2" transform="rotate(45 {x:.1f} {y:.1f})"/>')
    return (f'<path d="{proj.path(geom.coords)}" fill="none" stroke="#ffffff" stroke-width="5"/>'
            f'<path d="{proj.path(geom.coords)}" fill="none" stroke="#9a5b13" stroke-width="2" '
            'stroke-dasharray="3 2"/>')


def _gateway(proj: _Proj, gid: str, gx: float, gy: float, tech: str) -> list[str]:
    x, y = proj.xy(gx, gy)
    if tech == "uwb":
        mark = (f'<rect x="{x - 6:.1f}" y="{y - 6:.1f}" width="12" height="12" fill="#c2410c" '
                'stroke="#ffffff" stroke-width="1.5"/>')
    else:
        mark = (f'<path d="M{x:.1f},{y - 8:.1f}L{x + 7:.1f},{y + 5:.1f}L{x - 7:.1f},{y + 5:.1f}Z" '
                'fill="#047857" stroke="#ffffff" stroke-width="1.5"/>')
    return [
        f'<circle cx="{x:.1f}" cy="{y:.1f}" r="12" fill="none" stroke="#047857" '
        'stroke-opacity="0.5" stroke-width="1"/>' if tech != "uwb" else "",
        mark,
        f'<text x="{x + 10:.1f}" y="{y - 9:.1f}" font-size="10" fill="#111111" stroke="#ffffff" '
        f'stroke-width="3" paint-order="stroke">{escape(gid)}</text>',
    ]


def _nice_length(target_m: float) -> float:
    exp = 10 ** math.floor(math.log10(max(target_m, 1e-3)))
    for m in (1, 2, 5, 10):
        if m * exp >= target_m:
            return float(m * exp)
    return float(10 * exp)


def _scale_bar(proj: _Proj, y: float) -> list[str]:
    length = _nice_length(180.0 / proj.scale)
    px = length * proj.scale
    x0 = _MARGIN
    out = []
    for i in range(4):
        fill = "#111111" if i % 2 == 0 else "#ffffff"
        out.append(f'<rect x="{x0 + i * px / 4:.1f}" y="{y:.1f}" width="{px / 4:.1f}" height="6" '
                   f'fill="{fill}" stroke="#111111" stroke-width="1"/>')
    for i, frac in enumerate((0.0, 0.5, 1.0)):
        label = f"{length * frac:g}" + (" m" if i == 2 else "")
        out.append(f'<text x="{x0 + frac * px:.1f}" y="{y + 20:.1f}" font-size="11" '
                   f'text-anchor="middle" fill="#111111">{label}</text>')
    return out


def _north_arrow(x: float, y: float, rotation_deg: float) -> list[str]:
    # Local +y (screen up) points at rotation_deg clockwise from north, so north is drawn
    # rotation_deg anticlockwise from screen up.
    return [
        f'<g transform="rotate({-rotation_deg:.2f} {x:.1f} {y:.1f})">'
        f'<path d="M{x:.1f},{y - 24:.1f}L{x + 9:.1f},{y + 12:.1f}L{x:.1f},{y + 5:.1f}Z" '
        'fill="#111111"/>'
        f'<path d="M{x:.1f},{y - 24:.1f}L{x - 9:.1f},{y + 12:.1f}L{x:.1f},{y + 5:.1f}Z" '
        'fill="#ffffff" stroke="#111111" stroke-width="1"/>'
        f'<text x="{x:.1f}" y="{y - 29:.1f}" font-size="13" font-weight="bold" '
        'text-anchor="middle" fill="#111111">N</text></g>'
    ]


def _legend(
    x: float, y: float, groups: Counter[str], walls: Counter[str], doors: bool,
    connectors: Counter[str], gateways: Counter[str],
) -> list[str]:
    out = [f'<text x="{x:.1f}" y="{y + 14:.1f}" font-size="14" font-weight="bold" '
           'fill="#111111">Legend</text>']
    cy = y + 34.0
    for key, style in CATEGORY_GROUPS.items():
        if key not in groups:
            continue
        out.append(f'<rect x="{x:.1f}" y="{cy - 11:.1f}" width="26" height="16" '
                   f'fill="{style.fill}" stroke="#777770" stroke-width="0.8"/>')
        if style.pattern:
            out.append(f'<rect x="{x:.1f}" y="{cy - 11:.1f}" width="26" height="16" '
                       f'fill="url(#pat-{style.pattern})"/>')
        out.append(f'<text x="{x + 34:.1f}" y="{cy + 1:.1f}" font-size="12" fill="#111111">'
                   f"{escape(style.label)} ({groups[key]})</text>")
        cy += 22.0
    cy += 6.0
    for material, n in sorted(walls.items(), key=lambda kv: -_WALL_STYLE.get(kv[0], (0, ""))[0]):
        sw, colour = _WALL_STYLE.get(material, (1.6, "#3c3c3c"))
        out.append(f'<line x1="{x:.1f}" y1="{cy - 3:.1f}" x2="{x + 26:.1f}" y2="{cy - 3:.1f}" '
                   f'stroke="{colour}" stroke-width="{sw}"/>')
        out.append(f'<text x="{x + 34:.1f}" y="{cy + 1:.1f}" font-size="12" fill="#111111">'
                   f"Wall: {escape(material)} ({n})</text>")
        cy += 20.0
    if doors:
        out.append(f'<rect x="{x + 9:.1f}" y="{cy - 7:.1f}" width="8" height="8" fill="#ffffff" '
                   f'stroke="#9a5b13" stroke-width="2" transform="rotate(45 {x + 13:.1f} '
                   f'{cy - 3:.1f})"/>')
        out.append(f'<text x="{x + 34:.1f}" y="{cy + 1:.1f}" font-size="12" fill="#111111">'
                   "Door / opening</text>")
        cy += 22.0
    for kind, n in sorted(connectors.items()):
        letter = {"elevator": "E", "stairs": "S", "escalator": "Es", "ramp": "R"}.get(kind, "C")
        out.append(f'<circle cx="{x + 13:.1f}" cy="{cy - 3:.1f}" r="8" fill="#1f3a93"/>'
                   f'<text x="{x + 13:.1f}" y="{cy + 0.5:.1f}" font-size="10" font-weight="bold" '
                   f'fill="#ffffff" text-anchor="middle">{letter}</text>')
        out.append(f'<text x="{x + 34:.1f}" y="{cy + 1:.1f}" font-size="12" fill="#111111">'
                   f"Connector: {escape(kind)} ({n})</text>")
        cy += 22.0
    for tech, n in sorted(gateways.items()):
        out += [s for s in _gateway_legend(x + 13, cy - 3, tech) if s]
        out.append(f'<text x="{x + 34:.1f}" y="{cy + 1:.1f}" font-size="12" fill="#111111">'
                   f"Gateway: {tech.upper()} ({n})</text>")
        cy += 24.0
    return out


def _gateway_legend(x: float, y: float, tech: str) -> list[str]:
    if tech == "uwb":
        return [f'<rect x="{x - 6:.1f}" y="{y - 6:.1f}" width="12" height="12" fill="#c2410c"/>']
    return [f'<path d="M{x:.1f},{y - 8:.1f}L{x + 7:.1f},{y + 5:.1f}L{x - 7:.1f},{y + 5:.1f}Z" '
            'fill="#047857"/>']
