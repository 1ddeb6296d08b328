"""Alerts, their events and the delivery outbox in the Sporing store (SQLite or PostgreSQL).

The tables come from migration ``0003_alerts.sql``. Every transition is written in one
transaction together with one outbox row per registered delivery target, so an event is never
recorded without being queued for delivery, and a restart loses nothing: the dispatcher
(:mod:`tracker.alerts.delivery`) picks the pending rows up again. Unresolved alerts are unique
per (rule, subject) in the database too, so even two engines cannot raise a duplicate.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any, Literal

import orjson

from tracker.alerts.conditions import iso
from tracker.alerts.engine import Transition
from tracker.alerts.lifecycle import (
    Alert,
    AlertEvent,
    AlertNotFoundError,
    AlertState,
    AlertStateError,
    EventName,
    OutboxItem,
    payload,
)
from tracker.records import us_to_ts
from tracker.store.base import Store
from tracker.store.sql import Fetch

__all__ = ["AlertStore"]


def _ts(v: Any) -> float | None:
    return None if v is None else us_to_ts(int(v))


class AlertStore:
    """Alert persistence on a :class:`~tracker.store.base.Store` (synchronous; call it from a
    thread in async code).

    Args:
        store: An upgraded store (migration ``0003_alerts`` applied).
    """

    def __init__(self, store: Store) -> None:
        self.store = store
        d = store.dialect
        self._d = d
        self._p = d.param
        self._alert_cols = (
            f"id, rule, kind, subject, severity, state, message, details, {d.us.format('since')},"
            f" {d.us.format('raised_at')}, {d.us.format('acknowledged_at')}, acknowledged_by,"
            f" {d.us.format('resolved_at')}, resolved_by")

    # ------------------------------------------------------------------ decoding
    @staticmethod
    def _alert(r: Sequence[Any]) -> Alert:
        return Alert(int(r[0]), r[1], r[2], r[3], r[4], AlertState(r[5]), r[6],
                     orjson.loads(r[7]), us_to_ts(int(r[8])), us_to_ts(int(r[9])),
                     _ts(r[10]), r[11], _ts(r[12]), r[13])

    def _get(self, run: Fetch, alert_id: int) -> Alert | None:
        rows = run(f"SELECT {self._alert_cols} FROM alerts WHERE id = {self._p}", (alert_id,))
        return self._alert(rows[0]) if rows else None

    def _event(self, run: Fetch, alert: Alert, event: EventName, at: float,
               actor: str | None, note: str | None, now: float) -> AlertEvent:
        p, d = self._p, self._d
        body = orjson.dumps(payload(alert, event, at, actor, note)).decode()
        rows = run(f"INSERT INTO alert_events (alert_id, event, time, actor, note, payload)"
                   f" VALUES ({p}, {p}, {p}, {p}, {p}, {p}) RETURNING id",
                   (alert.id, event, d.to_db(at), actor, note, body))
        event_id = int(rows[0][0])
        run(f"INSERT INTO alert_outbox (event_id, target, next_attempt_at)"
            f" SELECT {p}, target, {p} FROM alert_targets", (event_id, d.to_db(now)))
        return AlertEvent(event_id, alert.id, event, at, actor, note)

    # ------------------------------------------------------------------ engine transitions
    def record(self, transitions: Iterable[Transition], *, now: float) -> list[AlertEvent]:
        """Write the engine's transitions in one transaction; returns the events recorded.

        A ``raised`` transition whose key already has an unresolved alert, and a ``resolved``
        one whose alert is already resolved (by hand), record nothing.

        Args:
            transitions: From :meth:`tracker.alerts.engine.AlertEngine.observe`.
            now: Wall-clock time, when the new outbox rows become due.
        """
        p, d = self._p, self._d
        out: list[AlertEvent] = []
        with self.store.transaction() as run:
            for t in transitions:
                if t.event == "raised":
                    rows = run(
                        "INSERT INTO alerts (rule, kind, subject, severity, state, message,"
                        " details, since, raised_at)"
                        f" VALUES ({p}, {p}, {p}, {p}, 'open', {p}, {p}, {p}, {p})"
                        " ON CONFLICT (rule, subject) WHERE state <> 'resolved' DO NOTHING"
                        " RETURNING id",
                        (t.rule, t.kind, t.subject, t.severity, t.message,
                         orjson.dumps(dict(t.details)).decode(), d.to_db(t.since),
                         d.to_db(t.at)))
                else:
                    rows = run(f"UPDATE alerts SET state = 'resolved', resolved_at = {p}"
                               f" WHERE rule = {p} AND subject = {p} AND state <> 'resolved'"
                               " RETURNING id", (d.to_db(t.at), t.rule, t.subject))
                if not rows:
                    continue
                alert = self._get(run, int(rows[0][0]))
                assert alert is not None
                out.append(self._event(run, alert, t.event, t.at, None, None, now))
        return out

    # ------------------------------------------------------------------ users
    def _refuse(self, run: Fetch, alert_id: int, verb: str) -> AlertNotFoundError | \
            AlertStateError:
        alert = self._get(run, alert_id)
        if alert is None:
            return AlertNotFoundError(f"no alert has id {alert_id}")
        if alert.state is AlertState.RESOLVED:
            who = (f"by {alert.resolved_by}" if alert.resolved_by
                   else "automatically (the condition cleared)")
            when = iso(alert.resolved_at or alert.raised_at)
            return AlertStateError(f"cannot {verb} alert {alert_id}: it was resolved {who} "
                                   f"at {when}")
        when = iso(alert.acknowledged_at or alert.raised_at)
        return AlertStateError(f"cannot {verb} alert {alert_id}: it was already acknowledged "
                               f"by {alert.acknowledged_by} at {when}")

    def acknowledge(self, alert_id: int, *, by: str, at: float,
                    note: str | None = None) -> Alert:
        """Acknowledge an open alert.

        Raises:
            AlertNotFoundError: No such alert.
            AlertStateError: It is already acknowledged or resolved.
        """
        return self._by_hand(alert_id, "acknowledged", "state = 'open'", "acknowledge", by,
                             at, note)

    def resolve(self, alert_id: int, *, by: str, at: float, note: str | None = None) -> Alert:
        """Resolve an open or acknowledged alert by hand.

        Raises:
            AlertNotFoundError: No such alert.
            AlertStateError: It is already resolved.
        """
        return self._by_hand(alert_id, "resolved", "state <> 'resolved'", "resolve", by, at,
                             note)

    def _by_hand(self, alert_id: int, state: Literal["acknowledged", "resolved"],
                 allowed: str, verb: str, by: str, at: float, note: str | None) -> Alert:
        """Move an alert to ``state`` (``acknowledged``/``resolved``, whose ``<state>_at`` and
        ``<state>_by`` columns are set) when ``allowed`` holds, and record the event."""
        p, d = self._p, self._d
        with self.store.transaction() as run:
            rows = run(f"UPDATE alerts SET state = '{state}', {state}_at = {p}, {state}_by = {p}"
                       f" WHERE id = {p} AND {allowed} RETURNING id",
                       (d.to_db(at), by, alert_id))
            if not rows:
                raise self._refuse(run, alert_id, verb)
            alert = self._get(run, alert_id)
            assert alert is not None
            self._event(run, alert, state, at, by, note, at)
        return alert

    # ------------------------------------------------------------------ reads
    def get(self, alert_id: int) -> Alert | None:
        """One alert, or None."""
        rows = self.store.query(f"SELECT {self._alert_cols} FROM alerts WHERE id = {self._p}",
                                (alert_id,))
        return self._alert(rows[0]) if rows else None

    def alerts(self, *, state: AlertState | str | None = None, rule: str | None = None,
             limit: int = 100, offset: int = 0) -> tuple[list[Alert], int]:
        """Alerts newest first, filtered by state and rule; returns ``(page, total)``."""
        d = self._d
        params: list[Any] = []
        where = d.equal_filters(
            (("state", None if state is None else AlertState(state).value), ("rule", rule)),
            params)
        total = self.store.query(f"SELECT count(*) FROM alerts WHERE {d.true}{where}", params)
        rows = self.store.query(
            f"SELECT {self._alert_cols} FROM alerts WHERE {d.true}{where}"
            f" ORDER BY raised_at DESC, id DESC LIMIT {d.param} OFFSET {d.param}",
            [*params, max(0, limit), max(0, offset)])
        return [self._alert(r) for r in rows], int(total[0][0])

    def events(self, alert_id: int) -> list[AlertEvent]:
        """The events of an alert in order."""
        rows = self.store.query(
            f"SELECT id, alert_id, event, {self._d.us.format('time')}, actor, note"
            f" FROM alert_events WHERE alert_id = {self._p} ORDER BY id", (alert_id,))
        return [AlertEvent(int(r[0]), int(r[1]), r[2], us_to_ts(int(r[3])), r[4], r[5])
                for r in rows]

    def unresolved(self) -> list[Alert]:
        """Every alert not resolved yet (the engine resumes them at start-up)."""
        rows = self.store.query(f"SELECT {self._alert_cols} FROM alerts"
                                " WHERE state <> 'resolved' ORDER BY id")
        return [self._alert(r) for r in rows]

    # ------------------------------------------------------------------ outbox
    def set_targets(self, targets: Sequence[str], *, at: float) -> None:
        """Register the delivery targets of this installation (replacing the previous set);
        events recorded from now on are queued for each of them."""
        p, d = self._p, self._d
        with self.store.transaction() as run:
            if targets:
                marks = ", ".join([p] * len(targets))
                run(f"DELETE FROM alert_targets WHERE target NOT IN ({marks})", tuple(targets))
            else:
                run("DELETE FROM alert_targets", ())
            for target in targets:
                run(f"INSERT INTO alert_targets (target, registered_at) VALUES ({p}, {p})"
                    " ON CONFLICT (target) DO NOTHING", (target, d.to_db(at)))

    def _outbox_query(self, where: str) -> str:
        us = self._d.us
        return ("SELECT o.event_id, o.target, a.rule, e.event, e.payload, o.attempts, o.state,"
                f" {us.format('o.next_attempt_at')}, o.last_error FROM alert_outbox o"
                " JOIN alert_events e ON e.id = o.event_id JOIN alerts a ON a.id = e.alert_id"
                f" WHERE {where} ORDER BY o.event_id, o.target")

    @staticmethod
    def _item(r: Sequence[Any]) -> OutboxItem:
        return OutboxItem(int(r[0]), r[1], r[2], r[3], r[4], int(r[5]), r[6],
                          us_to_ts(int(r[7])), r[8])

    _HEAD = ("o.state = 'pending' AND o.event_id = (SELECT min(h.event_id) FROM alert_outbox h"
             " WHERE h.target = o.target AND h.state = 'pending')")

    def due(self, now: float, *, limit: int = 100) -> list[OutboxItem]:
        """The oldest pending event of each target, when its attempt is due at ``now``.

        Deliveries to one target keep the order of the events (a receiver never sees an alert
        resolved before it was raised); a failing target holds up only its own queue.
        """
        d = self._d
        rows = self.store.query(
            self._outbox_query(f"{self._HEAD} AND o.next_attempt_at <= {d.param}")
            + f" LIMIT {d.param}", (d.to_db(now), max(1, limit)))
        return [self._item(r) for r in rows]

    def next_due(self) -> float | None:
        """When the next pending head of a queue is due, or None when nothing is pending."""
        rows = self.store.query(
            f"SELECT min({self._d.us.format('o.next_attempt_at')}) FROM alert_outbox o"
            f" WHERE {self._HEAD}")
        return _ts(rows[0][0]) if rows else None

    def outbox(self, *, state: str | None = None) -> list[OutboxItem]:
        """Every outbox row (optionally of one state), in event order."""
        d = self._d
        if state is None:
            rows = self.store.query(self._outbox_query(d.true))
        else:
            rows = self.store.query(self._outbox_query(f"o.state = {d.param}"), (state,))
        return [self._item(r) for r in rows]

    def _finish(self, item: OutboxItem, sets: str, params: Sequence[Any]) -> None:
        p = self._p
        with self.store.transaction() as run:
            run(f"UPDATE alert_outbox SET attempts = attempts + 1, {sets}"
                f" WHERE event_id = {p} AND target = {p}",
                (*params, item.event_id, item.target))

    def delivered(self, item: OutboxItem, *, at: float) -> None:
        """Mark an attempt successful."""
        p = self._p
        self._finish(item, f"state = 'delivered', done_at = {p}, last_error = NULL",
                     (self._d.to_db(at),))

    def retry(self, item: OutboxItem, *, at: float, error: str) -> None:
        """Record a failed attempt; the next one is due at ``at``."""
        p = self._p
        self._finish(item, f"next_attempt_at = {p}, last_error = {p}",
                     (self._d.to_db(at), error[:1000]))

    def give_up(self, item: OutboxItem, *, at: float, error: str) -> None:
        """Record a last failed attempt: the event is not delivered to this target."""
        p = self._p
        self._finish(item, f"state = 'failed', done_at = {p}, last_error = {p}",
                     (self._d.to_db(at), error[:1000]))
