"""Per-gateway health: last seen, message and reading rates, offline detection, and the
status records gateways publish (Minew ``Gateway`` record, Ruuvi ``gw_status``, Cassia
heartbeat, OpenMQTTGateway ``SYStoMQTT``/``LWT``, ESPresense telemetry) merged in.

Rates are exponentially decayed event counts: each event of weight ``n`` at time ``t`` updates
``r ← r·exp(-(t - t_prev)/τ) + n/τ``, so ``r`` estimates events per second over roughly the
last ``τ`` seconds and decays towards 0 when the gateway goes quiet (read at "now" with the same
decay). A gateway is *offline* when no message came for ``offline_after_s`` or its last status
said so (last-will message); a floor-plan gateway never heard from is ``never_seen``.
"""

from __future__ import annotations

import math
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Literal

from gateway.adapters.types import GatewayStatus

__all__ = ["GatewayHealth", "GatewayHealthRow", "HealthState"]

HealthState = Literal["online", "offline", "never_seen"]


@dataclass(slots=True)
class _Gw:
    first_seen: float | None = None
    last_seen: float | None = None
    messages: int = 0
    readings: int = 0
    rejects: int = 0
    msg_rate: float = 0.0
    reading_rate: float = 0.0
    rate_ts: float = 0.0
    status: GatewayStatus | None = None


@dataclass(frozen=True, slots=True)
class GatewayHealthRow:
    """One row of ``sporing gateways`` (and of the health table in the store).

    Attributes:
        gateway: Floor-plan gateway id.
        state: ``online``, ``offline`` or ``never_seen``.
        last_seen: Receipt time of the last message (UNIX s), or None.
        age_s: Seconds since the last message, or None.
        messages: Messages counted since start.
        readings: Readings counted since start.
        rejects: Rejected messages or elements attributed to this gateway.
        messages_per_s: Decayed message rate.
        readings_per_s: Decayed reading rate.
        status: The latest status record the gateway published, if any.
    """

    gateway: str
    state: HealthState
    last_seen: float | None
    age_s: float | None
    messages: int
    readings: int
    rejects: int
    messages_per_s: float
    readings_per_s: float
    status: GatewayStatus | None = field(default=None)

    def as_dict(self) -> dict[str, object]:
        """A flat dict (status fields prefixed ``status_``) for tables and the store."""
        d: dict[str, object] = {
            "gateway": self.gateway, "state": self.state, "last_seen": self.last_seen,
            "age_s": self.age_s, "messages": self.messages, "readings": self.readings,
            "rejects": self.rejects, "messages_per_s": round(self.messages_per_s, 3),
            "readings_per_s": round(self.readings_per_s, 3),
        }
        st = self.status
        if st is not None:
            for name in ("online", "uptime_s", "firmware", "model", "battery_pct", "ip",
                         "rssi", "load", "free_memory"):
                d[f"status_{name}"] = getattr(st, name)
            d["status_ts"] = st.ts
        return d


class GatewayHealth:
    """Tracks every gateway's liveness (see the module docstring).

    Args:
        known: Floor-plan gateway ids, listed as ``never_seen`` until they speak.
        offline_after_s: Silence after which a gateway is offline.
        tau_s: Time constant of the decayed rates.
    """

    def __init__(self, known: Iterable[str] = (), *, offline_after_s: float = 60.0,
                 tau_s: float = 30.0) -> None:
        if offline_after_s <= 0 or tau_s <= 0:
            raise ValueError("offline_after_s and tau_s must be > 0")
        self.offline_after_s = offline_after_s
        self.tau_s = tau_s
        self._gws: dict[str, _Gw] = {g: _Gw() for g in known}

    def _decay(self, g: _Gw, now: float) -> None:
        dt = now - g.rate_ts
        if dt > 0:
            k = math.exp(-dt / self.tau_s)
            g.msg_rate *= k
            g.reading_rate *= k
            g.rate_ts = now

    def observe(self, gateway: str, received_at: float, readings: int = 0) -> None:
        """Record one message from ``gateway`` carrying ``readings`` readings."""
        g = self._gws.get(gateway)
        if g is None:
            g = self._gws[gateway] = _Gw()
        if g.first_seen is None:
            g.first_seen = received_at
            g.rate_ts = received_at
        self._decay(g, received_at)
        g.msg_rate += 1.0 / self.tau_s
        g.reading_rate += readings / self.tau_s
        g.messages += 1
        g.readings += readings
        if g.last_seen is None or received_at > g.last_seen:
            g.last_seen = received_at

    def observe_reject(self, gateway: str) -> None:
        """Count a rejected message or element attributed to ``gateway``."""
        g = self._gws.get(gateway)
        if g is None:
            g = self._gws[gateway] = _Gw()
        g.rejects += 1

    def observe_status(self, gateway: str, status: GatewayStatus) -> None:
        """Merge a status record (the newest by ``ts`` wins); it also counts as a sign of
        life unless it reports the gateway offline."""
        g = self._gws.get(gateway)
        if g is None:
            g = self._gws[gateway] = _Gw()
        if g.status is None or status.ts >= g.status.ts:
            g.status = status

    def state(self, gateway: str, now: float | None = None) -> HealthState:
        """The state of one gateway (``never_seen`` for an id never heard of)."""
        g = self._gws.get(gateway)
        return "never_seen" if g is None else self._state(g, time.time() if now is None
                                                           else now)

    def _state(self, g: _Gw, now: float) -> HealthState:
        if g.last_seen is None and g.status is None:
            return "never_seen"
        st = g.status
        if st is not None and st.online is False and (g.last_seen is None
                                                      or st.ts >= g.last_seen):
            return "offline"
        last = max(x for x in (g.last_seen, None if st is None else st.ts) if x is not None)
        return "offline" if now - last > self.offline_after_s else "online"

    def offline(self, now: float | None = None) -> list[str]:
        """Gateways that have spoken before and are now offline, sorted."""
        t = time.time() if now is None else now
        return sorted(k for k, g in self._gws.items() if self._state(g, t) == "offline")

    def snapshot(self, now: float | None = None) -> list[GatewayHealthRow]:
        """One row per gateway, sorted by id; rates decayed to ``now``."""
        t = time.time() if now is None else now
        rows = []
        for gid in sorted(self._gws):
            g = self._gws[gid]
            k = math.exp(-max(t - g.rate_ts, 0.0) / self.tau_s) if g.first_seen else 0.0
            rows.append(GatewayHealthRow(
                gateway=gid, state=self._state(g, t), last_seen=g.last_seen,
                age_s=None if g.last_seen is None else max(t - g.last_seen, 0.0),
                messages=g.messages, readings=g.readings, rejects=g.rejects,
                messages_per_s=g.msg_rate * k, readings_per_s=g.reading_rate * k,
                status=g.status,
            ))
        return rows
