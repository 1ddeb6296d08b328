"""Run-time self-calibration: gateway offsets and tag powers from the engine's own fixes."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import orjson
import pytest

from floorplans.sample import generate_hospital
from gateway.canonical import iter_readings_jsonl
from positioning.autocal import AutoCalParams, SelfCalibration
from positioning.engine import EngineConfig, StreamingEngine
from positioning.radiomap import RadioMapParams
from simulator.config import load_scenario
from simulator.engine import Simulation
from simulator.output import readings_lines


def _feed(cal: SelfCalibration, offsets: np.ndarray, powers: np.ndarray, ticks: int,
          rng: np.random.Generator, dt: float = 60.0) -> None:
    """Every tag heard by 8 random gateways per tick: e = P_t + o_g + noise."""
    n_tags = powers.size
    for _ in range(ticks):
        tag = np.repeat(np.arange(n_tags), 8)
        gw = np.concatenate([rng.choice(offsets.size, 8, replace=False) for _ in range(n_tags)])
        e = powers[tag] + offsets[gw] + rng.normal(0.0, 4.0, tag.size)
        cal.observe(dt, tag, gw, e, np.full(tag.size, 1 / 16))


def test_gateway_offsets_recovered_up_to_a_common_shift() -> None:
    rng = np.random.default_rng(1)
    offsets = rng.normal(0.0, 3.0, 30)
    powers = rng.normal(-60.0, 3.0, 200)
    cal = SelfCalibration(30, AutoCalParams(decorrelation_s=60.0))
    _feed(cal, offsets, powers, 40, rng)
    learned = cal.gateway_offset
    # only differences between gateways are identifiable; compare after removing the mean
    err = (learned - learned.mean()) - (offsets - offsets.mean())
    assert np.abs(err).max() < 1.0
    assert np.corrcoef(learned, offsets)[0, 1] > 0.98
    assert (cal.gateway_samples > 0).all()


def test_offsets_shrink_towards_zero_with_little_evidence() -> None:
    cal = SelfCalibration(2, AutoCalParams(gateway_prior_weight=3.0, decorrelation_s=600.0))
    # one tag, one minute (0.1 samples): gateway 0 reads 6 dB above gateway 1
    cal.observe(60.0, np.array([0, 0]), np.array([0, 1]), np.array([-53.0, -59.0]),
                np.array([1.0, 1.0]))
    off = cal.gateway_offset
    assert 0.0 < off[0] < 0.5 and -0.5 < off[1] < 0.0


def test_tag_power_is_committed_only_when_the_stay_ends() -> None:
    p = AutoCalParams(decorrelation_s=60.0, min_stay_s=120.0, stay_sd_db=2.0)
    cal = SelfCalibration(3, p)
    e = np.array([-65.0, -65.0, -65.0])
    for _ in range(5):
        cal.observe(60.0, np.zeros(3, np.int64), np.arange(3), e, np.ones(3))
    mu, sd = cal.tag_prior(np.array([0]), np.array([-59.0]), np.array([2.0]))
    assert (mu[0], sd[0]) == (-59.0, 2.0)  # the current stay never feeds its own prior
    cal.end_stays(np.array([0]))
    power, stays = cal.tag_power(0)
    assert stays == 1.0 and power == pytest.approx(-65.0, abs=0.5)
    mu, sd = cal.tag_prior(np.array([0]), np.array([-59.0]), np.array([2.0]))
    # precision-weighted: prior N(-59, 2²) and one stay N(power, 2²)
    assert mu[0] == pytest.approx((-59.0 + power) / 2.0)
    assert sd[0] == pytest.approx(2.0 / np.sqrt(2.0))


def test_a_short_stay_is_not_committed() -> None:
    cal = SelfCalibration(1, AutoCalParams(decorrelation_s=60.0, min_stay_s=300.0))
    cal.observe(60.0, np.array([0]), np.array([0]), np.array([-70.0]), np.array([1.0]))
    cal.end_stays(np.array([0, 5]))  # row 5 was never seen: ignored
    assert cal.tag_power(0) == (pytest.approx(np.nan, nan_ok=True), 0.0)


def test_a_fix_that_stands_for_several_ticks_teaches_as_much_as_those_ticks() -> None:
    """A parked tag located every 5 s (the engine's cadence) weighs what 5 fixes 1 s apart do."""
    p = AutoCalParams(decorrelation_s=60.0, min_stay_s=1.0, memory_s=1e12)
    tags, gws = np.array([0, 0, 1, 1]), np.array([0, 1, 0, 1])
    e = np.array([-60.0, -64.0, -58.0, -61.0])
    every, spaced = SelfCalibration(2, p), SelfCalibration(2, p)
    for _ in range(5):
        every.observe(1.0, tags, gws, e, np.ones(4))
    # tag 0 stands for 5 s, tag 1 (located every tick elsewhere) for 1 s, five times
    spaced.observe(1.0, tags[:2], gws[:2], e[:2], np.ones(2), span=np.full(2, 5.0))
    for _ in range(5):
        spaced.observe(1.0, tags[2:], gws[2:], e[2:], np.ones(2))
    assert np.allclose(spaced.gateway_offset, every.gateway_offset)
    assert np.allclose(spaced.gateway_samples, every.gateway_samples)
    every.end_stays(np.array([0, 1]))
    spaced.end_stays(np.array([0, 1]))
    assert np.allclose([spaced.tag_power(r)[0] for r in (0, 1)],
                       [every.tag_power(r)[0] for r in (0, 1)])


def test_bad_samples_are_ignored_and_shapes_checked() -> None:
    cal = SelfCalibration(2)
    cal.observe(10.0, np.array([0, 0, 0]), np.array([0, 7, 1]),
                np.array([np.nan, -60.0, -60.0]), np.array([1.0, 1.0, 0.0]))
    assert (cal.gateway_samples == 0).all()
    with pytest.raises(ValueError, match="one shape"):
        cal.observe(1.0, np.array([0]), np.array([0, 1]), np.array([1.0]), np.array([1.0]))


def test_state_round_trip_and_errors() -> None:
    rng = np.random.default_rng(2)
    cal = SelfCalibration(30, AutoCalParams(decorrelation_s=60.0, min_stay_s=60.0))
    _feed(cal, rng.normal(0, 3, 30), rng.normal(-60, 3, 10), 5, rng)
    cal.end_stays(np.arange(10))
    gws = [f"gw-{i}" for i in range(30)]
    tags = [f"tag-{i}" for i in range(10)]
    state = orjson.loads(orjson.dumps(cal.state(gws, tags)))
    other = SelfCalibration(30, cal.params)
    assert other.load(state, {g: i for i, g in enumerate(gws)},
                      {t: i for i, t in enumerate(tags)}) == 40
    np.testing.assert_allclose(other.gateway_offset, cal.gateway_offset)
    assert other.tag_power(3) == pytest.approx(cal.tag_power(3))
    with pytest.raises(ValueError, match="version"):
        other.load({"version": 9}, {}, {})
    with pytest.raises(ValueError, match=r"gw-1.*'weight'"):
        other.load({"version": 1, "gateways": {"gw-1": {"sum": 1.0}}}, {"gw-1": 1}, {})


@pytest.fixture(scope="module")
def learned() -> tuple[Simulation, StreamingEngine]:
    """Fifteen simulated minutes of 120 assets in the room-level hospital, through the engine
    with the radio map's multi-wall exponent (n = 2, the simulator's physics: with the folded-in
    default 2.6 the offsets also soak up the model's distance error)."""
    site = generate_hospital(patient_room_gateways=True)
    scenario = replace(load_scenario("hospital-day")[0], assets=120, duration_s=900.0, seed=4)
    sim = Simulation(site, scenario)
    lines: list[bytes] = []
    for tick in sim.ticks():
        lines.extend(readings_lines(tick, sim).splitlines())
    readings = sorted(iter_readings_jsonl(lines), key=lambda r: r.ts)
    engine = StreamingEngine(site, EngineConfig(
        radio_map_params=RadioMapParams(path_loss_exponent=2.0)))
    for _ in engine.run(readings):
        pass
    return sim, engine


def test_engine_learns_the_simulated_receiver_offsets(learned) -> None:
    sim, engine = learned
    cal = engine.calibration
    assert cal is not None
    seen = cal.gateway_samples > 0.5
    assert seen.sum() > 30
    truth = sim._rx_offset[seen]
    got = cal.gateway_offset[seen]
    # the learned offsets track the simulator's hidden ones (sd 2 dB) ...
    assert np.corrcoef(got, truth)[0, 1] > 0.45
    # ... and removing them leaves less spread than there was
    assert np.std(truth - got) < np.std(truth)


def test_engine_calibration_state_restores_into_a_new_engine(learned) -> None:
    _sim, engine = learned
    state = engine.calibration_state()
    assert state is not None and state["gateways"]
    fresh = StreamingEngine(engine.site, EngineConfig())
    assert fresh.load_calibration(orjson.loads(orjson.dumps(state))) == (
        len(state["gateways"]) + len(state["tags"]))
    assert fresh.calibration is not None and engine.calibration is not None
    np.testing.assert_allclose(fresh.calibration.gateway_offset,
                               engine.calibration.gateway_offset)
    off = StreamingEngine(engine.site, EngineConfig(autocal=AutoCalParams(enabled=False)))
    assert off.calibration is None and off.calibration_state() is None


def test_calibration_file_round_trip_and_bad_files(learned, tmp_path, caplog) -> None:
    from tracker.calibration_file import load_calibration, save_calibration

    _sim, engine = learned
    path = tmp_path / "state" / "calibration.json"
    assert save_calibration(path, engine.calibration_state())
    assert not save_calibration(tmp_path / "none.json", None)
    fresh = StreamingEngine(engine.site, EngineConfig())
    assert load_calibration(path, fresh) > 0
    assert fresh.calibration is not None and engine.calibration is not None
    np.testing.assert_allclose(fresh.calibration.gateway_offset,
                               engine.calibration.gateway_offset)
    assert load_calibration(tmp_path / "missing.json", fresh) == 0  # a first start
    for bad in (b"{not json", b"[1, 2]", b'{"version": 1, "gateways": {"'
                + engine.site.gateways[0].id.encode() + b'": {"sum": "x", "weight": 1}}}'):
        path.write_bytes(bad)
        caplog.clear()
        assert load_calibration(path, StreamingEngine(engine.site, EngineConfig())) == 0
        assert str(path) in caplog.text and "not used" in caplog.text
