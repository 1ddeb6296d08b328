"""The on-disk spool: order, durability across reopen, the size bound, torn records."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.test_store_behaviour import T0, fix
from tracker.records import FixRecord, StayRecord, WriteBatch
from tracker.store.spool import Spool


def _batch(i: int, n: int = 5) -> WriteBatch:
    return WriteBatch(
        [fix(T0 + i * 100 + k, x=float(k)) for k in range(n)],
        [StayRecord("tag-1", None, "site", "L1", "R1", T0 + i, None, 0.5)],
    )


def _drain(sp: Spool) -> list[int]:
    seqs: list[int] = []
    while items := sp.peek(4):
        for it in items:
            seqs.append(it.seq)
            sp.ack(it)
    return seqs


def test_fifo_roundtrip_across_segments(tmp_path: Path) -> None:
    sp = Spool(tmp_path, max_bytes=1 << 20, segment_bytes=2048)
    for i in range(40):
        sp.append(_batch(i), seq=i, submitted=T0 + i)
    assert len(sp) == 40
    assert len(list(tmp_path.glob("*.seg"))) > 3
    first = sp.peek(1)[0]
    assert first.batch == _batch(0) and first.submitted == T0
    assert _drain(sp) == list(range(40))
    assert len(sp) == 0 and sp.bytes == 0
    assert list(tmp_path.glob("*.seg")) == []
    sp.append(_batch(99), seq=99, submitted=T0)  # usable after being emptied
    assert [it.seq for it in sp.peek()] == [99]


def test_reopen_replays_unacked_batches(tmp_path: Path) -> None:
    sp = Spool(tmp_path, max_bytes=1 << 20, segment_bytes=1500)
    for i in range(20):
        sp.append(_batch(i), seq=i, submitted=T0)
    for it in sp.peek(7):
        sp.ack(it)
    # A restart replays from the start of the head segment (writes are idempotent), never
    # skips an unacknowledged batch, and keeps the order.
    again = _drain(Spool(tmp_path, max_bytes=1 << 20, segment_bytes=1500))
    assert again[-13:] == list(range(7, 20))
    assert again == sorted(again) and len(again) < 20


def test_bound_drops_oldest_segments_and_counts(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    sp = Spool(tmp_path, max_bytes=8000, segment_bytes=2000)
    with caplog.at_level("ERROR"):
        for i in range(100):
            sp.append(_batch(i), seq=i, submitted=T0)
            assert sp.bytes <= 8000
    assert sp.dropped_batches > 0
    assert sp.dropped_rows == sp.dropped_batches * 6
    assert "SPOOL FULL" in caplog.text
    kept = _drain(sp)
    assert kept == list(range(100 - len(kept), 100))  # the newest survive, in order
    assert len(kept) + sp.dropped_batches == 100


def test_torn_tail_record_is_skipped(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    sp = Spool(tmp_path, max_bytes=1 << 20)
    for i in range(3):
        sp.append(_batch(i), seq=i, submitted=T0)
    seg = next(tmp_path.glob("*.seg"))
    data = seg.read_bytes()
    seg.write_bytes(data[:-10])  # crash in the middle of the last append
    sp2 = Spool(tmp_path, max_bytes=1 << 20)
    with caplog.at_level("ERROR"):
        assert [it.seq for it in sp2.peek()] == [0, 1]
    assert sp2.corrupt_records == 1
    assert "truncated or corrupt" in caplog.text


def test_rejects_nonsense_bounds(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="segment_bytes"):
        Spool(tmp_path, max_bytes=10, segment_bytes=100)


def test_batch_json_roundtrip_keeps_every_field() -> None:
    b = WriteBatch([FixRecord(T0 + 0.123456, "t", None, "s", None, None, None, -1.5, 2.25, 3.0,
                              0.0, True)])
    assert WriteBatch.from_json(b.to_json()) == b
