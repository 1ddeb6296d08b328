"""Builders for the alert tests: fixes, stays, transitions, a small registry on the sample
hospital, and a hand-moved clock."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from floorplans.model import Site
from tracker.alerts.engine import Transition
from tracker.alerts.rules import Severity
from tracker.assets import Asset
from tracker.records import FixRecord, StayRecord

T0 = 1_764_147_600.0  # 2025-11-26T09:00:00Z

ASSETS = {a.id: a for a in (
    Asset("bed-1", "Seng 1", type="bed", department="Kirurgi 1A"),
    Asset("bed-2", "Seng 2", type="bed", department="Kirurgi 1A"),
    Asset("pump-1", "Pumpe 1", type="infusion_pump", department="Kirurgi 1A"),
    Asset("pump-2", "Pumpe 2", type="infusion_pump", department="Kirurgi 1A"),
    Asset("pump-3", "Pumpe 3", type="infusion_pump", department="Kirurgi 1A"),
    Asset("pump-9", "Pumpe 9", type="infusion_pump", status="in_repair"),
)}


def lookup(asset_id: str) -> Asset | None:
    """The test registry."""
    return ASSETS.get(asset_id)


def fix(site: Site, asset: str, room: str | None, ts: float, *, level: str | None = None,
        moving: bool = False, tag: str | None = None) -> FixRecord:
    """A fix of ``asset`` (tag ``t-<asset>``) in ``room`` (or on ``level`` between rooms)."""
    lv = site.room(room).level if room is not None else level
    building = site.level(lv).building if lv is not None else None
    return FixRecord(ts=ts, tag=tag or f"t-{asset}", asset=asset, site=site.id,
                     building=building, level=lv, room=room, x=1.0, y=2.0, accuracy_m=1.5,
                     room_confidence=0.9, moving=moving)


def stay(site: Site, asset: str, room: str, t_enter: float,
         t_exit: float | None = None) -> StayRecord:
    """A stay of ``asset`` (tag ``t-<asset>``) in ``room``."""
    return StayRecord(tag=f"t-{asset}", asset=asset, site=site.id, level=site.room(room).level,
                      room=room, t_enter=t_enter, t_exit=t_exit, confidence=0.9)


def events(ts: list[Transition]) -> list[tuple[str, str, str]]:
    """(event, rule, subject) of each transition."""
    return [(t.event, t.rule, t.subject) for t in ts]


def raised(subject: str = "pump-1", rule: str = "r", at: float = T0, *,
           since: float | None = None, kind: str = "restricted_area",
           severity: Severity = "warning", message: str | None = None,
           details: Mapping[str, Any] | None = None) -> Transition:
    """A ``raised`` transition of ``rule`` about ``subject`` at ``at`` (condition since
    ``since``, default ``at``); a restricted-area alert in room A1.113 unless told."""
    return Transition("raised", rule, kind, subject, severity, at, at if since is None else since,
                      message or f"{rule}: {subject} entered a restricted area",
                      {"room": "A1.113"} if details is None else details)


class Clock:
    """A hand-moved wall clock."""

    def __init__(self, t: float) -> None:
        self.t = t

    def __call__(self) -> float:
        return self.t
