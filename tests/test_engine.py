"""The streaming engine on simulated hospital traffic: accuracy bounds, causality, determinism."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import numpy as np
import orjson
import pytest

from floorplans.sample import load_sample_site
from gateway.canonical import Reading, iter_readings_jsonl
from positioning.engine import EngineConfig, StreamingEngine
from positioning.evaluate import score_fixes
from simulator.config import load_scenario
from simulator.engine import Simulation
from simulator.output import readings_lines, truth_lines


@pytest.fixture(scope="module")
def ward() -> tuple[list[Reading], list[dict[str, object]]]:
    """Ten simulated minutes of one ward (30 assets) of the sample hospital."""
    site = load_sample_site()
    scenario = replace(load_scenario("small-ward")[0], assets=30, duration_s=600.0, seed=7)
    sim = Simulation(site, scenario)
    lines: list[bytes] = []
    truth: list[dict[str, object]] = []
    for tick in sim.ticks():
        lines.extend(readings_lines(tick, sim).splitlines())
        truth.extend(orjson.loads(x) for x in truth_lines(tick, sim).splitlines())
    readings = sorted(iter_readings_jsonl(lines), key=lambda r: r.ts)
    return readings, truth


def fixes_of(readings: list[Reading], config: EngineConfig | None = None) -> list[dict]:
    engine = StreamingEngine(load_sample_site(), config)
    return [d for frame in engine.run(readings) for d in frame.to_dicts()]


def test_accuracy_on_a_simulated_ward(ward) -> None:
    readings, truth = ward
    fixes = fixes_of(readings)
    score = score_fixes(fixes, truth)
    assert score.coverage > 0.95
    assert score.level_accuracy > 0.99
    assert score.median_error_m < 3.5
    assert score.p95_error_m < 10.0
    # The plan-aware radio map is at least as good as plain multilateration on rooms.
    multilat_fixes = fixes_of(readings, EngineConfig(radio_map=False))
    multilat = score_fixes(multilat_fixes, truth)
    truth_rooms = [t for t in truth if t.get("room") is not None]
    room = score_fixes(fixes, truth_rooms).room_accuracy
    assert room >= score_fixes(multilat_fixes, truth_rooms).room_accuracy - 0.02
    assert multilat.n == score.n


def test_engine_is_causal(ward) -> None:
    readings, _ = ward
    cut = readings[len(readings) // 2].ts
    full = fixes_of(readings)
    part = fixes_of([r for r in readings if r.ts <= cut])
    upto = [f for f in full if f["ts"] <= np.floor(cut)]
    assert upto == [f for f in part if f["ts"] <= np.floor(cut)]


def test_engine_is_deterministic(ward) -> None:
    readings, _ = ward
    some = readings[: len(readings) // 5]
    assert fixes_of(some) == fixes_of(some)


def test_unknown_gateways_are_counted_not_fatal() -> None:
    site = load_sample_site()
    engine = StreamingEngine(site)
    gw = site.gateways[0]
    engine.add([Reading(1000.2, "no-such-gateway", "t1", rssi=-60.0),
                Reading(1000.3, gw.id, "t1", rssi=-60.0)])
    frame = engine.tick(1001.0)
    assert engine.stats.unknown_gateway == 1
    assert frame.tag == ("t1",)
    assert frame.level == (gw.level,)


def test_fixes_name_the_gateway_that_heard_the_tag_strongest() -> None:
    site = load_sample_site()
    engine = StreamingEngine(site)
    a, b, c = site.gateways[:3]
    t = 1_780_000_000.0
    engine.add([Reading(t + 0.1, a.id, "tag-1", rssi=-80.0),
                Reading(t + 0.2, b.id, "tag-1", rssi=-62.0),
                Reading(t + 0.3, c.id, "tag-1", rssi=-75.0),
                Reading(t + 0.4, c.id, "tag-2", rssi=-70.0)])
    frame = engine.tick(t + 1.0)
    assert dict(zip(frame.tag, frame.gateway, strict=True)) == {"tag-1": b.id, "tag-2": c.id}
    assert {d["tag"]: d["gateway"] for d in frame.to_dicts()} == {"tag-1": b.id, "tag-2": c.id}


def test_parked_tags_get_a_fix_every_tick_but_are_located_less_often(ward) -> None:
    readings, truth = ward
    engine = StreamingEngine(load_sample_site())
    frames = list(engine.run(readings))
    # every tag heard in the window gets a fix at every tick, located or repeated
    every = StreamingEngine(load_sample_site(), EngineConfig(
        cadence=replace(EngineConfig().cadence, parked_every_s=0.0)))
    every_frames = list(every.run(readings))
    assert [f.tag for f in frames] == [f.tag for f in every_frames]
    assert engine.stats.fixes == every.stats.fixes == every.stats.located
    assert engine.stats.located < 0.7 * engine.stats.fixes
    print(f"located {engine.stats.located} of {engine.stats.fixes} fixes")
    # and accuracy holds against locating every tag every tick
    ours = score_fixes([d for f in frames for d in f.to_dicts()], truth)
    theirs = score_fixes([d for f in every_frames for d in f.to_dicts()], truth)
    assert ours.n == theirs.n > 0
    assert ours.room_accuracy >= theirs.room_accuracy - 0.02
    assert ours.median_error_m <= theirs.median_error_m + 0.3


def test_a_tag_back_after_long_silence_brings_one_window_of_evidence(monkeypatch) -> None:
    """Its room filter steps over the whole silence, but its fix weighs as one window's ticks
    in the room filter and the self-calibration, not as the hour it was gone."""
    from positioning.autocal import SelfCalibration
    from positioning.rooms import RoomFilter

    seen: dict[str, list[np.ndarray]] = {"dt": [], "evidence": [], "span": []}
    room_update, observe = RoomFilter.update, SelfCalibration.observe

    def spy_room(self, *args, evidence=None, **kw):  # type: ignore[no-untyped-def]
        seen["dt"].append(np.atleast_1d(np.asarray(args[6], dtype=float)))
        seen["evidence"].append(np.atleast_1d(np.asarray(evidence, dtype=float)))
        return room_update(self, *args, evidence=evidence, **kw)

    def spy_observe(self, *args, span=None, **kw):  # type: ignore[no-untyped-def]
        seen["span"].append(np.asarray(span, dtype=float))
        return observe(self, *args, span=span, **kw)

    monkeypatch.setattr(RoomFilter, "update", spy_room)
    monkeypatch.setattr(SelfCalibration, "observe", spy_observe)
    site = load_sample_site()
    engine = StreamingEngine(site, EngineConfig(autocal=replace(
        EngineConfig().autocal, min_confidence=0.0)))
    near = sorted(site.gateways, key=lambda g: (g.level, g.x, g.y))[:4]
    t0 = 1_780_000_000.0

    def heard(t: float) -> list[Reading]:
        return [Reading(t + 0.1 * k, g.id, "pump", rssi=-62.0 - 6 * k)
                for k, g in enumerate(near)]

    for k in range(30):
        engine.add(heard(t0 + k))
        engine.tick(t0 + k + 1)
    for key in seen:
        seen[key].clear()
    back = t0 + 3600.0
    engine.add(heard(back))
    frame = engine.tick(back + 1)
    assert frame.tag == ("pump",)
    assert seen["dt"][0][0] > 3000.0
    assert seen["evidence"][0][0] == EngineConfig().window_s / EngineConfig().tick_s
    assert seen["span"] and max(s.max() for s in seen["span"]) <= EngineConfig().window_s


def test_tags_named_in_a_batch_without_kept_readings_get_no_row() -> None:
    """A batch's vocabulary may name tags whose readings were all dropped upstream (e.g.
    heard only by an unknown gateway): they must not take an engine row."""
    from floorplans.sample import load_sample_site
    from gateway.canonical import ReadingBatch
    from positioning.engine import StreamingEngine

    site = load_sample_site()
    gw = site.gateways[0].id
    eng = StreamingEngine(site)
    batch = ReadingBatch.from_readings([Reading(10.0, gw, "kept", rssi=-60.0),
                                        Reading(10.0, "no-such-gateway", "dropped",
                                                rssi=-60.0)])
    eng.add_batch(batch)
    eng.tick(10.5)
    assert eng._tag_ids == ["kept"]
    assert eng.stats.unknown_gateway == 1


def test_self_calibration_forgets_with_time_not_with_the_ticks_that_teach(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """A parked tag located every 2 s teaches on half the ticks; the gateway offsets must
    still fade over the whole elapsed time, as when it is located every tick."""
    from dataclasses import replace

    from floorplans.sample import load_sample_site
    from positioning.autocal import SelfCalibration

    faded: list[float] = []
    observe = SelfCalibration.observe

    def spy(self: SelfCalibration, dt: float, *args: Any, **kw: Any) -> None:
        faded.append(dt)
        observe(self, dt, *args, **kw)

    monkeypatch.setattr(SelfCalibration, "observe", spy)
    site = load_sample_site()
    near = sorted(site.gateways, key=lambda g: (g.level, g.x, g.y))[:4]
    t0 = 1_780_000_000.0
    totals = {}
    for every in (0.0, 2.0):
        faded.clear()
        base = EngineConfig()
        eng = StreamingEngine(site, replace(base, autocal=replace(base.autocal,
                                                                   min_confidence=0.0),
                                            cadence=replace(base.cadence,
                                                            parked_every_s=every)))
        for k in range(40):
            eng.add([Reading(t0 + k + 0.1 * j, g.id, "pump", rssi=-62.0 - 6 * j)
                     for j, g in enumerate(near)])
            eng.tick(t0 + k + 1)
        totals[every] = (len(faded), sum(faded))
    assert totals[2.0][0] < totals[0.0][0]  # fewer lessons at the 2 s cadence...
    assert totals[2.0][1] == pytest.approx(totals[0.0][1], abs=2.0)  # ...the same forgetting
