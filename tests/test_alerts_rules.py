"""Alert rule configuration: parsing into frozen rules, precise errors, checks against the plan,
and the ``[alerts]`` table in the TOML settings."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import pytest

from floorplans.sample import load_sample_site
from tracker.alerts.rules import (
    AlertConfigError,
    GeofenceRule,
    ParLevelRule,
    Webhook,
    check_against_site,
    parse_config,
)
from tracker.settings import Settings, SettingsError

GOOD: dict[str, Any] = {
    "topic_prefix": "hospital/alerts",
    "max_attempts": 5,
    "rules": [
        {"id": "beds-stay-in-a", "kind": "geofence", "asset_types": ["bed"],
         "buildings": ["A"], "exit_rooms": ["A1.G00"], "raise_after_s": 30,
         "severity": "critical"},
        {"id": "pumps-1a", "kind": "par_level", "asset_type": "infusion_pump", "minimum": 4,
         "rooms": ["A1.112"], "departments": ["Kirurgi 1A"], "clear_after_s": 60},
        {"id": "no-beds-in-or", "kind": "restricted_area", "asset_types": ["bed"],
         "categories": ["operating_room"]},
        {"id": "missing", "kind": "missing", "after_h": 24},
        {"id": "gw", "kind": "gateway_offline", "levels": ["A1"], "raise_after_s": 120},
        {"id": "battery", "kind": "low_battery", "below_pct": 20, "enabled": False},
    ],
    "webhooks": [{"name": "ops", "url": "https://ops.example/hook", "secret": "s3cret"}],
}


def test_a_full_configuration_parses_into_frozen_rules() -> None:
    c = parse_config(GOOD)
    assert [r.kind for r in c.rules] == ["geofence", "par_level", "restricted_area", "missing",
                                         "gateway_offline", "low_battery"]
    fence = c.rules[0]
    assert isinstance(fence, GeofenceRule)
    assert fence.buildings == {"A"} and fence.exit_rooms == {"A1.G00"}
    assert fence.select.types == {"bed"} and fence.raise_after_s == 30.0
    assert fence.severity == "critical" and fence.title == "beds-stay-in-a"
    par = c.rules[1]
    assert isinstance(par, ParLevelRule)
    assert (par.minimum, par.rooms, par.departments) == (4, ("A1.112",), ("Kirurgi 1A",))
    assert [r.id for r in c.active_rules] == ["beds-stay-in-a", "pumps-1a", "no-beds-in-or",
                                              "missing", "gw"]
    assert c.targets == ("mqtt", "webhook:ops") and c.topic_prefix == "hospital/alerts"
    assert c.webhooks == (Webhook("ops", "https://ops.example/hook", "s3cret"),)
    assert "s3cret" not in repr(c.webhooks[0])
    with pytest.raises(dataclasses.FrozenInstanceError):
        fence.buildings = frozenset()  # type: ignore[misc]
    check_against_site(c, load_sample_site())
    assert parse_config({}).rules == () and parse_config(None).targets == ("mqtt",)


def with_rule(**changes: Any) -> dict[str, Any]:
    rules = [dict(r) for r in GOOD["rules"]]
    rules[1] = {k: v for k, v in {**rules[1], **changes}.items() if v is not None}
    return {**GOOD, "rules": rules}


@pytest.mark.parametrize(("config", "message"), [
    (with_rule(minimum="four"),
     "alerts.rules[1].minimum: must be an integer >= 1, got 'four' (rule 'pumps-1a')"),
    (with_rule(minimum=0), "alerts.rules[1].minimum: must be an integer >= 1, got 0"),
    (with_rule(minimum=None), "alerts.rules[1].minimum: is required (an integer >= 1)"),
    (with_rule(kind="parlevel"), "alerts.rules[1].kind: 'parlevel' is not one of geofence"),
    (with_rule(id="pumps/1a"), "alerts.rules[1].id: 'pumps/1a' must be 1-64 of"),
    (with_rule(id="beds-stay-in-a"),
     "alerts.rules[1].id: 'beds-stay-in-a' is already used by alerts.rules[0]"),
    (with_rule(rooms=None, departments=None),
     "alerts.rules[1].rooms: a par level needs rooms and/or departments"),
    (with_rule(rooms="A1.112"), "alerts.rules[1].rooms: must be a list of non-empty strings"),
    (with_rule(severity="urgent"), "alerts.rules[1].severity: must be one of info, warning"),
    (with_rule(raise_after_s=-1), "alerts.rules[1].raise_after_s: must be a number >= 0"),
    (with_rule(minumum=3), "alerts.rules[1]: unknown key(s) minumum (rule 'pumps-1a')"),
    (with_rule(enabled="yes"), "alerts.rules[1].enabled: must be true or false"),
    ({"rules": [{"kind": "missing", "after_h": 1}]}, "alerts.rules[0].id: is required"),
    ({"rules": [{"id": "m", "kind": "missing", "after_h": 0}]},
     "alerts.rules[0].after_h: must be a number of hours > 0"),
    ({"rules": [{"id": "b", "kind": "low_battery", "below_pct": 120}]},
     "alerts.rules[0].below_pct: must be a percentage in (0, 100]"),
    ({"rules": [{"id": "g", "kind": "geofence", "asset_types": ["bed"]}]},
     "alerts.rules[0].buildings: a geofence needs at least one of"),
    ({"rules": {"id": "x"}}, "alerts.rules: must be an array of tables"),
    ({"rules": ["x"]}, "alerts.rules[0]: must be a table, got str"),
    ({"webhooks": [{"name": "ops", "url": "ftp://x", "secret": "k"}]},
     "alerts.webhooks[0].url: 'ftp://x' must be an http:// or https:// URL"),
    ({"webhooks": [{"name": "ops", "url": "https://x"}]},
     "alerts.webhooks[0].secret: is required"),
    ({"topic_prefix": "a/#"}, "alerts.topic_prefix: 'a/#' must be a topic without wildcards"),
    ({"backoff_base_s": 10, "backoff_cap_s": 5}, "alerts.backoff_base_s: need 0 <"),
    ({"rule": []}, "alerts: unknown key(s) rule"),
])
def test_errors_name_the_rule_index_and_field(config: dict[str, Any], message: str) -> None:
    with pytest.raises(AlertConfigError) as err:
        parse_config(config)
    assert message in str(err.value)


@pytest.mark.parametrize(("changes", "message"), [
    ({"rooms": ["A1.999"]}, "alerts.rules[1].rooms: unknown room 'A1.999' (rule 'pumps-1a'"),
    ({"departments": ["Kirurgi 9Z"]}, "alerts.rules[1].departments: unknown department"),
])
def test_names_are_checked_against_the_floor_plan(changes: dict[str, Any], message: str) -> None:
    with pytest.raises(AlertConfigError) as err:
        check_against_site(parse_config(with_rule(**changes)), load_sample_site())
    assert message in str(err.value)


def test_gateways_and_buildings_are_checked_too() -> None:
    site = load_sample_site()
    bad = {"rules": [{"id": "g", "kind": "gateway_offline", "gateways": ["gw-zz-001"]}]}
    with pytest.raises(AlertConfigError, match=r"rules\[0\].gateways: unknown gateway"):
        check_against_site(parse_config(bad), site)
    bad = {"rules": [{"id": "f", "kind": "geofence", "buildings": ["C"]}]}
    with pytest.raises(AlertConfigError, match=r"rules\[0\].buildings: unknown building 'C'"):
        check_against_site(parse_config(bad), site)


def test_the_toml_settings_carry_the_alerts_table(tmp_path: Path) -> None:
    path = tmp_path / "sporing.toml"
    path.write_text("""
[alerts]
topic_prefix = "site1/alerts"

[[alerts.rules]]
id = "pumps-1a"
kind = "par_level"
asset_type = "infusion_pump"
minimum = 4
rooms = ["A1.112"]

[[alerts.webhooks]]
name = "ops"
url = "http://127.0.0.1:9/hook"
secret = "k"
""", encoding="utf-8")
    s = Settings.load(path)
    c = parse_config(s.alerts)
    assert [r.id for r in c.rules] == ["pumps-1a"] and c.topic_prefix == "site1/alerts"
    path.write_text("""
[[alerts.rules]]
id = "pumps-1a"
kind = "par_level"
asset_type = "infusion_pump"
minimum = "four"
rooms = ["A1.112"]
""", encoding="utf-8")
    with pytest.raises(SettingsError, match=r"alerts\.rules\[0\]\.minimum: must be an integer"):
        Settings.load(path)
