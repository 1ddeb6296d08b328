"""Types shared by the encoders."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

__all__ = ["EncodeContext", "GatewayBatch", "Message", "gateway_mac", "iso_utc", "mac_colons"]


@dataclass(frozen=True, slots=True)
class Message:
    """One MQTT message."""

    topic: str
    payload: bytes


@dataclass(frozen=True, slots=True)
class GatewayBatch:
    """The readings one gateway produced in one step (columns, arrival order).

    Attributes:
        gateway: Gateway index.
        ts: Gateway-clock time of each reading (UNIX seconds).
        tag: Tag index of each reading.
        rssi: dBm (NaN for UWB).
        range_m: Metres (NaN for BLE).
    """

    gateway: int
    ts: npt.NDArray[np.float64]
    tag: npt.NDArray[np.int32]
    rssi: npt.NDArray[np.float64]
    range_m: npt.NDArray[np.float64]


@dataclass(slots=True)
class EncodeContext:
    """What the encoders need to know about gateways and tags.

    Attributes:
        gateway_ids: Gateway ids by index.
        tag_ids: Tag ids (12 hex digits) by index.
        asset_ids: Asset names by tag index.
        rssi_1m: Measured power (dBm at 1 m) each tag advertises, by tag index (its model's
            nominal value: :attr:`simulator.assets.Fleet.advertised_dbm`).
        interval_s: Tag advertising interval by tag index.
        prefix: Topic prefix ("" for the vendors' default topics).
        position: For UWB position formats: ``f(tag_indices, ts) -> (x, y, z)`` arrays in
            metres, the vendor engine's position of each tag.
        counters: Running per-gateway counters (frame numbers, packet counts).
    """

    gateway_ids: tuple[str, ...]
    tag_ids: tuple[str, ...]
    asset_ids: tuple[str, ...]
    rssi_1m: npt.NDArray[np.float64]
    interval_s: npt.NDArray[np.float64]
    prefix: str = ""
    position: Callable[[npt.NDArray[np.int32], float],
                       tuple[npt.NDArray[np.float64], npt.NDArray[np.float64],
                             npt.NDArray[np.float64]]] | None = None
    counters: dict[str, int] = field(default_factory=dict)

    def topic(self, topic: str) -> str:
        """Apply the prefix (joined with one '/')."""
        if not self.prefix:
            return topic
        return self.prefix.rstrip("/") + "/" + topic.lstrip("/")


def gateway_mac(gateway_id: str) -> str:
    """The MAC (12 uppercase hex digits) of a MAC-identified gateway model.

    A gateway id that is already 12 hex digits (optionally with ':' or '-') is used as is;
    otherwise a stable MAC in Minew's ``AC233F`` range is derived from the id, so the floor
    plan must name such gateways by this MAC (see ``docs/simulator.md``).
    """
    bare = gateway_id.replace(":", "").replace("-", "")
    if len(bare) == 12 and all(c in "0123456789abcdefABCDEF" for c in bare):
        return bare.upper()
    h = hashlib.sha256(gateway_id.encode()).hexdigest()[:6].upper()
    return "AC233F" + h


def mac_colons(mac: str) -> str:
    """``aabbccddeeff`` → ``AA:BB:CC:DD:EE:FF``."""
    m = mac.upper()
    return ":".join(m[i: i + 2] for i in range(0, 12, 2))


def iso_utc(ts: float) -> str:
    """UNIX seconds → ``2026-02-09T00:13:53.668Z`` (Minew's timestamp style)."""
    s = np.datetime_as_string(np.datetime64(round(ts * 1000), "ms"), unit="ms")
    return f"{s}Z"
