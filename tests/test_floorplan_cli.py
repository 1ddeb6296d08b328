"""``sporing floorplan check|render|info|import`` end to end through the real CLI entry point."""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest

from floorplans.cli import detect_format, find_level, load_any
from floorplans.geojson import load_site
from tests.conftest import shared_path
from tests.test_validate import doc_example
from tracker.cli import main

EXAMPLE_LEVELS = ("A-0", "A-1")


@pytest.fixture
def example_file(tmp_path: Path) -> Path:
    p = tmp_path / "example.geojson"
    p.write_bytes(orjson.dumps(doc_example()))
    return p


def grenoble() -> Path:
    return shared_path("fixtures", "floorplans", "osm_sit_grenoble_caserne", "caserne.geojson")


def ulm() -> Path:
    return shared_path("fixtures", "floorplans", "imdf_ulm_subset")


def test_detect_format(example_file: Path) -> None:
    assert detect_format(example_file) == "native"
    assert detect_format(grenoble()) == "osm"
    assert detect_format(ulm()) == "imdf"


def test_check_clean_file_exits_0(example_file: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["floorplan", "check", str(example_file)]) == 0
    out = capsys.readouterr().out
    assert "2 levels, 11 rooms, 5 gateways; 0 errors, 0 warnings" in out


def test_check_with_only_warnings_exits_0(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["floorplan", "check", str(grenoble())]) == 0
    out = capsys.readouterr().out
    assert "warning: [way/398056943] osm-no-level:" in out
    assert "warning: [L0] level-without-gateways:" in out
    assert "0 errors" in out


def test_check_with_errors_exits_1(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["floorplan", "check", str(ulm()), "--format", "imdf"]) == 1
    lines = capsys.readouterr().out.splitlines()
    assert "warning: [manifest] imdf-version: manifest version '1.0.0.rc.1' is not '1.0.0' " \
           "(OGC IMDF 1.0); imported as 1.0" in lines
    assert any(line.startswith("error: [0240bca4-ec1e-4ef1-a70e-abcb7a968565] room-overlap:")
               for line in lines)
    assert lines[-1].endswith("29 errors, 50 warnings")


def test_check_unreadable_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "bad.geojson"
    bad.write_text("{nope")
    assert main(["floorplan", "check", str(bad)]) == 1
    assert "not valid JSON" in capsys.readouterr().err


def test_import_osm_writes_a_native_plan_that_checks(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "caserne.geojson"
    code = main(["floorplan", "import", str(grenoble()), "-o", str(out), "--origin",
                 "45.1855,5.7207"])
    assert code == 0
    assert "wrote" in capsys.readouterr().out
    site, problems = load_site(out)
    assert problems == []
    assert site.georeference is not None and site.georeference.origin_lat == 45.1855
    assert [lv.id for lv in site.levels] == ["L-1", "L0", "L1"]
    assert main(["floorplan", "check", str(out)]) == 0
    assert main(["floorplan", "import", str(out), "-o", str(tmp_path / "x.geojson")]) == 2


def test_import_rejects_bad_origin(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["floorplan", "import", str(ulm()), "-o", str(tmp_path / "u.geojson"),
                 "--origin", "100,5"])
    assert code == 2
    assert "not a valid latitude,longitude" in capsys.readouterr().err


def test_info_counts(example_file: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["floorplan", "info", str(example_file)]) == 0
    out = capsys.readouterr().out
    assert ("level A-0 (Ground floor, ordinal 0): 7 rooms 360 m², 7 walls, 7 doors, "
            "3 gateways") in out
    assert "corridor 1, icu 1, operating_room 1, stairs 1" in out


@pytest.mark.parametrize("key", ["A-1", "1", "first floor"])
def test_render_by_id_ordinal_or_name(example_file: Path, tmp_path: Path, key: str) -> None:
    out = tmp_path / "plan.svg"
    assert main(["floorplan", "render", str(example_file), "--level", key, "-o", str(out)]) == 0
    svg = out.read_text()
    assert svg.startswith("<svg") and "Example Hospital — First floor" in svg


def test_render_unknown_level(example_file: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["floorplan", "render", str(example_file), "--level", "9", "-o", "/dev/null"])
    assert code == 1
    assert "no level '9'; levels: A-0 (Ground floor, ordinal 0)" in capsys.readouterr().err


def test_find_level_ambiguous_ordinal() -> None:
    site, _ = load_any(grenoble())
    assert find_level(site, "-1").id == "L-1"
    assert find_level(site, "level 1").id == "L1"
    with pytest.raises(KeyError, match="no level 'roof'"):
        find_level(site, "roof")
