"""Gateway health: last seen, decayed rates against a plain reference, offline detection and
status records."""

from __future__ import annotations

import math

import pytest

from gateway.adapters.types import GatewayStatus
from gateway.health import GatewayHealth

T0 = 1_700_000_000.0


def reference_rate(events: list[tuple[float, int]], now: float, tau: float) -> float:
    """The decayed rate written out: sum of n/tau * exp(-(now - t)/tau)."""
    return sum(n / tau * math.exp(-(now - t) / tau) for t, n in events if t <= now)


def test_rates_match_the_reference_and_approach_the_true_rate() -> None:
    h = GatewayHealth(tau_s=10.0)
    events = [(T0 + 0.5 * i, 3) for i in range(400)]  # 2 messages/s, 6 readings/s
    for t, n in events:
        h.observe("gw-1", t, n)
    now = events[-1][0]
    (row,) = h.snapshot(now)
    ref_msgs = reference_rate([(t, 1) for t, _ in events], now, 10.0)
    assert row.messages_per_s == pytest.approx(ref_msgs, rel=1e-9)
    assert row.readings_per_s == pytest.approx(reference_rate(events, now, 10.0), rel=1e-9)
    assert row.messages_per_s == pytest.approx(2.0, rel=0.06)
    assert (row.messages, row.readings, row.last_seen) == (400, 1200, now)
    # silence: the rate decays, the gateway goes offline after offline_after_s
    (later,) = h.snapshot(now + 30)
    assert later.messages_per_s == pytest.approx(ref_msgs * math.exp(-3), rel=1e-9)
    assert later.state == "online" and later.age_s == pytest.approx(30)
    assert h.state("gw-1", now + 61) == "offline" and h.offline(now + 61) == ["gw-1"]


def test_never_seen_and_out_of_order_events() -> None:
    h = GatewayHealth(["gw-a", "gw-b"], offline_after_s=5)
    h.observe("gw-a", T0 + 10, 1)
    h.observe("gw-a", T0 + 5, 1)  # late message: last_seen does not go back
    rows = {r.gateway: r for r in h.snapshot(T0 + 11)}
    assert rows["gw-b"].state == "never_seen" and rows["gw-b"].last_seen is None
    assert rows["gw-a"].last_seen == T0 + 10 and rows["gw-a"].state == "online"
    assert h.offline(T0 + 11) == [] and h.state("nope") == "never_seen"


def test_status_records_merge_and_last_will_means_offline() -> None:
    h = GatewayHealth(offline_after_s=60)
    h.observe("gw-1", T0, 2)
    h.observe_status("gw-1", GatewayStatus("gw-1", T0, firmware="1.2", load=0.03))
    h.observe_status("gw-1", GatewayStatus("gw-1", T0 - 100, firmware="old"))  # stale
    (row,) = h.snapshot(T0 + 1)
    assert row.status is not None and row.status.firmware == "1.2"
    d = row.as_dict()
    assert d["status_firmware"] == "1.2" and d["status_load"] == 0.03 and d["state"] == "online"
    h.observe_status("gw-1", GatewayStatus("gw-1", T0 + 2, online=False))  # LWT
    assert h.state("gw-1", T0 + 3) == "offline"
    h.observe("gw-1", T0 + 4, 1)  # speaks again
    assert h.state("gw-1", T0 + 5) == "online"
    # a heartbeat-only gateway (status, no readings) counts as alive
    h.observe_status("hb", GatewayStatus("hb", T0, uptime_s=5))
    assert h.state("hb", T0 + 30) == "online" and h.state("hb", T0 + 61) == "offline"
    h.observe_reject("gw-1")
    assert {r.gateway: r.rejects for r in h.snapshot(T0)}["gw-1"] == 1
