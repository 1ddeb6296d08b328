"""SVG rendering of one level: structure, legend, symbols, escaping."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET

import pytest
from shapely.geometry import box

from floorplans.geojson import parse_site
from floorplans.model import Building, Gateway, Level, Room, Site
from floorplans.render import CATEGORY_GROUPS, group_of, render_level_svg
from tests.test_validate import doc_example

NS = "{http://www.w3.org/2000/svg}"


def example() -> Site:
    site, _ = parse_site(doc_example())
    return site


def texts(root: ET.Element) -> list[str]:
    return ["".join(t.itertext()) for t in root.iter(f"{NS}text")]


def test_svg_is_well_formed_with_title_legend_and_labels() -> None:
    svg = render_level_svg(example(), "A-0")
    root = ET.fromstring(svg)
    assert root.tag == f"{NS}svg"
    words = texts(root)
    assert "Example Hospital — Ground floor" in words
    assert any(w.startswith("Building A · ordinal 0") for w in words)
    # legend: each group present once, with a pattern or colour AND its name and count
    assert "Clinical (1)" in words and "Utility / storage (3)" in words
    assert "Stairs / elevator (1)" in words and "Circulation (1)" in words
    assert "Wall: concrete (1)" in words and "Wall: glass (1)" in words
    assert "Connector: stairs (1)" in words and "Gateway: BLE (3)" in words
    # room labels where they fit, gateway ids beside their symbol
    assert {"Patient room 1", "Equipment store", "Nurse station"} <= set(words)
    assert {"gw-a0-01", "gw-a0-02", "gw-a0-03"} <= set(words)
    assert "N" in words and "5 m" in words  # north arrow, scale bar


def test_walls_are_drawn_with_width_by_material() -> None:
    svg = render_level_svg(example(), "A-1")
    widths = {float(w) for w in re.findall(r'stroke="#[0-9a-f]{6}" stroke-width="([\d.]+)" '
                                            r'stroke-linecap', svg)}
    assert widths == {3.4, 1.6, 2.6, 4.6}  # concrete, drywall, brick, lead
    assert "Gateway: UWB (2)" in texts(ET.fromstring(svg))


def test_north_arrow_follows_georeference_rotation() -> None:
    svg = render_level_svg(example(), "A-0")
    assert re.search(r'<g transform="rotate\(-12\.50 ', svg)


def test_patterns_make_groups_distinguishable_without_colour() -> None:
    svg = render_level_svg(example(), "A-0")
    for key in ("clinical", "utility", "vertical"):
        pattern = CATEGORY_GROUPS[key].pattern
        assert f'fill="url(#pat-{pattern})"' in svg
        assert f'id="pat-{pattern}"' in svg
    patterns = [g.pattern for g in CATEGORY_GROUPS.values() if g.pattern]
    assert len(patterns) == len(set(patterns))
    fills = [g.fill for g in CATEGORY_GROUPS.values()]
    assert len(fills) == len(set(fills))


def _luminance(hex_colour: str) -> float:
    rgb = [int(hex_colour[i:i + 2], 16) / 255 for i in (1, 3, 5)]
    lin = [c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in rgb]
    return 0.2126 * lin[0] + 0.7152 * lin[1] + 0.0722 * lin[2]


def test_label_text_contrast_on_every_fill_is_at_least_aaa() -> None:
    text = _luminance("#1a1a1a")
    for style in CATEGORY_GROUPS.values():
        ratio = (_luminance(style.fill) + 0.05) / (text + 0.05)
        assert ratio >= 7.0, (style.label, ratio)


def test_group_of_known_and_unknown_categories() -> None:
    assert group_of("icu") == "clinical" and group_of("restroom.male") == "sanitary"
    assert group_of("elevator") == "vertical" and group_of("walkway") == "circulation"
    assert group_of("something-new") == "room"


def test_names_are_escaped_and_unknown_level_raises() -> None:
    site = Site.build(
        id="s", name="A & B <clinic>", buildings=[Building("B", "B")],
        levels=[Level("L0", "B", 0, "G", 0.0, 4.0, box(0, 0, 40, 20))],
        rooms=[Room("R<1>", "L0", "Röntgen & CT", "other", box(0, 0, 40, 20))],
        gateways=[Gateway("gw\"1", "L0", 3, 3)],
    )
    svg = render_level_svg(site, "L0")
    words = texts(ET.fromstring(svg))
    assert "A & B <clinic> — G" in words and "Röntgen & CT" in words
    with pytest.raises(KeyError, match="unknown level"):
        render_level_svg(site, "L9")


def test_small_rooms_get_no_overflowing_label() -> None:
    site = Site.build(
        id="s", name="s", buildings=[Building("B", "B")],
        levels=[Level("L0", "B", 0, "G", 0.0, 4.0, box(0, 0, 100, 50))],
        rooms=[Room("tiny", "L0", "A very long room name indeed", "office", box(0, 0, 0.5, 0.5)),
               Room("big", "L0", "Hall", "lobby", box(10, 10, 90, 40))],
    )
    words = texts(ET.fromstring(render_level_svg(site, "L0")))
    assert "Hall" in words and "A very long room name indeed" not in words
