"""Fault tests of the live service on the real services: broker restart, database outage,
service killed and restarted. Services are always restarted in ``finally``."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest

from floorplans.sample import load_sample_site
from simulator.engine import Simulation
from simulator.formats.base import gateway_mac
from tests.conftest import ROOT
from tests.test_e2e_service import Publisher, scenario, service_settings, wait_idle
from tracker.records import WriteBatch, ts_to_us
from tracker.service import Service

pytestmark = [pytest.mark.integration, pytest.mark.slow]

SERVICES = str(ROOT / "scripts" / "services")


def services(action: str) -> None:
    subprocess.run([SERVICES, action], check=True, capture_output=True, timeout=180)


async def test_broker_restart_loses_no_qos1_reading(mqtt_url: str, fresh_database: str,
                                                    unique_topic: str, tmp_path: Path) -> None:
    site = load_sample_site()
    start = time.time() + 3.0
    scen = scenario(assets=40, duration_s=35.0, seed=21, start=start)
    settings = service_settings(site, mqtt_url, fresh_database, unique_topic,
                                tmp_path / "spool")
    try:
        async with Service(settings, site=site) as svc:
            await svc.ingestor.wait_connected(10.0)
            pub = Publisher(Simulation(site, scen), mqtt_url, "canonical", unique_topic).start()
            await asyncio.sleep(15.0)
            before = svc.pipeline.stats.readings_in
            await asyncio.to_thread(services, "mqtt-stop")
            await asyncio.sleep(3.0)
            await asyncio.to_thread(services, "mqtt-start")
            await asyncio.to_thread(pub.join)
            await wait_idle(svc, quiet_s=4.0)
            received = svc.pipeline.stats.readings_in
            reconnects = svc.ingestor.stats.connections
    finally:
        await asyncio.to_thread(services, "mqtt-start")
    print(f"\npublished {pub.readings} readings in {pub.messages} messages; pipeline received "
          f"{received} ({before} before the restart); connections {reconnects}")
    assert before > 0 and reconnects >= 2
    assert received >= pub.readings  # QoS 1: duplicates possible, losses not


async def test_database_outage_loses_and_duplicates_nothing(
        mqtt_url: str, fresh_database: str, unique_topic: str, tmp_path: Path) -> None:
    site = load_sample_site()
    start = time.time() + 3.0
    scen = scenario(assets=60, duration_s=55.0, seed=31, start=start)
    settings = service_settings(site, mqtt_url, fresh_database, unique_topic,
                                tmp_path / "spool")
    fixes: dict[tuple[str, int], Any] = {}
    stays: dict[tuple[str, int], Any] = {}

    def record(batch: WriteBatch) -> None:
        for f in batch.fixes:
            fixes[f.key] = f
        for s in batch.stays:
            stays[s.key] = s

    spooled = 0
    try:
        async with Service(settings, site=site) as svc:
            svc.pipeline.add_batch_listener(record)
            await svc.ingestor.wait_connected(10.0)
            pub = Publisher(Simulation(site, scen), mqtt_url, "canonical", unique_topic).start()
            await asyncio.sleep(10.0)
            await asyncio.to_thread(services, "db-stop")
            await asyncio.sleep(20.0)
            spooled = svc.writer.stats().spooled_batches
            await asyncio.to_thread(services, "db-start")
            await asyncio.to_thread(pub.join)
            await wait_idle(svc, quiet_s=4.0, timeout=120.0)
            ws = svc.writer.stats()
    finally:
        await asyncio.to_thread(services, "db-start")
    print(f"\n{len(fixes)} fixes and {len(stays)} stays submitted; {spooled} batches spooled "
          f"during the outage; writer errors {ws.errors}")
    assert spooled > 0 and ws.spool_batches == 0 and ws.spool_dropped_rows == 0
    assert ws.poison_batches == 0
    import psycopg

    with psycopg.connect(fresh_database) as conn:
        rows = conn.execute("SELECT tag, (extract(epoch FROM time) * 1e6)::bigint "
                            "FROM positions").fetchall()
        stay_rows = conn.execute(
            "SELECT tag, (extract(epoch FROM t_enter) * 1e6)::bigint, "
            "(extract(epoch FROM t_exit) * 1e6)::bigint, room FROM stays").fetchall()
    stored_keys = [(tag, int(us)) for tag, us in rows]
    assert len(stored_keys) == len(set(stored_keys))  # nothing duplicated
    assert set(stored_keys) == set(fixes)  # nothing lost, nothing invented
    db_stays = {(tag, int(us)): (None if t_exit is None else int(t_exit), room)
                for tag, us, t_exit, room in stay_rows}
    assert len(db_stays) == len(stay_rows) == len(stays)
    for key, s in stays.items():
        want = None if s.t_exit is None else ts_to_us(s.t_exit)
        assert db_stays[key] == (want, s.room), key
    open_per_tag: dict[str, int] = {}
    for (tag, _us), (t_exit, _room) in db_stays.items():
        if t_exit is None:
            open_per_tag[tag] = open_per_tag.get(tag, 0) + 1
    assert open_per_tag and max(open_per_tag.values()) == 1


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _start(config: Path, log: Path) -> subprocess.Popen[bytes]:
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    return subprocess.Popen([sys.executable, "-m", "tracker", "serve", "--config", str(config)],
                            cwd=ROOT, env=env, stdout=log.open("ab"), stderr=subprocess.STDOUT)


def _wait_ready(port: int, proc: subprocess.Popen[bytes], timeout: float = 90.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"service exited with {proc.returncode}")
        try:
            if httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=2.0).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.3)
    raise AssertionError("service not ready")


def _metric(port: int, name: str) -> float:
    text = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=5.0).text
    for line in text.splitlines():
        if line.startswith(name + " "):
            return float(line.split()[1])
    raise AssertionError(f"metric {name} missing")


def test_killed_service_resumes_without_duplicates(mqtt_url: str, fresh_database: str,
                                                   unique_topic: str, tmp_path: Path) -> None:
    site = load_sample_site()
    port = _free_port()
    client_id = f"sporing-e2e-kill-{uuid.uuid4().hex[:8]}"
    aliases = "\n".join(f'"{gateway_mac(g.id)}" = "{g.id}"' for g in site.gateways)
    config = tmp_path / "sporing.toml"
    config.write_text(f"""role = "ingest"
