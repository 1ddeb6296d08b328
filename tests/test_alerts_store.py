"""Alert persistence on SQLite and on the real TimescaleDB: the lifecycle with who and when,
deduplication in the database, the outbox, and nothing lost across a reopen."""

from __future__ import annotations

import orjson
import pytest

from tests.alertutil import T0, raised
from tracker.alerts.engine import Transition
from tracker.alerts.lifecycle import AlertNotFoundError, AlertState, AlertStateError
from tracker.alerts.store import AlertStore
from tracker.store import open_store
from tracker.store.base import Store

NOW = T0 + 5.0


def resolved(rule: str, subject: str, at: float) -> Transition:
    return Transition("resolved", rule, "restricted_area", subject, "warning", at, at,
                      f"{rule}: {subject} is back to normal", {})


def test_lifecycle_with_who_and_when(store: Store) -> None:
    alerts = AlertStore(store)
    alerts.set_targets(["mqtt", "webhook:ops"], at=NOW)
    [ev] = alerts.record([raised("pump-1", "r", T0, since=T0 - 10,
                                 details={"room": "A1.113", "n": 1})], now=NOW)
    a = alerts.get(ev.alert_id)
    assert a is not None and a.state is AlertState.OPEN
    assert (a.rule, a.kind, a.subject, a.severity) == ("r", "restricted_area", "pump-1",
                                                       "warning")
    assert (a.since, a.raised_at) == (T0 - 10, T0) and a.details == {"room": "A1.113", "n": 1}
    acked = alerts.acknowledge(a.id, by="kari", at=T0 + 60, note="on my way")
    assert acked.state is AlertState.ACKNOWLEDGED
    assert (acked.acknowledged_by, acked.acknowledged_at) == ("kari", T0 + 60)
    with pytest.raises(AlertStateError, match="already acknowledged by kari"):
        alerts.acknowledge(a.id, by="ola", at=T0 + 61)
    # The condition clears: resolved automatically (resolved_by None).
    [ev2] = alerts.record([resolved("r", "pump-1", T0 + 120)], now=NOW)
    done = alerts.get(a.id)
    assert done is not None and done.state is AlertState.RESOLVED
    assert (done.resolved_at, done.resolved_by) == (T0 + 120, None)
    assert done.acknowledged_by == "kari"
    with pytest.raises(AlertStateError, match="resolved automatically"):
        alerts.resolve(a.id, by="ola", at=T0 + 130)
    with pytest.raises(AlertStateError, match="resolved automatically"):
        alerts.acknowledge(a.id, by="ola", at=T0 + 130)
    hist = alerts.events(a.id)
    assert [(e.event, e.at, e.actor, e.note) for e in hist] == [
        ("raised", T0, None, None), ("acknowledged", T0 + 60, "kari", "on my way"),
        ("resolved", T0 + 120, None, None)]
    assert ev2.id == hist[-1].id
    with pytest.raises(AlertNotFoundError, match="no alert has id 999"):
        alerts.acknowledge(999, by="kari", at=T0)
    with pytest.raises(AlertNotFoundError):
        alerts.resolve(999, by="kari", at=T0)


def test_one_unresolved_alert_per_rule_and_subject(store: Store) -> None:
    alerts = AlertStore(store)
    first = alerts.record([raised("pump-1", "r", T0), raised("pump-2", "r", T0)], now=NOW)
    again = alerts.record([raised("pump-1", "r", T0 + 1), raised("pump-1", "other", T0 + 1)],
                          now=NOW)
    assert len(first) == 2 and [e.event for e in again] == ["raised"]
    assert alerts.alerts()[1] == 3
    # Resolved by hand while the condition still holds: the engine's later "resolved" records
    # nothing, and a new occurrence is a new alert.
    a1 = first[0].alert_id
    manual = alerts.resolve(a1, by="kari", at=T0 + 5, note="false alarm")
    assert manual.resolved_by == "kari" and manual.resolved_at == T0 + 5
    assert alerts.record([resolved("r", "pump-1", T0 + 9)], now=NOW) == []
    [new] = alerts.record([raised("pump-1", "r", T0 + 20)], now=NOW)
    assert new.alert_id != a1
    assert [a.id for a in alerts.unresolved()] == [first[1].alert_id, again[0].alert_id,
                                                   new.alert_id]


