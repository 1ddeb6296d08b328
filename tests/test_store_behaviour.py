"""One set of behavioural tests, run against both stores: SQLite and the real TimescaleDB."""

from __future__ import annotations

import datetime as dt
import threading
from dataclasses import replace

import pytest

from tracker.assets import Asset
from tracker.records import FixRecord, GatewayStatusRecord, StayRecord, WriteBatch
from tracker.store import Store, UnknownAssetError
from tracker.store.sqlite import split_stays_hourly

T0 = 1_780_000_000.0  # 2026-05-28T20:26:40Z


def fix(
    ts: float, tag: str = "tag-1", *, room: str | None = "R101", x: float = 1.0, y: float = 2.0,
    asset: str | None = None, level: str | None = "L1", moving: bool = False,
    accuracy_m: float = 1.5,
) -> FixRecord:
    """A fix with sensible defaults (x, y exactly representable in float32)."""
    return FixRecord(ts, tag, asset, "site", "bygg-a", level, room, x, y, accuracy_m, 0.875,
                     moving)


def test_upgrade_is_idempotent(store: Store) -> None:
    assert store.upgrade() == []


def test_fix_roundtrip_trail_and_current_location(store: Store) -> None:
    fixes = [fix(T0 + i * 0.5, x=float(i)) for i in range(10)]
    fixes += [replace(fix(T0 + 1.25, tag="tag-2", room="R102", x=7.5, asset="A-2"),
                      gateway="gw-102")]
    store.write(WriteBatch(fixes))
    trail = store.trail("tag-1", T0, T0 + 100)
    assert trail == fixes[:10]
    assert store.trail("tag-1", T0 + 1.0, T0 + 2.0) == fixes[2:4]
    cur = store.current_locations()
    assert [c.tag for c in cur] == ["tag-1", "tag-2"]
    assert cur[0] == fixes[9]
    assert store.room_contents("R102") == [fixes[10]]
    assert store.room_contents("R999") == []
    assert store.current_locations(level="L1", since=T0 + 2) == [fixes[9]]


def test_replayed_batches_never_duplicate(store: Store) -> None:
    batch = WriteBatch(
        [fix(T0 + i, x=float(i)) for i in range(50)],
        [StayRecord("tag-1", None, "site", "L1", "R101", T0, None, 0.5)],
        [GatewayStatusRecord(T0, "gw-1", True, 10.0, 120.0, T0 - 1, {"fw": "2.1"})],
    )
    for _ in range(3):
        store.write(batch)
    # Overlapping replay plus new rows in one batch.
    store.write(WriteBatch([fix(T0 + i, x=float(i)) for i in range(40, 60)]))
    assert len(store.trail("tag-1", T0, T0 + 1000)) == 60
    assert len(store.stays(T0, T0 + 10)) == 1
    assert store.gateway_status() == [batch.statuses[0]]


def test_duplicates_inside_one_batch(store: Store) -> None:
    store.write(WriteBatch([fix(T0, x=1.0), fix(T0, x=1.0), fix(T0 + 1, x=2.0)]))
    assert len(store.trail("tag-1", T0, T0 + 10)) == 2


def test_current_location_never_moves_back_in_time(store: Store) -> None:
    store.write(WriteBatch([fix(T0 + 10, room="R2")]))
    store.write(WriteBatch([fix(T0 + 5, room="R1")]))  # late, out of order
    loc = store.location_of("tag-1")
    assert loc is not None and loc.room == "R2" and loc.ts == T0 + 10
    assert len(store.trail("tag-1", T0, T0 + 20)) == 2


