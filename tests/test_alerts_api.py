"""The alerts API on an SQLite store: list by state, acknowledge and resolve as a biomed user,
precise 4xx errors, and the transitions queued for delivery."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import orjson
import pytest
from fastapi.testclient import TestClient

from floorplans.sample import load_sample_site
from tests.alertutil import T0, raised
from tests.authutil import bearer
from tracker.alerts.store import AlertStore
from tracker.api.state import AppState
from tracker.app import create_app
from tracker.store import open_store


@pytest.fixture
def state(tmp_path: Path) -> AppState:
    url = f"sqlite:///{tmp_path / 'api.db'}"
    store = open_store(url)
    store.upgrade()
    alerts = AlertStore(store)
    alerts.set_targets(["mqtt"], at=T0)
    alerts.record([raised(room, "pumps-1a", T0 + k, since=T0 + k - 30, kind="par_level",
                          message=f"pumps-1a: 1 available infusion_pump in {room}, par level 4",
                          details={"available": 1, "minimum": 4})
                   for k, room in enumerate(("A1.112", "A1.213", "A2.112"))], now=T0)
    store.close()
    return AppState(site=load_sample_site(), database_url=url)


@pytest.fixture
def client(state: AppState) -> Iterator[TestClient]:
    with TestClient(create_app(state)) as c:
        c.headers.update(bearer(state, "biomed"))
        yield c


def test_alerts_need_a_biomed(state: AppState) -> None:
    with TestClient(create_app(state)) as c:
        assert c.get("/api/v1/alerts").status_code == 401
        porter = bearer(state, "porter")
        assert c.get("/api/v1/alerts", headers=porter).status_code == 403
        assert c.post("/api/v1/alerts/1/ack", headers=porter).status_code == 403
        assert c.get("/api/v1/alerts", headers=bearer(state, "admin")).status_code == 200


def test_list_ack_and_resolve(client: TestClient, state: AppState) -> None:
    r = client.get("/api/v1/alerts")
    assert r.status_code == 200
    body = r.json()
    assert body["total"] == body["count"] == 3
    assert [a["subject"] for a in body["items"]] == ["A2.112", "A1.213", "A1.112"]
    first = body["items"][-1]
    assert first["state"] == "open" and first["raised_at"] == T0 and first["since"] == T0 - 30
    assert first["details"] == {"available": 1, "minimum": 4} and first["kind"] == "par_level"

    r = client.post(f"/api/v1/alerts/{first['id']}/ack", json={"note": "fetching two"})
    assert r.status_code == 200, r.text
    acked = r.json()
    assert acked["state"] == "acknowledged" and acked["acknowledged_by"].startswith("test-biomed")
    assert acked["acknowledged_at"] > T0
    assert [a["subject"] for a in client.get("/api/v1/alerts?state=open").json()["items"]] == [
        "A2.112", "A1.213"]
    assert [a["id"] for a in client.get("/api/v1/alerts?state=acknowledged").json()["items"]] \
        == [first["id"]]

    r = client.post(f"/api/v1/alerts/{first['id']}/resolve")  # no body: no note
    assert r.status_code == 200 and r.json()["state"] == "resolved"
    assert r.json()["resolved_by"] == acked["acknowledged_by"]
    one = client.get(f"/api/v1/alerts/{first['id']}").json()
    assert [(e["event"], e["actor"] is None, e["note"]) for e in one["events"]] == [
        ("raised", True, None), ("acknowledged", False, "fetching two"),
        ("resolved", False, None)]
    assert client.get("/api/v1/alerts?state=resolved").json()["total"] == 1

    # Each user transition was queued for delivery and audited.
    assert state.store is not None
    events = [orjson.loads(i.payload) for i in AlertStore(state.store).outbox()]
    assert [(e["event"], e["alert"]["subject"]) for e in events][-2:] == [
        ("acknowledged", "A1.112"), ("resolved", "A1.112")]
    assert events[-2]["note"] == "fetching two"
    audit = state.store.query("SELECT action, subject FROM audit_log ORDER BY id")
    assert [tuple(row) for row in audit] == [("alert.acknowledge", f"alert:{first['id']}"),
                                            ("alert.resolve", f"alert:{first['id']}")]


def test_conflicts_and_bad_input(client: TestClient) -> None:
    items = client.get("/api/v1/alerts").json()["items"]
    aid = items[0]["id"]
    assert client.post(f"/api/v1/alerts/{aid}/ack").status_code == 200
    r = client.post(f"/api/v1/alerts/{aid}/ack")
    assert r.status_code == 409 and "already acknowledged by test-biomed" in r.json()["detail"]
    assert client.post(f"/api/v1/alerts/{aid}/resolve").status_code == 200
    r = client.post(f"/api/v1/alerts/{aid}/resolve")
    assert r.status_code == 409 and "it was resolved by test-biomed" in r.json()["detail"]
    r = client.post("/api/v1/alerts/999/ack")
    assert r.status_code == 404 and r.json()["detail"] == "no alert has id 999"
    assert client.get("/api/v1/alerts/999").status_code == 404

    def fault(r: object) -> list[object]:
        assert getattr(r, "status_code", None) == 422
        return [e["loc"] for e in r.json()["detail"]]  # type: ignore[attr-defined]

    assert fault(client.get("/api/v1/alerts?state=closed")) == [["query", "state"]]
    assert fault(client.get("/api/v1/alerts?limit=0")) == [["query", "limit"]]
    assert fault(client.post("/api/v1/alerts/abc/ack")) == [["path", "alert_id"]]
    assert fault(client.post("/api/v1/alerts/0/resolve")) == [["path", "alert_id"]]
    assert fault(client.post(f"/api/v1/alerts/{items[1]['id']}/ack",
                             json={"note": "x" * 1001})) == [["body", "note"]]
