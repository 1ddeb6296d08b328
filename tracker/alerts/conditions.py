"""What each rule kind checks, on the engine's picture of the site (:class:`World`).

A condition maps subjects (asset, room, department, gateway or tag ids) to a verdict: ``True``
(breached), ``None`` (no evidence either way: keep the alert as it is). Subjects left out are
not breached. :func:`describe` writes the human message and the facts of one subject, only for
the few subjects whose alert changes.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from floorplans.model import Room, Site
from tracker.alerts.rules import (
    GatewayOfflineRule,
    GeofenceRule,
    LowBatteryRule,
    MissingRule,
    ParLevelRule,
    RestrictedAreaRule,
    Rule,
)
from tracker.assets import Asset
from tracker.availability import OUT_OF_SERVICE_STATUSES, AssetState, StateMap
from tracker.records import FixRecord, GatewayStatusRecord, StayRecord

__all__ = ["AssetLookup", "Verdicts", "World", "describe", "evaluate"]

AssetLookup = Callable[[str], Asset | None]
"""The asset registry: asset id -> :class:`Asset` (None when not registered)."""
Verdicts = dict[str, bool | None]
"""Subject -> breached (True) or no evidence (None); absent subjects are not breached."""


def iso(ts: float) -> str:
    """Epoch seconds as ISO 8601 UTC to the second."""
    return dt.datetime.fromtimestamp(ts, dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass(slots=True)
class World:
    """The latest known state the rules look at, kept up to date by the engine.

    Attributes:
        site: The floor plan.
        state_map: Room category -> asset state (for par levels).
        fixes: Latest fix per asset.
        stays: Open stay per asset (the room it is in now, per the stay tracker).
        tag_asset: Asset of each tag seen paired.
        statuses: Latest status per gateway.
        batteries: Latest battery percent per tag, in order of report (oldest first).
        max_batteries: At most this many tags are held in ``batteries`` (set through
            :meth:`set_batteries`, which forgets the tags silent the longest first).
    """

    site: Site
    state_map: StateMap
    fixes: dict[str, FixRecord] = field(default_factory=dict)
    stays: dict[str, StayRecord] = field(default_factory=dict)
    tag_asset: dict[str, str] = field(default_factory=dict)
    statuses: dict[str, GatewayStatusRecord] = field(default_factory=dict)
    batteries: dict[str, float] = field(default_factory=dict)
    max_batteries: int = 200_000
    rooms: dict[str, Room] = field(init=False)

    def __post_init__(self) -> None:
        if self.max_batteries <= 0:
            raise ValueError(f"max_batteries: must be positive, got {self.max_batteries}")
        self.rooms = {r.id: r for r in self.site.rooms}

    def set_batteries(self, levels: Mapping[str, float]) -> None:
        """Take in tag battery levels reported now (bounded by ``max_batteries``)."""
        held = self.batteries
        for tag, pct in levels.items():
            held.pop(tag, None)  # re-inserted last: the order is the order of report
            held[tag] = float(pct)
        while len(held) > self.max_batteries:
            del held[next(iter(held))]

    def room_label(self, room_id: str | None) -> str:
        """``"Name (id)"`` of a room, ``"a corridor"`` for None."""
        if room_id is None:
            return "no room"
        r = self.rooms.get(room_id)
        return f"{r.name} ({room_id})" if r is not None and r.name != room_id else room_id

    def watched(self, select_matches: Callable[[Asset], bool],
                assets: AssetLookup) -> Iterator[tuple[Asset, FixRecord]]:
        """Assets with a latest fix that the selector matches."""
        for asset_id, fix in self.fixes.items():
            a = assets(asset_id)
            if a is not None and select_matches(a):
                yield a, fix

    def available(self, asset_type: str, now: float, assets: AssetLookup) -> dict[str, list[str]]:
        """Room -> ids of the available assets of ``asset_type`` with an open stay there."""
        out: dict[str, list[str]] = {}
        for asset_id, stay in self.stays.items():
            a = assets(asset_id)
            if a is None or a.type != asset_type:
                continue
            room = self.rooms.get(stay.room)
            fix = self.fixes.get(asset_id)
            seen = max(stay.t_enter, fix.ts) if fix is not None else stay.t_enter
            state = self.state_map.state(
                category=None if room is None else room.category, status=a.status,
                moving=fix is not None and fix.moving and fix.room == stay.room,
                age_s=max(now - seen, 0.0))
            if state is AssetState.AVAILABLE:
                out.setdefault(stay.room, []).append(asset_id)
        return out


# ------------------------------------------------------------------------------- conditions
def _geofence(rule: GeofenceRule, w: World, now: float, assets: AssetLookup) -> Verdicts:
    out: Verdicts = {}
    for a, fix in w.watched(rule.select.matches, assets):
        verdict = _outside(rule, w, fix)
        if verdict is not False:
            out[a.id] = verdict
    return out


def _outside(rule: GeofenceRule, w: World, fix: FixRecord) -> bool | None:
    """Whether a fix is outside the fence (None: the fix does not decide)."""
    if fix.room is not None and fix.room in rule.exit_rooms:
        return True
    undecided = False
    if rule.buildings:
        if fix.building is None:
            undecided = True
        elif fix.building not in rule.buildings:
            return True
    if rule.levels:
        if fix.level is None:
            undecided = True
        elif fix.level not in rule.levels:
            return True
    if rule.departments:
        room = w.rooms.get(fix.room) if fix.room is not None else None
        if room is None or room.department is None:
            undecided = True
        elif room.department not in rule.departments:
            return True
    return None if undecided else False


def _restricted(rule: RestrictedAreaRule, w: World, now: float,
                assets: AssetLookup) -> Verdicts:
    out: Verdicts = {}
    for a, fix in w.watched(rule.select.matches, assets):
        if fix.room is None:
            continue
        room = w.rooms.get(fix.room)
        if fix.room in rule.rooms or (room is not None and room.category in rule.categories):
            out[a.id] = True
    return out


def _par_counts(rule: ParLevelRule, w: World, now: float,
                assets: AssetLookup) -> dict[str, list[str]]:
    per_room = w.available(rule.asset_type, now, assets)
    out = {room: per_room.get(room, []) for room in rule.rooms}
    for dept in rule.departments:
        out[f"department:{dept}"] = sorted(
            a for room, ids in per_room.items() for a in ids
            if (r := w.rooms.get(room)) is not None and r.department == dept)
    return out


def _par_level(rule: ParLevelRule, w: World, now: float, assets: AssetLookup) -> Verdicts:
    return {subject: True for subject, ids in _par_counts(rule, w, now, assets).items()
            if len(ids) < rule.minimum}


def _missing(rule: MissingRule, w: World, now: float, assets: AssetLookup) -> Verdicts:
    limit = rule.after_h * 3600.0
    return {a.id: True for a, fix in w.watched(rule.select.matches, assets)
            if now - fix.ts > limit and a.status not in OUT_OF_SERVICE_STATUSES}


def _gateway_offline(rule: GatewayOfflineRule, w: World, now: float,
                     assets: AssetLookup) -> Verdicts:
    out: Verdicts = {}
    for gw, st in w.statuses.items():
        if rule.gateways and gw not in rule.gateways:
            continue
        if rule.levels:
            level = w.site.gateway(gw).level if w.site.has_gateway(gw) else None
            if level not in rule.levels:
                continue
        if not st.online:
            out[gw] = True
    return out


def _low_battery(rule: LowBatteryRule, w: World, now: float, assets: AssetLookup) -> Verdicts:
    out: Verdicts = {}
    selective = bool(rule.select.types or rule.select.assets or rule.select.departments)
    for tag, pct in w.batteries.items():
        if pct >= rule.below_pct:
            continue
        if selective:
            asset_id = w.tag_asset.get(tag)
            a = assets(asset_id) if asset_id is not None else None
            if a is None or not rule.select.matches(a):
                continue
        out[tag] = True
    return out


def evaluate(rule: Rule, w: World, now: float, assets: AssetLookup) -> Verdicts:
    """The verdicts of one rule now."""
    if isinstance(rule, GeofenceRule):
        return _geofence(rule, w, now, assets)
    if isinstance(rule, RestrictedAreaRule):
        return _restricted(rule, w, now, assets)
    if isinstance(rule, ParLevelRule):
        return _par_level(rule, w, now, assets)
    if isinstance(rule, MissingRule):
        return _missing(rule, w, now, assets)
    if isinstance(rule, GatewayOfflineRule):
        return _gateway_offline(rule, w, now, assets)
    return _low_battery(rule, w, now, assets)


# ------------------------------------------------------------------------------- messages
def _asset_facts(w: World, asset_id: str, assets: AssetLookup) -> tuple[str, dict[str, Any]]:
    a = assets(asset_id)
    fix = w.fixes.get(asset_id)
    label = asset_id if a is None else (f"{a.name} ({asset_id})" if a.name != asset_id
                                        else asset_id)
    facts: dict[str, Any] = {"asset": asset_id, "asset_type": None if a is None else a.type}
    if fix is not None:
        facts.update(tag=fix.tag, building=fix.building, level=fix.level, room=fix.room,
                     x=fix.x, y=fix.y, seen_at=fix.ts)
    return label, facts


def describe(rule: Rule, subject: str, w: World, now: float,
             assets: AssetLookup) -> tuple[str, dict[str, Any]]:
    """A one-line message and the facts (JSON-ready) of a breached subject now."""
    if isinstance(rule, GeofenceRule | RestrictedAreaRule | MissingRule):
        label, facts = _asset_facts(w, subject, assets)
        fix = w.fixes.get(subject)
        where = "nowhere yet" if fix is None else (
            f"{w.room_label(fix.room)} on level {fix.level or '?'}, building "
            f"{fix.building or '?'}")
        if isinstance(rule, GeofenceRule):
            entered_exit = fix is not None and fix.room in rule.exit_rooms
            what = "entered an exit" if entered_exit else "left its area"
            return f"{label} {what}: seen in {where}", facts
        if isinstance(rule, RestrictedAreaRule):
            return f"{label} entered a restricted area: {where}", facts
        hours = 0.0 if fix is None else (now - fix.ts) / 3600.0
        last = "" if fix is None else f"; last seen {iso(fix.ts)} in {where}"
        return f"{label} not seen for {hours:.1f} h{last}", {**facts, "not_seen_h": hours}
    if isinstance(rule, ParLevelRule):
        ids = _par_counts(rule, w, now, assets).get(subject, [])
        place = (f"department {subject.removeprefix('department:')}"
                 if subject.startswith("department:") else w.room_label(subject))
        return (f"{len(ids)} available {rule.asset_type} in {place}, par level "
                f"{rule.minimum}", {"asset_type": rule.asset_type, "available": len(ids),
                                    "minimum": rule.minimum, "assets": sorted(ids)})
    if isinstance(rule, GatewayOfflineRule):
        st = w.statuses.get(subject)
        gw = w.site.gateway(subject) if w.site.has_gateway(subject) else None
        facts = {"gateway": subject, "level": None if gw is None else gw.level,
                 "room": None if gw is None else gw.room,
                 "last_seen": None if st is None else st.last_seen}
        since = "" if st is None or st.last_seen is None else f"; last heard {iso(st.last_seen)}"
        return f"gateway {subject} is offline{since}", facts
    pct = w.batteries.get(subject, float("nan"))
    asset_id = w.tag_asset.get(subject)
    facts = {"tag": subject, "asset": asset_id, "battery_pct": pct}
    owner = f" on {asset_id}" if asset_id else ""
    return (f"tag {subject}{owner} battery at {pct:.0f} %, below {rule.below_pct:g} %",
            facts)