def test_stays_open_close_and_replay(store: Store) -> None:
    opened = StayRecord("tag-1", "A-1", "site", "L1", "R101", T0, None, 0.6)
    store.write(WriteBatch(stays=[opened]))
    assert store.stays(T0, T0 + 1) == [opened]
    assert store.stays(T0 + 10_000, T0 + 20_000) == [opened]  # open: lasts until now
    closed = StayRecord("tag-1", "A-1", "site", "L1", "R101", T0, T0 + 600, 0.9)
    store.write(WriteBatch(stays=[closed]))
    assert store.stays(T0, T0 + 1) == [closed]
    store.write(WriteBatch(stays=[opened]))  # late replay of the open record
    assert store.stays(T0, T0 + 1) == [closed]
    assert store.stays(T0 + 600, T0 + 700) == []
    nxt = StayRecord("tag-1", "A-1", "site", "L1", "R102", T0 + 600, None, 0.7)
    store.write(WriteBatch(stays=[nxt]))
    assert store.stays(T0, T0 + 1000, room="R102") == [nxt]
    assert store.stays(T0, T0 + 1000, asset="A-1") == [closed, nxt]
    assert store.stays(T0, T0 + 1000, tag="other") == []


def test_open_and_close_in_same_batch_keep_the_close(store: Store) -> None:
    opened = StayRecord("tag-1", None, "site", "L1", "R101", T0, None, 0.6)
    closed = StayRecord("tag-1", None, "site", "L1", "R101", T0, T0 + 60, 0.8)
    store.write(WriteBatch(stays=[opened, closed]))
    assert store.stays(T0, T0 + 100) == [closed]


