"""The alert engine: rule conditions over the pipeline's ticks, with hold times, into
raised/resolved transitions.

:meth:`AlertEngine.observe` takes what the pipeline produces each tick (fixes, stay records,
gateway statuses, optional battery levels), the asset registry lookup and the tick's time, and
returns the transitions. It is deterministic: no clock, no I/O, no randomness; time is the
``now`` it is given.

Every (rule, subject) pair (the alert key) is a two-state machine::

    clear --(condition holds for raise_after_s)--> active     => "raised"
    active --(condition clear for clear_after_s)--> clear     => "resolved"

A condition that flips back before its hold time is over leaves the state as it was, so a
flapping condition (a pump on the edge of two rooms, a gateway dropping for a second) gives no
alerts at all, and an alert that keeps firing stays one alert: it is raised once and only raised
again after it was resolved.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from floorplans.model import Site
from tracker.alerts.conditions import AssetLookup, World, describe, evaluate
from tracker.alerts.rules import Rule, Severity
from tracker.availability import StateMap
from tracker.records import FixRecord, GatewayStatusRecord, StayRecord

__all__ = ["AlertEngine", "Transition"]

log = logging.getLogger("sporing.alerts")


@dataclass(frozen=True, slots=True)
class Transition:
    """An alert being raised or resolved by the engine.

    Attributes:
        event: ``raised`` or ``resolved``.
        rule: The rule id.
        kind: The rule kind.
        subject: What the alert is about (asset, room, ``department:<name>``, gateway or tag).
        severity: The rule's severity.
        at: When the transition happened (the tick's time).
        since: When the condition started (raised) or cleared (resolved).
        message: One human-readable line.
        details: Facts of the subject (JSON-ready).
    """

    event: Literal["raised", "resolved"]
    rule: str
    kind: str
    subject: str
    severity: Severity
    at: float
    since: float
    message: str
    details: Mapping[str, Any] = field(default_factory=dict)


@dataclass(slots=True)
class _Track:
    active: bool = False
    pending_since: float | None = None
    since: float = 0.0


class AlertEngine:
    """Evaluates rules tick by tick (see the module docstring).

    Args:
        rules: The rules to evaluate (pass :attr:`AlertsConfig.active_rules
            <tracker.alerts.rules.AlertsConfig.active_rules>`: every rule given is evaluated).
        site: The floor plan (rooms, their categories and departments, gateways).
        state_map: Room category -> asset state, for par levels (default mapping).
    """

    def __init__(self, rules: Iterable[Rule], site: Site, *,
                 state_map: StateMap | None = None) -> None:
        self.rules: tuple[Rule, ...] = tuple(rules)
        self.world = World(site, state_map or StateMap())
        self._tracks: dict[str, dict[str, _Track]] = {r.id: {} for r in self.rules}

    # ------------------------------------------------------------------ input
    def update(self, *, fixes: Iterable[FixRecord] = (), stays: Iterable[StayRecord] = (),
               statuses: Iterable[GatewayStatusRecord] = (),
               batteries: Mapping[str, float] | None = None) -> None:
        """Take in new facts without evaluating (also used to seed the engine from the store
        at start-up: current locations and open stays).

        Args:
            fixes: Fixes; only those of paired tags (``asset`` set) matter, the newest wins.
            stays: Stay records; an open one puts its asset in its room, the matching closed
                one takes it out.
            statuses: Gateway statuses; the newest per gateway wins.
            batteries: Tag -> battery percent reported since the last update (formats that
                carry it); at most ``World.max_batteries`` tags are held, the longest silent
                forgotten first.
        """
        w = self.world
        for f in fixes:
            if f.asset is None:
                continue
            w.tag_asset[f.tag] = f.asset
            cur = w.fixes.get(f.asset)
            if cur is None or f.ts >= cur.ts:
                w.fixes[f.asset] = f
        for s in stays:
            if s.asset is None:
                continue
            cur_stay = w.stays.get(s.asset)
            if s.t_exit is None:
                if cur_stay is None or s.t_enter >= cur_stay.t_enter:
                    w.stays[s.asset] = s
            elif cur_stay is not None and cur_stay.key == s.key:
                del w.stays[s.asset]
        for st in statuses:
            cur_st = w.statuses.get(st.gateway)
            if cur_st is None or st.ts >= cur_st.ts:
                w.statuses[st.gateway] = st
        if batteries:
            w.set_batteries(batteries)

    def resume(self, keys: Iterable[tuple[str, str]], since: float) -> int:
        """Mark alerts still open in the store as active, so they are not raised a second time
        and resolve when their condition clears; returns how many were resumed (keys of rules
        no longer configured are ignored)."""
        n = 0
        for rule_id, subject in keys:
            tracks = self._tracks.get(rule_id)
            if tracks is not None:
                tracks[subject] = _Track(active=True, since=since)
                n += 1
        return n

    # ------------------------------------------------------------------ evaluation
    def observe(self, now: float, *, assets: AssetLookup, fixes: Sequence[FixRecord] = (),
                stays: Sequence[StayRecord] = (),
                statuses: Sequence[GatewayStatusRecord] = (),
                batteries: Mapping[str, float] | None = None) -> list[Transition]:
        """Take in one tick and evaluate every rule at ``now``.

        Args:
            now: The tick's time (epoch seconds).
            assets: The asset registry lookup.
            fixes, stays, statuses, batteries: What the tick produced (see :meth:`update`).

        Returns:
            The transitions of this tick, ordered by rule (configuration order) then subject.
        """
        self.update(fixes=fixes, stays=stays, statuses=statuses, batteries=batteries)
        return self.evaluate(now, assets)

    def evaluate(self, now: float, assets: AssetLookup) -> list[Transition]:
        """Evaluate every rule at ``now`` on what the engine knows."""
        out: list[Transition] = []
        for rule in self.rules:
            verdicts = evaluate(rule, self.world, now, assets)
            tracks = self._tracks[rule.id]
            for subject in sorted(verdicts.keys() | tracks.keys()):
                t = self._step(rule, subject, verdicts.get(subject, False), now, assets)
                if t is not None:
                    out.append(t)
        return out

    def _step(self, rule: Rule, subject: str, verdict: bool | None, now: float,
              assets: AssetLookup) -> Transition | None:
        if verdict is None:
            return None
        tracks = self._tracks[rule.id]
        tr = tracks.get(subject)
        if tr is None:
            if not verdict:
                return None
            tr = tracks[subject] = _Track()
        if verdict == tr.active:
            tr.pending_since = None
            if not tr.active:
                del tracks[subject]
            return None
        if tr.pending_since is None:
            tr.pending_since = now
        hold = rule.raise_after_s if verdict else rule.clear_after_s
        if now - tr.pending_since < hold:
            return None
        since, tr.pending_since = tr.pending_since, None
        if verdict:
            tr.active, tr.since = True, since
            message, details = describe(rule, subject, self.world, now, assets)
            return Transition("raised", rule.id, rule.kind, subject, rule.severity, now, since,
                              f"{rule.title}: {message}", details)
        del tracks[subject]
        return Transition("resolved", rule.id, rule.kind, subject, rule.severity, now, since,
                          f"{rule.title}: {subject} is back to normal",
                          {"active_since": tr.since})

    def active(self) -> list[tuple[str, str]]:
        """Keys of the alerts the engine holds raised, sorted."""
        return sorted((rid, s) for rid, tracks in self._tracks.items()
                      for s, tr in tracks.items() if tr.active)
