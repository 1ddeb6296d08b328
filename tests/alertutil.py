"""Builders for the alert tests: fixes, stays and a small registry on the sample hospital."""

from __future__ import annotations

from floorplans.model import Site
from tracker.alerts.engine import Transition
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
