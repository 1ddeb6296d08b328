"""File outputs: canonical readings and ground truth as JSON lines, and the encoder context."""

from __future__ import annotations

from typing import IO

import numpy as np
import numpy.typing as npt
import orjson

from simulator.engine import Simulation, Tick
from simulator.formats.base import EncodeContext

__all__ = ["encode_context", "readings_lines", "truth_lines", "vendor_position"]


def readings_lines(tick: Tick, sim: Simulation) -> bytes:
    """The tick's readings as canonical JSON lines (``ts, gateway, tag, rssi|range_m``; BLE
    lines carry the ``tx_power`` the tag advertises: its model's nominal measured power)."""
    gids = sim.gateway_ids
    tags = sim.fleet.tags
    parts: list[str] = []
    ts = np.round(tick.ts, 3).tolist()
    gw = tick.gateway.tolist()
    tg = tick.tag.tolist()
    rssi = tick.rssi.tolist()
    rng = tick.range_m.tolist()
    adv = sim.fleet.advertised_dbm.astype(np.int64).tolist()
    for i in range(len(ts)):
        r = rssi[i]
        if r == r:
            parts.append(f'{{"ts":{ts[i]},"gateway":"{gids[gw[i]]}","tag":"{tags[tg[i]]}",'
                         f'"rssi":{int(r)},"tx_power":{adv[tg[i]]}}}\n')
        else:
            parts.append(f'{{"ts":{ts[i]},"gateway":"{gids[gw[i]]}","tag":"{tags[tg[i]]}",'
                         f'"range_m":{round(rng[i], 3)}}}\n')
    return "".join(parts).encode()


def truth_lines(tick: Tick, sim: Simulation) -> bytes:
    """Ground truth JSON lines ``{"ts","tag","x","y","level","room"}`` at the tick start.

    A missing asset (it left the building) has ``null`` position, level and room and
    ``"missing": true``; a position in no room has ``"room": null``.
    """
    out: list[bytes] = []
    level_ids = sim.index.level_ids
    room_ids = sim.index.room_ids
    ts = round(tick.t0, 3)
    for k, a in enumerate(tick.truth.tolist()):
        room = int(tick.truth_room[k])
        tag = sim.fleet.tags[a]
        if room == -3:
            out.append(orjson.dumps({"ts": ts, "tag": tag, "x": None, "y": None, "level": None,
                                     "room": None, "missing": True}))
            continue
        out.append(orjson.dumps({
            "ts": ts, "tag": tag, "x": round(float(tick.truth_x[k]), 3),
            "y": round(float(tick.truth_y[k]), 3), "level": level_ids[int(tick.truth_level[k])],
            "room": room_ids[room] if room >= 0 else None}))
    return b"\n".join(out) + (b"\n" if out else b"")


def vendor_position(sim: Simulation, sigma_m: float = 0.15, seed: int = 0):  # type: ignore[no-untyped-def]
    """A UWB vendor engine's position of tags: truth plus Gaussian error (σ per axis)."""
    rng = np.random.default_rng(np.random.SeedSequence([sim.scenario.seed, 77, seed]))
    mv = sim.movement

    def position(tags: npt.NDArray[np.int32], ts: float) -> tuple[npt.NDArray[np.float64],
                                                                  npt.NDArray[np.float64],
                                                                  npt.NDArray[np.float64]]:
        del ts
        n = tags.shape[0]
        z = sim.fleet.tag_height_m[tags]
        return (mv.x[tags] + rng.normal(0, sigma_m, n), mv.y[tags] + rng.normal(0, sigma_m, n),
                z + rng.normal(0, sigma_m, n))

    return position


def encode_context(sim: Simulation, prefix: str = "") -> EncodeContext:
    """The encoder context of a simulation."""
    return EncodeContext(
        gateway_ids=sim.gateway_ids, tag_ids=sim.fleet.tags, asset_ids=sim.fleet.ids,
        rssi_1m=sim.fleet.advertised_dbm, interval_s=sim.fleet.interval_s, prefix=prefix,
        position=vendor_position(sim))


def write_all(sim: Simulation, readings: IO[bytes], truth: IO[bytes] | None) -> int:
    """Run the whole scenario as fast as possible into JSON-lines files; returns readings."""
    n = 0
    for tick in sim.ticks():
        readings.write(readings_lines(tick, sim))
        n += len(tick)
        if truth is not None:
            truth.write(truth_lines(tick, sim))
    return n
