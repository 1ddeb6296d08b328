"""Drive a :class:`Simulation` into files or an MQTT broker, in real time or faster."""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import IO

from simulator.engine import Simulation
from simulator.formats.base import Message
from simulator.formats.registry import encode_tick, format_for_gateway
from simulator.mqtt import connect, pace, publish_all
from simulator.output import encode_context, readings_lines, truth_lines

__all__ = ["encode_messages", "run_to_files", "run_to_mqtt"]


def _open(path: Path | None) -> contextlib.AbstractContextManager[IO[bytes] | None]:
    if path is None:
        return contextlib.nullcontext(None)
    if str(path) == "-":
        return contextlib.nullcontext(sys.stdout.buffer)
    return path.open("wb")


def run_to_files(sim: Simulation, out: Path, truth: Path | None, *, speed: float = 0.0,
                 truth_every_s: float = 10.0) -> int:
    """Write canonical readings (and ground truth) as JSON lines; returns readings written."""
    n = 0
    with _open(out) as fo, _open(truth) as ft:
        assert fo is not None

        def groups() -> Iterator[tuple[float, list[Message]]]:
            for tick in sim.ticks(truth_every_s=truth_every_s):
                fo.write(readings_lines(tick, sim))
                if ft is not None:
                    ft.write(truth_lines(tick, sim))
                yield tick.t0, []
                nonlocal n
                n += len(tick)

        for _ in pace(groups(), speed):
            pass
    return n


def encode_messages(sim: Simulation, fmt: str, prefix: str = "",
                    truth: IO[bytes] | None = None,
                    truth_every_s: float = 10.0) -> Iterator[tuple[float, list[Message]]]:
    """Per step: ``(step start, messages)`` in the chosen format(s)."""
    formats = [format_for_gateway(fmt, g.id, g.tech) for g in sim.gateways]
    ctx = encode_context(sim, prefix)
    for tick in sim.ticks(truth_every_s=truth_every_s):
        if truth is not None:
            truth.write(truth_lines(tick, sim))
        yield tick.t0, encode_tick(tick.ts, tick.gateway, tick.tag, tick.rssi, tick.range_m,
                                   formats, ctx)


def run_to_mqtt(sim: Simulation, url: str, *, fmt: str, speed: float = 1.0, qos: int = 0,
                prefix: str = "", truth: Path | None = None,
                truth_every_s: float = 10.0) -> int:
    """Publish the scenario to a broker; returns the number of messages published.

    Raises:
        ConnectionError: the broker is unreachable.
        ValueError: bad URL or format.
    """
    format_for_gateway(fmt, "x", "ble")  # validate early
    client = connect(url)
    try:
        with _open(truth) as ft:
            msgs = encode_messages(sim, fmt, prefix, ft, truth_every_s)
            return publish_all(client, pace(msgs, speed), qos=qos)
    finally:
        client.loop_stop()
        client.disconnect()
