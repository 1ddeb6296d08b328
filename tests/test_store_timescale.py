"""TimescaleDB-specific behaviour on the real server: migrations, hypertables, policies,
plain-PostgreSQL mode."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import psycopg
import pytest

from tests.test_store_behaviour import T0, fix
from tracker.records import WriteBatch
from tracker.store.migrate import Capabilities, detect_capabilities, load_migrations
from tracker.store.timescale import TimescaleStore

pytestmark = pytest.mark.integration

HYPERTABLES = ["gateway_status", "positions", "readings", "stays"]


@pytest.fixture
def ts_store(fresh_database: str) -> Iterator[TimescaleStore]:
    s = TimescaleStore(fresh_database)
    yield s
    s.close()


def _query(url: str, q: str) -> list[tuple[object, ...]]:
    with psycopg.connect(url) as conn:
        return conn.execute(q.encode()).fetchall()


def test_migration_files_parse() -> None:
    migs = load_migrations()
    assert [m.version for m in migs] == sorted({m.version for m in migs})
    caps = {cap for m in migs for cap, _ in m.sections}
    assert caps <= {None, "timescaledb", "timescaledb-tsl"}


def test_upgrade_creates_hypertables_and_records_skips(
    ts_store: TimescaleStore, fresh_database: str
) -> None:
    applied = ts_store.upgrade()
    assert applied == [f"{m.version:04d}_{m.name}" for m in load_migrations()]
    assert ts_store.upgrade() == []
    caps = ts_store.capabilities
    assert caps.timescaledb and caps.version
    rows = _query(fresh_database, "SELECT hypertable_name FROM timescaledb_information.hypertables"
                  " ORDER BY 1")
    assert set(HYPERTABLES) <= {r[0] for r in rows}  # later migrations may add more
    skipped = _query(fresh_database, "SELECT skipped FROM schema_migrations WHERE version = 1")
    jobs = _query(fresh_database, "SELECT proc_name, hypertable_name FROM"
                  " timescaledb_information.jobs WHERE hypertable_name IS NOT NULL ORDER BY 1, 2")
    if caps.tsl:
        assert skipped == [([],)]
        assert ("policy_compression", "positions") in jobs
        assert ("policy_retention", "readings") in jobs
        comp = _query(fresh_database, "SELECT attname, segmentby_column_index,"
                      " orderby_column_index FROM timescaledb_information.compression_settings"
                      " WHERE hypertable_name = 'positions' ORDER BY 1")
        assert ("tag", 1, None) in comp and ("time", None, 1) in comp
    else:
        # Apache-licensed build: policies are skipped, and say so.
        assert skipped == [(["timescaledb-tsl"],)]
        assert jobs == []
        assert any("compression" in m for m in caps.missing())


def test_concurrent_upgrades_apply_each_migration_once(fresh_database: str) -> None:
    stores = [TimescaleStore(fresh_database) for _ in range(4)]
    results: list[list[str]] = []
    errors: list[BaseException] = []
    barrier = threading.Barrier(len(stores))

    def run(s: TimescaleStore) -> None:
        try:
            barrier.wait()
            results.append(s.upgrade())
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(s,)) for s in stores]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for s in stores:
        s.close()
    assert errors == []
    assert sorted(len(r) for r in results) == [0, 0, 0, len(load_migrations())]
    assert _query(fresh_database, "SELECT count(*) FROM schema_migrations") == [
        (len(load_migrations()),)]


def test_chunks_and_drop_chunks_retention(ts_store: TimescaleStore, fresh_database: str) -> None:
    ts_store.upgrade()
    old = T0 - 500 * 86400
    ts_store.write(WriteBatch([fix(old), fix(old + 86400 * 3), fix(T0)]))
    chunks = _query(fresh_database, "SELECT count(*) FROM show_chunks('positions')")
    assert chunks == [(3,)]
    removed = ts_store.apply_retention(now=T0)
    if not ts_store.capabilities.tsl:
        assert removed["positions"] == 2
        assert _query(fresh_database, "SELECT count(*) FROM show_chunks('positions')") == [(1,)]
    assert [f.ts for f in ts_store.trail("tag-1", old - 1, T0 + 1)] == [T0]


def test_detect_capabilities_forced_off(fresh_database: str) -> None:
    with psycopg.connect(fresh_database, autocommit=True) as conn:
        caps = detect_capabilities(conn, use_timescaledb=False)
        assert caps == Capabilities(False, False, reason="disabled by configuration")
        # Forcing off must not create the extension either.
        assert conn.execute("SELECT count(*) FROM pg_extension WHERE extname = 'timescaledb'"
                            ).fetchone() == (0,)
    missing = caps.missing()
    assert any("hypertables" in m for m in missing)
    assert any("compression" in m for m in missing)


def test_plain_postgresql_mode(fresh_database: str, caplog: pytest.LogCaptureFixture) -> None:
    store = TimescaleStore(fresh_database, use_timescaledb=False)
    try:
        with caplog.at_level("WARNING"):
            applied = store.upgrade()
        assert applied == [f"{m.version:04d}_{m.name}" for m in load_migrations()]
        assert "hypertables" in caplog.text and "compression" in caplog.text
        assert _query(fresh_database, "SELECT count(*) FROM pg_extension"
                      " WHERE extname = 'timescaledb'") == [(0,)]
        assert _query(fresh_database,
                      "SELECT skipped FROM schema_migrations WHERE version = 1") == [
            (["timescaledb", "timescaledb-tsl"],)]
        batch = WriteBatch([fix(T0 + i, x=float(i)) for i in range(20)])
        store.write(batch)
        store.write(batch)
        assert store.trail("tag-1", T0, T0 + 100) == list(batch.fixes)
        old = T0 - 500 * 86400
        store.write(WriteBatch([fix(old)]))
        assert store.apply_retention(now=T0)["positions"] == 1
        assert len(store.trail("tag-1", old - 1, T0 + 100)) == 20
    finally:
        store.close()


def test_unreachable_database_raises_store_unavailable() -> None:
    from tracker.store import StoreUnavailableError

    store = TimescaleStore("postgresql://sporing:sporing@127.0.0.1:1/none", connect_timeout=1)
    try:
        with pytest.raises(StoreUnavailableError):
            store.write(WriteBatch([fix(T0)]))
    finally:
        store.close()
