"""StoreWriter: ordered, exactly-once writes; a real TimescaleDB outage in the middle."""

from __future__ import annotations

import subprocess
import threading
import time
from pathlib import Path

import psycopg
import pytest

from tests.conftest import ROOT
from tests.test_store_behaviour import T0, fix
from tracker.records import StayRecord, WriteBatch
from tracker.store import Store, open_store
from tracker.store.timescale import TimescaleStore
from tracker.store.writer import StoreWriter


class RecordingStore(TimescaleStore):
    """The real TimescaleDB store, remembering the order in which batches were committed."""

    def __init__(self, url: str) -> None:
        super().__init__(url, connect_timeout=2)
        self.committed: list[float] = []

    def write(self, batch: WriteBatch) -> None:
        super().write(batch)
        self.committed.append(batch.fixes[0].ts)


def _batch(i: int, per_batch: int = 20) -> WriteBatch:
    return WriteBatch([fix(T0 + i + k / per_batch, tag=f"tag-{k % 5}", x=float(k))
                       for k in range(per_batch)])


def test_writer_writes_everything_in_order_sqlite(tmp_path: Path) -> None:
    store = open_store(f"sqlite:///{tmp_path / 's.db'}")
    store.upgrade()
    with StoreWriter(store, tmp_path / "spool") as w:
        for i in range(50):
            assert w.submit(_batch(i))
        assert w.flush(30)
        st = w.stats()
    assert (st.submitted, st.written_batches, st.written_rows) == (50, 50, 1000)
    assert st.spooled_batches == 0 and st.errors == 0 and st.spool_bytes == 0
    assert st.store_available
    assert sum(len(store.trail(f"tag-{k}", T0, T0 + 100)) for k in range(5)) == 1000
    store.close()


def test_poison_batch_is_set_aside_not_retried_forever(tmp_path: Path) -> None:
    store: Store = open_store(f"sqlite:///{tmp_path / 's.db'}")
    store.upgrade()
    bad = WriteBatch(stays=[StayRecord("t", None, "s", None, "R", T0, T0 - 5, 0.5)])
    with StoreWriter(store, tmp_path / "spool") as w:
        w.submit(_batch(0))
        w.submit(bad)
        w.submit(_batch(1))
        assert w.flush(30)
        st = w.stats()
    assert (st.written_batches, st.poison_batches, st.errors) == (2, 1, 1)
    assert len(list((tmp_path / "spool" / "rejected").glob("*.json"))) == 1
    store.close()


def _services(cmd: str) -> None:
    subprocess.run([str(ROOT / "scripts" / "services"), cmd], check=True, timeout=120,
                   capture_output=True)


@pytest.mark.integration
@pytest.mark.slow
def test_database_outage_loses_and_duplicates_nothing(fresh_database: str, tmp_path: Path) -> None:
    store = RecordingStore(fresh_database)
    store.upgrade()
    n_batches, rate_hz, per_batch = 300, 10.0, 20
    writer = StoreWriter(store, tmp_path / "spool", backoff_initial=0.2, backoff_max=2.0)
    produced = threading.Event()
    max_spool_bytes = 0

    def produce() -> None:
        nonlocal max_spool_bytes
        for i in range(n_batches):
            assert writer.submit(_batch(i, per_batch))
            max_spool_bytes = max(max_spool_bytes, writer.stats().spool_bytes)
            time.sleep(1 / rate_hz)
        produced.set()

    writer.start()
    producer = threading.Thread(target=produce)
    producer.start()
    try:
        time.sleep(5)
        _services("db-stop")
        time.sleep(20)
        during = writer.stats()
        assert not during.store_available
        assert during.spool_batches > 0 and during.write_lag_s > 5
    finally:
        _services("db-start")
    producer.join(120)
    assert produced.is_set()
    assert writer.flush(120), writer.stats()
    writer.stop()
    st = writer.stats()
    store.close()

    with psycopg.connect(fresh_database) as conn:
        total, distinct = conn.execute(
            "SELECT count(*), count(DISTINCT (tag, time)) FROM positions").fetchone() or (0, 0)
    assert total == distinct == n_batches * per_batch
    # Committed exactly once each, in submission order.
    assert store.committed == [T0 + i for i in range(n_batches)]
    assert st.written_batches == n_batches and st.spool_batches == 0
    assert st.spooled_batches >= 150 and st.spool_dropped_batches == 0
    assert max_spool_bytes > 0
    print(f"outage: spooled {st.spooled_batches} batches, max spool {max_spool_bytes} bytes,"
          f" {st.errors} failed attempts")