def test_hourly_time_in_room_splits_stays_across_hours(store: Store) -> None:
    hour = 3600.0
    h0 = (T0 // hour + 1) * hour  # a clock hour boundary
    stays = [
        StayRecord("tag-1", "A-1", "site", "L1", "R1", h0 - 600, h0 + 2 * hour + 300, 0.9),
        StayRecord("tag-1", "A-1", "site", "L1", "R2", h0 + 2 * hour + 300, None, 0.9),
        StayRecord("tag-2", None, "site", "L1", "R1", h0 + 100, h0 + 200, 0.9),
    ]
    store.write(WriteBatch(stays=stays))
    now = h0 + 2 * hour + 900
    got = store.hourly_time_in_room(h0 - hour, h0 + 5 * hour, now=now)
    expected = [
        (h0 - hour, "A-1", "R1", 600.0),
        (h0, "A-1", "R1", 3600.0),
        (h0, "tag-2", "R1", 100.0),
        (h0 + hour, "A-1", "R1", 3600.0),
        (h0 + 2 * hour, "A-1", "R1", 300.0),
        (h0 + 2 * hour, "A-1", "R2", 600.0),
    ]
    assert [(r.hour, r.asset, r.room, r.seconds) for r in got] == expected
    assert got == split_stays_hourly(stays, h0 - hour, h0 + 5 * hour, now)
    clipped = store.hourly_time_in_room(h0 + 1800, h0 + 2 * hour, asset="A-1", now=now)
    assert [(r.hour, r.seconds) for r in clipped] == [(h0, 1800.0), (h0 + hour, 3600.0)]


def test_gateway_status_latest_per_gateway(store: Store) -> None:
    sts = [
        GatewayStatusRecord(T0, "gw-1", True, 5.0, 50.0, T0, {}),
        GatewayStatusRecord(T0 + 60, "gw-1", False, 0.0, 0.0, T0 + 2, {"reason": "timeout"}),
        GatewayStatusRecord(T0 + 30, "gw-2", True, 4.0, 40.0, None, {"rssi_ref": -59}),
    ]
    store.write(WriteBatch(statuses=sts))
    assert store.gateway_status() == [sts[1], sts[2]]


def _assets() -> list[Asset]:
    return [
        Asset("100234", "Infusjonspumpe Volumat", "infusion_pump", "Agilia VP", "SN-1",
              department="Medisinsk klinikk", home_room="R101", tags=("tag-1",),
              next_maintenance=dt.date(2026, 3, 1)),
        Asset("100235", "Sprøytepumpe", "syringe_pump", "Agilia SP", "SN-2",
              giai="7045678ABC12", department="Kirurgisk klinikk", status="in_repair"),
        Asset("100236", "Overvåkingsmonitor Æøå", "monitor", "IntelliVue", "SN-3",
              barcode="0123456789", department="Medisinsk klinikk"),
    ]


def test_assets_upsert_get_search(store: Store) -> None:
    assets = _assets()
    assert store.upsert_assets(assets, at=T0) == 3
    assert store.get_asset("100234") == assets[0]
    assert store.get_asset("nope") is None
    items, total = store.search_assets("pumpe")
    assert total == 2 and [a.id for a in items] == ["100234", "100235"]
    items, total = store.search_assets("ÆØÅ")
    assert [a.id for a in items] == ["100236"]
    items, total = store.search_assets(department="Medisinsk klinikk", limit=1, offset=1)
    assert total == 2 and [a.id for a in items] == ["100236"]
    items, total = store.search_assets(status="in_repair")
    assert [a.id for a in items] == ["100235"]
    assert store.search_assets("tag-1")[1] == 1
    assert store.search_assets("100%")[1] == 0  # LIKE wildcards are literal
    changed = Asset("100235", "Sprøytepumpe", "syringe_pump", status="active")
    store.upsert_assets([changed], at=T0)
    assert store.get_asset("100235") == changed


def test_pairing_history(store: Store) -> None:
    store.upsert_assets(_assets(), at=T0)
    assert store.asset_for_tag("tag-1", T0 + 1) == "100234"
    assert store.asset_for_tag("tag-1", T0 - 1) is None
    store.pair_tag("100235", "tag-1", T0 + 100)  # moves the tag: old pairing closed
    store.pair_tag("100235", "tag-1", T0 + 150)  # idempotent: already paired
    assert store.asset_for_tag("tag-1", T0 + 50) == "100234"
    assert store.asset_for_tag("tag-1", T0 + 200) == "100235"
    assert store.get_asset("100234") is not None
    assert store.get_asset("100234").tags == ()  # type: ignore[union-attr]
    store.unpair_tag("tag-1", T0 + 300)
    assert store.asset_for_tag("tag-1", T0 + 400) is None
    hist = store.pairings(tag="tag-1")
    assert [(p.asset, p.since, p.until) for p in hist] == [
        ("100234", T0, T0 + 100), ("100235", T0 + 100, T0 + 300)]
    with pytest.raises(UnknownAssetError):
        store.pair_tag("missing", "tag-9", T0)


def test_location_of_asset_via_pairing(store: Store) -> None:
    store.upsert_assets(_assets(), at=T0)
    store.write(WriteBatch([fix(T0 + 5, "tag-1", room="R7")]))
    loc = store.location_of("100234")
    assert loc is not None and loc.tag == "tag-1" and loc.room == "R7"
    assert store.location_of("tag-1") == loc
    assert store.location_of("unknown") is None


def test_retention_removes_old_rows(store: Store) -> None:
    old = T0 - 500 * 86400
    store.write(WriteBatch([fix(old), fix(T0)]))
    store.apply_retention(now=T0)
    assert store.trail("tag-1", old - 1, T0 + 1) == [fix(T0)]


def test_concurrent_readers_and_one_writer(store: Store) -> None:
    errors: list[BaseException] = []
    stop = threading.Event()

    def read() -> None:
        try:
            while not stop.is_set():
                store.current_locations()
                store.trail("tag-1", T0, T0 + 1e6)
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    readers = [threading.Thread(target=read) for _ in range(3)]
    for t in readers:
        t.start()
    for i in range(30):
        store.write(WriteBatch([fix(T0 + i * 10 + k, x=float(k)) for k in range(10)]))
    stop.set()
    for t in readers:
        t.join()
    assert errors == []
    assert len(store.trail("tag-1", T0, T0 + 1e6)) == 300
