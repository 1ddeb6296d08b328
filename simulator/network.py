"""Gateway behaviour on the network: clocks, outages, latency, duplicates and late messages."""

from __future__ import annotations

import fnmatch
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from simulator.config import NetworkConfig

__all__ = ["Delivery", "GatewayNetwork"]

F64 = npt.NDArray[np.float64]
I64 = npt.NDArray[np.int64]


@dataclass(frozen=True, slots=True)
class Delivery:
    """What the network does to a batch of readings.

    Attributes:
        index: Reading index per delivered message (a duplicated reading appears twice).
        arrival: Arrival time at the broker (true seconds since start), per delivered message.
    """

    index: I64
    arrival: F64


class GatewayNetwork:
    """Clocks and availability of the gateways.

    Each gateway's clock reads ``t + offset + drift_ppm·1e-6·t`` (``t`` in seconds since the
    simulation start; offset ~ N(0, clock_offset_sd), drift ~ N(0, clock_drift_sd_ppm)). A gateway
    is offline during the scheduled outages whose ``gateway`` pattern matches its id (a prefix or
    an ``fnmatch`` pattern) and during random outages (Poisson, exponential durations).

    Args:
        gateway_ids: Gateway ids, in index order.
        cfg: Network configuration.
        duration_s: Simulated duration (to draw random outages).
        rng: Random generator.
    """

    def __init__(self, gateway_ids: Sequence[str], cfg: NetworkConfig, duration_s: float,
                 rng: np.random.Generator) -> None:
        n = len(gateway_ids)
        self.cfg = cfg
        self.offset = rng.normal(0.0, cfg.clock_offset_sd_s, n)
        self.drift = rng.normal(0.0, cfg.clock_drift_sd_ppm, n) * 1e-6
        gws: list[int] = []
        starts: list[float] = []
        ends: list[float] = []
        for o in cfg.outages:
            pat = o.gateway if any(ch in o.gateway for ch in "*?[") else o.gateway + "*"
            for i, gid in enumerate(gateway_ids):
                if fnmatch.fnmatchcase(gid, pat):
                    gws.append(i)
                    starts.append(o.start_s)
                    ends.append(o.end_s)
        rate = cfg.random_outages_per_gateway_day / 86400.0
        if rate > 0 and n:
            counts = rng.poisson(rate * duration_s, n)
            for i, c in enumerate(counts):
                for _ in range(int(c)):
                    s = float(rng.uniform(0.0, duration_s))
                    gws.append(i)
                    starts.append(s)
                    ends.append(s + float(rng.exponential(cfg.random_outage_mean_s)))
        self.outage_gateway = np.asarray(gws, dtype=np.int64)
        self.outage_start = np.asarray(starts, dtype=np.float64)
        self.outage_end = np.asarray(ends, dtype=np.float64)
        self.n = n

    def online(self, t: float) -> npt.NDArray[np.bool_]:
        """Which gateways are online at ``t`` (seconds since start)."""
        on = np.ones(self.n, dtype=np.bool_)
        active = (self.outage_start <= t) & (t < self.outage_end)
        on[self.outage_gateway[active]] = False
        return on

    def clock(self, gateway: npt.ArrayLike, t: npt.ArrayLike) -> F64:
        """What each gateway's clock reads at true time ``t`` (seconds since start)."""
        g = np.asarray(gateway, dtype=np.int64)
        tt = np.asarray(t, dtype=np.float64)
        return np.asarray(tt + self.offset[g] + self.drift[g] * tt)

    def deliver(self, t: F64, rng: np.random.Generator) -> Delivery:
        """Latency, duplicates and late delivery for readings taken at true times ``t``.

        Returns:
            The delivered messages in arrival order.
        """
        n = t.shape[0]
        cfg = self.cfg
        idx = np.arange(n, dtype=np.int64)
        if cfg.duplicate_rate > 0 and n:
            idx = np.concatenate([idx, idx[rng.random(n) < cfg.duplicate_rate]])
        m = idx.shape[0]
        arrival = t[idx] + (rng.exponential(cfg.latency_mean_s, m) if cfg.latency_mean_s > 0
                            else np.zeros(m))
        if cfg.late_rate > 0 and m:
            late = rng.random(m) < cfg.late_rate
            arrival[late] += rng.exponential(cfg.late_mean_s, int(late.sum()))
        order = np.argsort(arrival, kind="stable")
        return Delivery(idx[order], arrival[order])
