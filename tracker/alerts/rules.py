"""Alert rules and delivery targets, parsed from the ``[alerts]`` table of the TOML settings.

Every rule is a frozen dataclass; :func:`parse_config` turns the raw table into an
:class:`AlertsConfig` or raises :class:`AlertConfigError` naming the rule index and the field at
fault (``alerts.rules[2].minimum: must be an integer >= 1, got 'four'``).
:func:`check_against_site` then checks every room, level, building, department and gateway a
rule names against the floor plan. Example::

    [[alerts.rules]]
    id = "beds-stay-in-a"          # unique; also the MQTT topic sporing/alerts/<id>
    kind = "geofence"
    asset_types = ["bed"]
    buildings = ["A"]              # the fence: a bed seen outside building A breaches it
    exit_rooms = ["A1.G00"]        # ... and so does a bed entering the glass corridor
    raise_after_s = 30             # the breach must last 30 s before the alert is raised
    severity = "critical"

Kinds and their fields (beside the common ``id``, ``kind``, ``name``, ``severity``,
``raise_after_s``, ``clear_after_s``, ``enabled``):

* ``geofence``: asset selector; ``buildings``, ``levels``, ``departments`` (the area the assets
  must stay in) and/or ``exit_rooms`` (rooms that count as leaving).
* ``restricted_area``: asset selector; ``rooms`` and/or ``categories`` the assets must not enter.
* ``par_level``: ``asset_type``, ``minimum``, ``rooms`` and/or ``departments``: each listed room
  or department must hold at least ``minimum`` available assets of the type.
* ``missing``: asset selector; ``after_h``: an asset not seen for this many hours is missing.
* ``gateway_offline``: ``gateways`` and/or ``levels`` (empty: every gateway).
* ``low_battery``: asset selector; ``below_pct``.

The asset selector is ``asset_types``, ``assets`` (ids) and ``asset_departments`` (owning
department); every list given must match, and no list means every asset.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, TypeVar
from urllib.parse import urlsplit

from floorplans.model import Site
from tracker.assets import Asset

__all__ = [
    "KINDS",
    "AlertConfigError",
    "AlertsConfig",
    "AssetSelector",
    "GatewayOfflineRule",
    "GeofenceRule",
    "LowBatteryRule",
    "MissingRule",
    "ParLevelRule",
    "RestrictedAreaRule",
    "Rule",
    "Severity",
    "Webhook",
    "check_against_site",
    "parse_config",
]

Severity = Literal["info", "warning", "critical"]
_SEVERITIES = ("info", "warning", "critical")
_RULE_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
_TARGET_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
_T = TypeVar("_T")


class AlertConfigError(ValueError):
    """The ``[alerts]`` configuration is invalid; the message names the rule and the field."""


@dataclass(frozen=True, slots=True)
class AssetSelector:
    """Which assets a rule watches; every non-empty set must contain the asset's value.

    Attributes:
        types: Asset types (``Asset.type``).
        assets: Asset ids.
        departments: Owning departments (``Asset.department``).
    """

    types: frozenset[str] = frozenset()
    assets: frozenset[str] = frozenset()
    departments: frozenset[str] = frozenset()

    def matches(self, asset: Asset) -> bool:
        """Whether the rule applies to ``asset``."""
        return ((not self.types or asset.type in self.types)
                and (not self.assets or asset.id in self.assets)
                and (not self.departments or asset.department in self.departments))


@dataclass(frozen=True, slots=True, kw_only=True)
class _RuleBase:
    """Fields every rule has.

    Attributes:
        id: Unique rule id (``[A-Za-z0-9][A-Za-z0-9_.-]*``, at most 64 characters); the key of
            its alerts together with the subject, and the last level of its MQTT topic.
        name: Human title (default: the id).
        severity: ``info``, ``warning`` or ``critical``.
        raise_after_s: The condition must hold this long before the alert is raised.
        clear_after_s: The condition must be clear this long before the alert is resolved.
        enabled: A disabled rule is parsed and checked but never evaluated.
    """

    id: str
    name: str = ""
    severity: Severity = "warning"
    raise_after_s: float = 0.0
    clear_after_s: float = 0.0
    enabled: bool = True

    @property
    def title(self) -> str:
        """The name, or the id when the rule has none."""
        return self.name or self.id


@dataclass(frozen=True, slots=True, kw_only=True)
class GeofenceRule(_RuleBase):
    """Assets must stay inside an area: the listed buildings, levels and departments (each
    non-empty list must contain the asset's), and out of the ``exit_rooms``.

    A fix in a room without a department (corridor, lift) says nothing about a department
    fence, and a fix without a building or level says nothing about those fences: the alert
    keeps its current state until a fix decides.
    """

    select: AssetSelector = AssetSelector()
    buildings: frozenset[str] = frozenset()
    levels: frozenset[str] = frozenset()
    departments: frozenset[str] = frozenset()
    exit_rooms: frozenset[str] = frozenset()
    kind: Literal["geofence"] = "geofence"


@dataclass(frozen=True, slots=True, kw_only=True)
class RestrictedAreaRule(_RuleBase):
    """Assets must not be in the listed rooms, nor in rooms of the listed categories."""

    select: AssetSelector = AssetSelector()
    rooms: frozenset[str] = frozenset()
    categories: frozenset[str] = frozenset()
    kind: Literal["restricted_area"] = "restricted_area"


@dataclass(frozen=True, slots=True, kw_only=True)
class ParLevelRule(_RuleBase):
    """Each listed room and department must hold at least ``minimum`` *available* assets of
    ``asset_type`` (state ``available`` of :class:`tracker.availability.StateMap`: an open stay
    in a clean utility or storage room, not moving, recently seen, in service)."""

    asset_type: str
    minimum: int
    rooms: tuple[str, ...] = ()
    departments: tuple[str, ...] = ()
    kind: Literal["par_level"] = "par_level"


@dataclass(frozen=True, slots=True, kw_only=True)
class MissingRule(_RuleBase):
    """An asset not seen for ``after_h`` hours is missing (retired assets are ignored)."""

    after_h: float
    select: AssetSelector = AssetSelector()
    kind: Literal["missing"] = "missing"


@dataclass(frozen=True, slots=True, kw_only=True)
class GatewayOfflineRule(_RuleBase):
    """A gateway whose latest status says offline (empty lists: every gateway)."""

    gateways: frozenset[str] = frozenset()
    levels: frozenset[str] = frozenset()
    kind: Literal["gateway_offline"] = "gateway_offline"


@dataclass(frozen=True, slots=True, kw_only=True)
class LowBatteryRule(_RuleBase):
    """A tag reporting a battery level below ``below_pct`` percent. Only reading formats that
    carry a battery level can fire it (see ``docs/alerts.md``)."""

    below_pct: float
    select: AssetSelector = AssetSelector()
    kind: Literal["low_battery"] = "low_battery"


Rule = (GeofenceRule | RestrictedAreaRule | ParLevelRule | MissingRule | GatewayOfflineRule
        | LowBatteryRule)
"""Any alert rule."""


@dataclass(frozen=True, slots=True)
class Webhook:
    """An HTTP endpoint receiving every alert event as a signed JSON POST.

    Attributes:
        name: Unique name (``[A-Za-z0-9][A-Za-z0-9_.-]*``); the outbox target ``webhook:<name>``.
        url: ``http://`` or ``https://`` URL.
        secret: HMAC-SHA256 key of the ``X-Sporing-Signature`` header (never shown in repr).
        timeout_s: Timeout of one attempt.
    """

    name: str
    url: str
    secret: str = field(repr=False)
    timeout_s: float = 10.0

    @property
    def target(self) -> str:
        """The outbox target name."""
        return f"webhook:{self.name}"


@dataclass(frozen=True, slots=True)
class AlertsConfig:
    """The parsed ``[alerts]`` table.

    Attributes:
        rules: The rules, in file order (disabled ones included).
        webhooks: Webhook targets.
        mqtt: Publish every event on ``<topic_prefix>/<rule id>`` (QoS 1).
        topic_prefix: MQTT topic prefix.
        max_attempts: Delivery attempts per event and target before it is given up.
        backoff_base_s, backoff_cap_s: Exponential backoff with full jitter between attempts.
    """

    rules: tuple[Rule, ...] = ()
    webhooks: tuple[Webhook, ...] = ()
    mqtt: bool = True
    topic_prefix: str = "sporing/alerts"
    max_attempts: int = 10
    backoff_base_s: float = 2.0
    backoff_cap_s: float = 600.0

    @property
    def active_rules(self) -> tuple[Rule, ...]:
        """The enabled rules."""
        return tuple(r for r in self.rules if r.enabled)

    @property
    def targets(self) -> tuple[str, ...]:
        """Outbox target names: ``mqtt`` (when enabled) and ``webhook:<name>``."""
        return (("mqtt",) if self.mqtt else ()) + tuple(w.target for w in self.webhooks)

    def rule(self, rule_id: str) -> Rule | None:
        """The rule with this id, or None."""
        return next((r for r in self.rules if r.id == rule_id), None)


# ---------------------------------------------------------------------------------- parsing
class _Table:
    """One TOML table being read: typed getters that name the field on error, and a final
    check that no unknown key was left."""

    def __init__(self, raw: Any, where: str, suffix: str = "") -> None:
        if not isinstance(raw, Mapping):
            raise AlertConfigError(f"{where}: must be a table, got {type(raw).__name__}")
        self.raw = dict(raw)
        self.where = where
        self.suffix = suffix

    def fail(self, key: str, problem: str) -> AlertConfigError:
        return AlertConfigError(f"{self.where}.{key}: {problem}{self.suffix}")

    def get(self, key: str, default: _T, check: Callable[[Any], _T | None], what: str) -> _T:
        return self.require(key, check, what) if key in self.raw else default

    def require(self, key: str, check: Callable[[Any], _T | None], what: str) -> _T:
        if key not in self.raw:
            raise self.fail(key, f"is required ({what})")
        value = self.raw[key]
        out = check(value)
        if out is None:
            raise self.fail(key, f"must be {what}, got {value!r}")
        return out

    def text(self, key: str, default: str = "") -> str:
        return self.get(key, default, _nonempty_text, "a non-empty string")

    def number(self, key: str, default: float, *, minimum: float = 0.0) -> float:
        return self.get(key, default, lambda v: _number(v, minimum),
                        f"a number >= {minimum:g}")

    def names(self, key: str) -> tuple[str, ...]:
        return self.get(key, (), _names, "a list of non-empty strings")

    def finish(self, known: Sequence[str]) -> None:
        unknown = sorted(set(self.raw) - set(known))
        if unknown:
            raise AlertConfigError(
                f"{self.where}: unknown key(s) {', '.join(unknown)}{self.suffix} "
                f"(known: {', '.join(sorted(known))})")


def _nonempty_text(v: Any) -> str | None:
    return v.strip() if isinstance(v, str) and v.strip() else None


def _number(v: Any, minimum: float) -> float | None:
    if isinstance(v, bool) or not isinstance(v, int | float):
        return None
    f = float(v)
    return f if math.isfinite(f) and f >= minimum else None


def _names(v: Any) -> tuple[str, ...] | None:
    if not isinstance(v, list | tuple):
        return None
    out = tuple(x.strip() for x in v if isinstance(x, str) and x.strip())
    return out if len(out) == len(v) else None


def _array(v: Any) -> list[Any] | None:
    return v if isinstance(v, list) else None


def _boolean(v: Any) -> bool | None:
    return v if isinstance(v, bool) else None


def _positive_int(v: Any) -> int | None:
    return v if isinstance(v, int) and not isinstance(v, bool) and v >= 1 else None


_COMMON = ("id", "kind", "name", "severity", "raise_after_s", "clear_after_s", "enabled")
_SELECTOR = ("asset_types", "assets", "asset_departments")
_KIND_KEYS: dict[str, tuple[str, ...]] = {
    "geofence": (*_SELECTOR, "buildings", "levels", "departments", "exit_rooms"),
    "restricted_area": (*_SELECTOR, "rooms", "categories"),
    "par_level": ("asset_type", "minimum", "rooms", "departments"),
    "missing": (*_SELECTOR, "after_h"),
    "gateway_offline": ("gateways", "levels"),
    "low_battery": (*_SELECTOR, "below_pct"),
}
#: The rule kinds.
KINDS: tuple[str, ...] = tuple(_KIND_KEYS)


def _selector(t: _Table) -> AssetSelector:
    return AssetSelector(frozenset(t.names("asset_types")), frozenset(t.names("assets")),
                         frozenset(t.names("asset_departments")))


def _parse_rule(raw: Any, index: int) -> Rule:
    t = _Table(raw, f"alerts.rules[{index}]")
    rule_id = t.require("id", _nonempty_text, "a rule id")
    if not _RULE_ID.match(rule_id):
        raise t.fail("id", f"{rule_id!r} must be 1-64 of A-Z a-z 0-9 _ . - (it is an MQTT "
                           "topic level), starting with a letter or digit")
    t.suffix = f" (rule {rule_id!r})"
    kind = t.require("kind", _nonempty_text, f"one of {', '.join(KINDS)}")
    if kind not in _KIND_KEYS:
        raise t.fail("kind", f"{kind!r} is not one of {', '.join(KINDS)}")
    common: dict[str, Any] = {
        "id": rule_id,
        "name": t.text("name"),
        "severity": t.get("severity", "warning",
                          lambda v: v if v in _SEVERITIES else None,
                          f"one of {', '.join(_SEVERITIES)}"),
        "raise_after_s": t.number("raise_after_s", 0.0),
        "clear_after_s": t.number("clear_after_s", 0.0),
        "enabled": t.get("enabled", True, _boolean, "true or false"),
    }
    rule: Rule
    if kind == "geofence":
        rule = GeofenceRule(**common, select=_selector(t),
                            buildings=frozenset(t.names("buildings")),
                            levels=frozenset(t.names("levels")),
                            departments=frozenset(t.names("departments")),
                            exit_rooms=frozenset(t.names("exit_rooms")))
        if not (rule.buildings or rule.levels or rule.departments or rule.exit_rooms):
            raise t.fail("buildings", "a geofence needs at least one of buildings, levels, "
                                      "departments or exit_rooms")
    elif kind == "restricted_area":
        rule = RestrictedAreaRule(**common, select=_selector(t),
                                  rooms=frozenset(t.names("rooms")),
                                  categories=frozenset(t.names("categories")))
        if not (rule.rooms or rule.categories):
            raise t.fail("rooms", "a restricted area needs rooms and/or categories")
    elif kind == "par_level":
        rule = ParLevelRule(**common,
                            asset_type=t.require("asset_type", _nonempty_text, "an asset type"),
                            minimum=t.require("minimum", _positive_int, "an integer >= 1"),
                            rooms=t.names("rooms"), departments=t.names("departments"))
        if not (rule.rooms or rule.departments):
            raise t.fail("rooms", "a par level needs rooms and/or departments")
    elif kind == "missing":
        after = t.require("after_h", lambda v: _number(v, 0.0), "a number of hours > 0")
        if after <= 0:
            raise t.fail("after_h", f"must be a number of hours > 0, got {after!r}")
        rule = MissingRule(**common, select=_selector(t), after_h=after)
    elif kind == "gateway_offline":
        rule = GatewayOfflineRule(**common, gateways=frozenset(t.names("gateways")),
                                  levels=frozenset(t.names("levels")))
    else:
        pct = t.require("below_pct", lambda v: _number(v, 0.0), "a percentage in (0, 100]")
        if not 0 < pct <= 100:
            raise t.fail("below_pct", f"must be a percentage in (0, 100], got {pct!r}")
        rule = LowBatteryRule(**common, select=_selector(t), below_pct=pct)
    t.finish((*_COMMON, *_KIND_KEYS[kind]))
    return rule


def _parse_webhook(raw: Any, index: int) -> Webhook:
    t = _Table(raw, f"alerts.webhooks[{index}]")
    name = t.require("name", _nonempty_text, "a webhook name")
    if not _TARGET_NAME.match(name):
        raise t.fail("name", f"{name!r} must be 1-64 of A-Z a-z 0-9 _ . -")
    url = t.require("url", _nonempty_text, "an http(s) URL")
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise t.fail("url", f"{url!r} must be an http:// or https:// URL with a host")
    secret = t.require("secret", _nonempty_text, "the HMAC-SHA256 key shared with the receiver")
    timeout = t.number("timeout_s", 10.0)
    if timeout <= 0:
        raise t.fail("timeout_s", f"must be > 0, got {timeout!r}")
    t.finish(("name", "url", "secret", "timeout_s"))
    return Webhook(name, url, secret, timeout)


def parse_config(raw: Mapping[str, Any] | None) -> AlertsConfig:
    """Parse the ``[alerts]`` table (``rules``, ``webhooks`` and delivery options).

    Raises:
        AlertConfigError: naming the rule or webhook index and the field at fault.
    """
    t = _Table(raw or {}, "alerts")
    rules_raw: list[Any] = t.get("rules", [], _array, "an array of tables ([[alerts.rules]])")
    hooks_raw: list[Any] = t.get("webhooks", [], _array,
                                 "an array of tables ([[alerts.webhooks]])")
    rules = tuple(_parse_rule(r, i) for i, r in enumerate(rules_raw))
    hooks = tuple(_parse_webhook(w, i) for i, w in enumerate(hooks_raw))
    for label, ids in (("rules", [r.id for r in rules]), ("webhooks", [w.name for w in hooks])):
        key = "id" if label == "rules" else "name"
        for i, name in enumerate(ids):
            if name in ids[:i]:
                raise AlertConfigError(f"alerts.{label}[{i}].{key}: {name!r} is already used "
                                       f"by alerts.{label}[{ids.index(name)}]")
    prefix = t.text("topic_prefix", "sporing/alerts")
    if any(c in prefix for c in "+#\0") or prefix.endswith("/"):
        raise t.fail("topic_prefix", f"{prefix!r} must be a topic without wildcards or a "
                                     "trailing '/'")
    attempts = t.get("max_attempts", 10, _positive_int, "an integer >= 1")
    base = t.number("backoff_base_s", 2.0)
    cap = t.number("backoff_cap_s", 600.0)
    if not 0 < base <= cap:
        raise t.fail("backoff_base_s", f"need 0 < backoff_base_s <= backoff_cap_s, got "
                                       f"{base!r} and {cap!r}")
    config = AlertsConfig(rules=rules, webhooks=hooks,
                          mqtt=t.get("mqtt", True, _boolean, "true or false"),
                          topic_prefix=prefix, max_attempts=attempts, backoff_base_s=base,
                          backoff_cap_s=cap)
    t.finish(("rules", "webhooks", "mqtt", "topic_prefix", "max_attempts", "backoff_base_s",
              "backoff_cap_s"))
    return config


def check_against_site(config: AlertsConfig, site: Site) -> None:
    """Check that every room, level, building, department, category and gateway the rules name
    exists on the floor plan.

    Raises:
        AlertConfigError: ``alerts.rules[i].<field>: unknown ... (rule 'id')``.
    """
    known: dict[str, tuple[str, set[str]]] = {
        "buildings": ("building", {b.id for b in site.buildings}
                      | {lv.building for lv in site.levels}),
        "levels": ("level", {lv.id for lv in site.levels}),
        "departments": ("department", {r.department for r in site.rooms if r.department}),
        "rooms": ("room", {r.id for r in site.rooms}),
        "exit_rooms": ("room", {r.id for r in site.rooms}),
        "categories": ("room category", {r.category for r in site.rooms}),
        "gateways": ("gateway", {g.id for g in site.gateways}),
    }
    for i, rule in enumerate(config.rules):
        for key, (label, universe) in known.items():
            bad = sorted(set(getattr(rule, key, ())) - universe)
            if bad:
                listed = sorted(universe)
                sample = ", ".join(listed[:12]) + (", ..." if len(listed) > 12 else "")
                raise AlertConfigError(
                    f"alerts.rules[{i}].{key}: unknown {label} {', '.join(map(repr, bad))} "
                    f"(rule {rule.id!r}; known: {sample})")