def test_listing_filters_and_pages(store: Store) -> None:
    alerts = AlertStore(store)
    evs = alerts.record([raised(f"pump-{k}", "r", T0 + k) for k in range(5)], now=NOW)
    alerts.acknowledge(evs[1].alert_id, by="kari", at=T0 + 10)
    alerts.resolve(evs[2].alert_id, by="kari", at=T0 + 10)
    page, total = alerts.alerts()
    assert total == 5 and [a.subject for a in page] == [f"pump-{k}" for k in (4, 3, 2, 1, 0)]
    assert [a.subject for a in alerts.alerts(state="open")[0]] == ["pump-4", "pump-3",
                                                                   "pump-0"]
    assert [a.subject for a in alerts.alerts(state=AlertState.ACKNOWLEDGED)[0]] == ["pump-1"]
    assert alerts.alerts(state="resolved")[1] == 1
    assert alerts.alerts(rule="nope") == ([], 0)
    page, total = alerts.alerts(limit=2, offset=2)
    assert total == 5 and [a.subject for a in page] == ["pump-2", "pump-1"]


def test_outbox_rows_per_target_in_event_order(store: Store) -> None:
    alerts = AlertStore(store)
    assert alerts.record([raised("x", "r", T0)], now=NOW)  # no targets yet: nothing queued
    assert alerts.outbox() == []
    alerts.set_targets(["mqtt", "webhook:ops"], at=NOW)
    e1, e2 = alerts.record([raised("pump-1", "r", T0), raised("pump-2", "q", T0)], now=NOW)
    due = alerts.due(NOW)
    # The head of each target's queue only: the first event, once per target.
    assert [(i.event_id, i.target) for i in due] == [(e1.id, "mqtt"), (e1.id, "webhook:ops")]
    body = orjson.loads(due[0].payload)
    assert body["event"] == "raised" and body["alert"]["subject"] == "pump-1"
    assert body["alert"]["state"] == "open" and body["at"] == T0 and due[0].rule == "r"
    assert [i.event for i in due] == ["raised", "raised"]
    assert alerts.due(NOW - 1) == []
    mqtt, hook = due
    alerts.delivered(mqtt, at=NOW + 1)
    alerts.retry(hook, at=NOW + 60, error="HTTP 503")
    # mqtt moves on to the second event; the webhook's queue waits for its head's retry.
    assert [(i.event_id, i.target) for i in alerts.due(NOW + 2)] == [(e2.id, "mqtt")]
    assert alerts.next_due() == NOW
    later = alerts.due(NOW + 60)
    assert [(i.event_id, i.target, i.attempts, i.last_error) for i in later] == [
        (e1.id, "webhook:ops", 1, "HTTP 503"), (e2.id, "mqtt", 0, None)]
    alerts.give_up(later[0], at=NOW + 61, error="HTTP 400")
    assert [(i.event_id, i.target) for i in alerts.due(NOW + 61)] == [
        (e2.id, "mqtt"), (e2.id, "webhook:ops")]
    assert [(i.event_id, i.target, i.attempts) for i in alerts.outbox(state="failed")] == [
        (e1.id, "webhook:ops", 2)]
    assert [i.target for i in alerts.outbox(state="delivered")] == ["mqtt"]
    # A target removed from the configuration gets no new rows.
    alerts.set_targets(["mqtt"], at=NOW + 70)
    e3 = alerts.acknowledge(e1.alert_id, by="kari", at=NOW + 70)
    new = [i for i in alerts.outbox() if i.event_id > e2.id]
    assert [(i.target, orjson.loads(i.payload)["event"]) for i in new] == [
        ("mqtt", "acknowledged")]
    assert orjson.loads(new[0].payload)["actor"] == "kari" and new[0].event == "acknowledged"
    assert e3.state is AlertState.ACKNOWLEDGED


def test_nothing_is_lost_across_a_reopen(store_url: str) -> None:
    url = store_url
    s = open_store(url)
    s.upgrade()
    alerts = AlertStore(s)
    alerts.set_targets(["webhook:ops"], at=NOW)
    [ev] = alerts.record([raised("pump-1", "r", T0)], now=NOW)
    alerts.acknowledge(ev.alert_id, by="kari", at=T0 + 1)
    s.close()
    s = open_store(url)
    try:
        assert s.upgrade() == []
        alerts = AlertStore(s)
        [a] = alerts.unresolved()
        assert a.state is AlertState.ACKNOWLEDGED and a.acknowledged_by == "kari"
        pending = alerts.outbox(state="pending")
        assert [orjson.loads(i.payload)["event"] for i in pending] == ["raised",
                                                                         "acknowledged"]
        assert [i.event_id for i in alerts.due(NOW)] == [ev.id]
    finally:
        s.close()
