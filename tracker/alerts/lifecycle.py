"""The alert lifecycle: raised (state ``open``) → acknowledged → resolved, with who and when.

* The engine raises an alert when its condition has held long enough; while it is unresolved,
  the same condition never raises a second one (key = rule + subject).
* A user acknowledges an open alert ("I'm on it"): :data:`AlertState.ACKNOWLEDGED`.
* The engine resolves it when the condition has cleared long enough (``resolved_by`` None), or
  a user resolves it by hand. After a manual resolve the engine stays quiet about that key
  until the condition has cleared; if it comes back later, a new alert is raised.

Every transition is an :class:`AlertEvent`; its JSON :func:`payload` is what MQTT and the
webhooks receive.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Literal

from tracker.alerts.conditions import iso

__all__ = [
    "Alert",
    "AlertError",
    "AlertEvent",
    "AlertNotFoundError",
    "AlertState",
    "AlertStateError",
    "EventName",
    "OutboxItem",
    "payload",
]

EventName = Literal["raised", "acknowledged", "resolved"]


class AlertState(StrEnum):
    """Where an alert is in its lifecycle."""

    OPEN = "open"
    ACKNOWLEDGED = "acknowledged"
    RESOLVED = "resolved"


class AlertError(Exception):
    """Root of the lifecycle's exceptions."""


class AlertNotFoundError(AlertError, LookupError):
    """No alert has this id."""


class AlertStateError(AlertError):
    """The transition is not allowed from the alert's current state (e.g. acknowledging a
    resolved alert); the message says who moved it there and when."""


@dataclass(frozen=True, slots=True)
class Alert:
    """One alert.

    Attributes:
        id: Its number.
        rule, kind, subject: The rule (id and kind) and what the alert is about.
        severity: ``info``, ``warning`` or ``critical``.
        state: Its :class:`AlertState`.
        message: One human-readable line written when it was raised.
        details: Facts of the subject when it was raised.
        since: When the condition started.
        raised_at: When the alert was raised (after the rule's hold time).
        acknowledged_at, acknowledged_by: Who acknowledged it and when.
        resolved_at, resolved_by: When it was resolved, and by whom (None: automatically,
            the condition cleared).
    """

    id: int
    rule: str
    kind: str
    subject: str
    severity: str
    state: AlertState
    message: str
    details: Mapping[str, Any]
    since: float
    raised_at: float
    acknowledged_at: float | None = None
    acknowledged_by: str | None = None
    resolved_at: float | None = None
    resolved_by: str | None = None

    @property
    def key(self) -> tuple[str, str]:
        """(rule, subject): at most one unresolved alert has it."""
        return (self.rule, self.subject)

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready form (times as epoch seconds)."""
        return {
            "id": self.id, "rule": self.rule, "kind": self.kind, "subject": self.subject,
            "severity": self.severity, "state": self.state.value, "message": self.message,
            "details": dict(self.details), "since": self.since, "raised_at": self.raised_at,
            "acknowledged_at": self.acknowledged_at, "acknowledged_by": self.acknowledged_by,
            "resolved_at": self.resolved_at, "resolved_by": self.resolved_by,
        }


@dataclass(frozen=True, slots=True)
class AlertEvent:
    """One transition of an alert.

    Attributes:
        id: Event number (increasing; the ``event_id`` of deliveries).
        alert_id: The alert.
        event: ``raised``, ``acknowledged`` or ``resolved``.
        at: When.
        actor: Who (None: the alert engine).
        note: The user's note, if any.
    """

    id: int
    alert_id: int
    event: EventName
    at: float
    actor: str | None = None
    note: str | None = None


@dataclass(frozen=True, slots=True)
class OutboxItem:
    """One event waiting to be delivered to one target (``mqtt`` or ``webhook:<name>``).

    Attributes:
        event_id: The event.
        target: Where it goes.
        rule: The rule id of its alert (the MQTT topic's last level).
        event: ``raised``, ``acknowledged`` or ``resolved`` (the webhook's
            ``X-Sporing-Event``).
        payload: The JSON text to deliver (without ``event_id``, added on delivery).
        attempts: Attempts made so far.
        state: ``pending``, ``delivered`` or ``failed`` (given up).
        next_attempt_at: When the next attempt is due.
        last_error: Why the last attempt failed.
    """

    event_id: int
    target: str
    rule: str
    event: EventName
    payload: str
    attempts: int
    state: Literal["pending", "delivered", "failed"] = "pending"
    next_attempt_at: float = 0.0
    last_error: str | None = field(default=None)


def payload(alert: Alert, event: EventName, at: float, actor: str | None,
            note: str | None) -> dict[str, Any]:
    """The JSON delivered for one event: the event, who and when, and the alert as it is after
    the event."""
    return {"event": event, "at": at, "time": iso(at), "actor": actor, "note": note,
            "alert": alert.as_dict()}
