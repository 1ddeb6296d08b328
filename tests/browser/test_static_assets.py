"""The porter page's files as served (no browser needed): served from the package, small,
and every text it shows translated in both languages."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from importlib import resources

import pytest
from fastapi.testclient import TestClient

from floorplans.sample import load_sample_site
from tracker.api.state import AppState
from tracker.app import create_app
from tracker.availability import AssetState

STATIC = resources.files("tracker.static")
LANGS = ("en", "nb")
TYPES = ("infusion-pump", "patient-monitor", "bed", "wheelchair", "ventilator", "ultrasound",
         "ecg", "defibrillator", "feeding-pump", "suction-pump")
_KEY = re.compile(r'"((?:app|auth|error|lang|map|nearest|pair|role|search|sentence|state|type|'
                  r'unit)\.[a-z_-]+)"')


@pytest.fixture(scope="module")
def client() -> Iterator[TestClient]:
    with TestClient(create_app(AppState(site=load_sample_site()))) as c:
        yield c


def translations(lang: str) -> dict[str, str]:
    data: dict[str, str] = json.loads(STATIC.joinpath("i18n", f"{lang}.json").read_text("utf-8"))
    return data


def test_page_and_its_files_are_served_with_their_types(client: TestClient) -> None:
    page = client.get("/")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    for path, kind in [("/static/app.js", "javascript"), ("/static/common.js", "javascript"),
                       ("/static/app.css", "text/css"),
                       ("/static/i18n/en.json", "application/json"),
                       ("/static/i18n/nb.json", "application/json")]:
        r = client.get(path)
        assert r.status_code == 200, path
        assert kind in r.headers["content-type"], (path, r.headers["content-type"])
    assert client.get("/static/i18n/de.json").status_code == 404
    assert client.get("/static/../app.py").status_code == 404


def test_a_page_load_transfers_well_under_100_kb(client: TestClient) -> None:
    total = sum(len(client.get(p).content) for p in
                ("/", "/static/app.js", "/static/common.js", "/static/app.css",
                 "/static/i18n/nb.json"))
    assert total < 80_000, f"{total} bytes"


def test_both_languages_have_the_same_keys_and_no_empty_text() -> None:
    en, nb = translations("en"), translations("nb")
    assert sorted(en) == sorted(nb)
    assert all(v.strip() for v in (*en.values(), *nb.values()))
    same = {k for k in en if en[k] == nb[k]} - {"app.name", "unit.s", "unit.min", "unit.d",
                                                 "type.ventilator", "role.admin",
                                                 "type.defibrillator"}
    assert not same, f"untranslated: {sorted(same)}"
    for k in en:
        assert set(re.findall(r"\{\w+\}", en[k])) == set(re.findall(r"\{\w+\}", nb[k])), k


def test_every_text_the_page_uses_is_translated() -> None:
    html = STATIC.joinpath("index.html").read_text("utf-8")
    js = STATIC.joinpath("app.js").read_text("utf-8") + STATIC.joinpath("common.js").read_text(
        "utf-8")
    used = set(re.findall(r'data-i18n="([^"]+)"', html))
    used |= {pair.split(":")[1] for attr in re.findall(r'data-i18n-attr="([^"]+)"', html)
             for pair in attr.split(";")}
    used |= set(_KEY.findall(js))
    used |= {f"state.{s.value}" for s in AssetState} | {f"type.{t}" for t in TYPES}
    used |= {f"role.{r}" for r in ("porter", "biomed", "admin")}
    assert len(used) > 60
    for lang in LANGS:
        missing = used - set(translations(lang))
        assert not missing, f"{lang}: {sorted(missing)}"


def test_every_control_has_a_label() -> None:
    html = STATIC.joinpath("index.html").read_text("utf-8")
    labelled = set(re.findall(r'<label for="([^"]+)"', html))
    controls = set(re.findall(r'<(?:input|select)\s+id="([^"]+)"', html))
    assert controls and controls <= labelled, sorted(controls - labelled)
