"""Alerts: list them, acknowledge and resolve them (role ``biomed``).

The alert engine runs in the process with the pipeline; these endpoints only need the store,
so they work in every role. An acknowledgement or manual resolve is recorded with who and when,
queued for delivery (MQTT, webhooks) in the same transaction, and written to the audit log.
"""

from __future__ import annotations

import asyncio
import time
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Body, Path, Query
from pydantic import BaseModel, Field

from tracker.alerts.lifecycle import Alert, AlertNotFoundError, AlertStateError
from tracker.alerts.store import AlertStore
from tracker.api.deps import StateDep, StoreDep
from tracker.api.errors import ApiError, NotFoundError
from tracker.api.security import BiomedDep
from tracker.auth import audit

__all__ = ["router"]

router = APIRouter(prefix="/api/v1/alerts", tags=["alerts"])


class ConflictApiError(ApiError):
    """The transition is not allowed from the alert's state."""

    status = 409


class AlertEventOut(BaseModel):
    """One transition of an alert."""

    id: int
    event: Literal["raised", "acknowledged", "resolved"]
    at: float
    actor: str | None = Field(description="Who; null for the alert engine")
    note: str | None = None


class AlertOut(BaseModel):
    """One alert."""

    id: int
    rule: str
    kind: str
    subject: str = Field(description="Asset, room, department:<name>, gateway or tag id")
    severity: Literal["info", "warning", "critical"]
    state: Literal["open", "acknowledged", "resolved"]
    message: str
    details: dict[str, Any]
    since: float = Field(description="When the condition started (epoch s)")
    raised_at: float
    acknowledged_at: float | None = None
    acknowledged_by: str | None = None
    resolved_at: float | None = None
    resolved_by: str | None = Field(
        default=None, description="Who resolved it; null when resolved automatically")
    events: list[AlertEventOut] | None = None

    @classmethod
    def of(cls, a: Alert, events: list[AlertEventOut] | None = None) -> AlertOut:
        """From a stored alert."""
        return cls(id=a.id, rule=a.rule, kind=a.kind, subject=a.subject,
                   severity=a.severity,  # type: ignore[arg-type]
                   state=a.state.value, message=a.message, details=dict(a.details),
                   since=a.since, raised_at=a.raised_at, acknowledged_at=a.acknowledged_at,
                   acknowledged_by=a.acknowledged_by, resolved_at=a.resolved_at,
                   resolved_by=a.resolved_by, events=events)


class AlertList(BaseModel):
    """A page of alerts, newest first."""

    count: int
    total: int
    items: list[AlertOut]


class AlertAction(BaseModel):
    """An optional note with an acknowledgement or a resolve."""

    note: str | None = Field(default=None, max_length=1000)


AlertId = Annotated[int, Path(ge=1, le=2**63 - 1, description="The alert's id")]


@router.get("", response_model=AlertList, summary="Alerts")
async def list_alerts(
    principal: BiomedDep, store: StoreDep,
    state: Annotated[Literal["open", "acknowledged", "resolved"] | None,
                     Query(description="Only alerts in this state")] = None,
    rule: Annotated[str | None, Query(max_length=64, description="Only this rule")] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
) -> AlertList:
    """Alerts newest first, optionally in one state (``open``: raised and not acknowledged)."""
    items, total = await asyncio.to_thread(AlertStore(store).alerts, state=state, rule=rule,
                                           limit=limit, offset=offset)
    return AlertList(count=len(items), total=total, items=[AlertOut.of(a) for a in items])


@router.get("/{alert_id}", response_model=AlertOut, summary="One alert with its history",
            responses={404: {"description": "No such alert"}})
async def get_alert(principal: BiomedDep, store: StoreDep, alert_id: AlertId) -> AlertOut:
    """One alert and its events (raised, acknowledged, resolved: who and when)."""
    alerts = AlertStore(store)
    alert = await asyncio.to_thread(alerts.get, alert_id)
    if alert is None:
        raise NotFoundError(f"no alert has id {alert_id}")
    events = await asyncio.to_thread(alerts.events, alert_id)
    return AlertOut.of(alert, [AlertEventOut(id=e.id, event=e.event, at=e.at, actor=e.actor,
                                             note=e.note) for e in events])


async def _act(verb: Literal["acknowledge", "resolve"], principal: BiomedDep, state: StateDep,
               store: StoreDep, alert_id: int, body: AlertAction | None) -> AlertOut:
    alerts = AlertStore(store)
    fn = alerts.acknowledge if verb == "acknowledge" else alerts.resolve
    note = body.note if body is not None else None
    try:
        alert = await asyncio.to_thread(fn, alert_id, by=principal.name, at=time.time(),
                                        note=note)
    except AlertNotFoundError as exc:
        raise NotFoundError(str(exc)) from None
    except AlertStateError as exc:
        raise ConflictApiError(str(exc)) from None
    await audit(state, principal, f"alert.{verb}", f"alert:{alert_id}",
                {"rule": alert.rule, "subject": alert.subject, "note": note})
    return AlertOut.of(alert)


@router.post("/{alert_id}/ack", response_model=AlertOut, summary="Acknowledge an alert",
             responses={404: {"description": "No such alert"},
                        409: {"description": "Already acknowledged or resolved"}})
async def acknowledge(principal: BiomedDep, state: StateDep, store: StoreDep,
                      alert_id: AlertId,
                      body: Annotated[AlertAction | None, Body()] = None) -> AlertOut:
    """Acknowledge an open alert ("I'm on it"); it resolves when its condition clears."""
    return await _act("acknowledge", principal, state, store, alert_id, body)


@router.post("/{alert_id}/resolve", response_model=AlertOut, summary="Resolve an alert",
             responses={404: {"description": "No such alert"},
                        409: {"description": "Already resolved"}})
async def resolve(principal: BiomedDep, state: StateDep, store: StoreDep, alert_id: AlertId,
                  body: Annotated[AlertAction | None, Body()] = None) -> AlertOut:
    """Resolve an open or acknowledged alert by hand. The engine raises a new alert for the
    same rule and subject only after the condition has cleared and come back."""
    return await _act("resolve", principal, state, store, alert_id, body)