[mqtt]
url = "{mqtt_url}?session_expiry=600"
client_id = "{client_id}"
topic_prefix = "{unique_topic}"
[database]
url = "{fresh_database}"
spool_dir = "{tmp_path / 'spool'}"
[engine]
delay_s = 1.0
[api]
ops_port = {port}
[log]
format = "json"
[gateway_aliases]
{aliases}
""")
    log = tmp_path / "service.log"
    proc = _start(config, log)
    second: subprocess.Popen[bytes] | None = None
    try:
        _wait_ready(port, proc)
        start = time.time() + 2.0
        pub = Publisher(Simulation(site, scenario(assets=50, duration_s=45.0, seed=41,
                                                  start=start)),
                        mqtt_url, "canonical", unique_topic).start()
        time.sleep(15.0)
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)
        killed_at, published_at_kill = time.time(), pub.readings
        time.sleep(3.0)
        second = _start(config, log)
        _wait_ready(port, second)
        pub.join()
        deadline = time.monotonic() + 60.0
        while time.monotonic() < deadline:
            got = _metric(port, "sporing_pipeline_readings_total")
            if got >= pub.readings - published_at_kill:
                break
            time.sleep(0.5)
        time.sleep(4.0)
        received_after = _metric(port, "sporing_pipeline_readings_total")
        second.send_signal(signal.SIGTERM)
        assert second.wait(60) == 0
    finally:
        for p in (proc, second):
            if p is not None and p.poll() is None:
                p.kill()
                p.wait(10)
    print(f"\npublished {pub.readings} readings, {published_at_kill} before the kill; the "
          f"restarted service received {received_after:.0f}")
    # Everything published after the kill was queued by the broker for the persistent session.
    assert received_after >= pub.readings - published_at_kill
    import psycopg

    with psycopg.connect(fresh_database) as conn:
        n, distinct = conn.execute(
            "SELECT count(*), count(DISTINCT (tag, time)) FROM positions").fetchone()  # type: ignore[misc]
        after = conn.execute("SELECT count(*) FROM positions WHERE time > to_timestamp(%s)",
                             (killed_at + 3.0,)).fetchone()[0]  # type: ignore[index]
        open_dupes = conn.execute(
            "SELECT tag, count(*) FROM stays WHERE t_exit IS NULL GROUP BY tag "
            "HAVING count(*) > 1").fetchall()
        overlaps = conn.execute(
            "SELECT count(*) FROM stays a JOIN stays b ON a.tag = b.tag AND a.t_enter < "
            "b.t_enter AND coalesce(a.t_exit, 'infinity') > b.t_enter").fetchone()[0]  # type: ignore[index]
    assert n == distinct and n > 0
    assert after > 0  # the restarted service stores positions again
    assert open_dupes == [] and overlaps == 0
    assert '"role": "ingest"' in log.read_text() or '"role":"ingest"' in log.read_text()
