"""The format registry and the per-step encoding of a whole tick."""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping, Sequence

import numpy as np

from simulator.formats.base import EncodeContext, GatewayBatch, Message
from simulator.formats.ble import (
    encode_canonical,
    encode_espresense,
    encode_minew,
    encode_omg,
    encode_ruuvi,
)
from simulator.formats.uwb import encode_dwm, encode_pozyx

__all__ = ["BLE_FORMATS", "ENCODERS", "FORMATS", "UWB_FORMATS", "encode_tick",
           "format_for_gateway"]

Encoder = Callable[[GatewayBatch, EncodeContext], list[Message]]

ENCODERS: Mapping[str, Encoder] = {
    "canonical": encode_canonical,
    "espresense": encode_espresense,
    "omg": encode_omg,
    "minew": encode_minew,
    "ruuvi": encode_ruuvi,
    "pozyx": encode_pozyx,
    "dwm": encode_dwm,
}
BLE_FORMATS = ("canonical", "espresense", "omg", "minew", "ruuvi")
UWB_FORMATS = ("canonical", "pozyx", "dwm")
#: Every value ``--format`` accepts.
FORMATS = (*ENCODERS, "mixed")


def format_for_gateway(fmt: str, gateway_id: str, tech: str) -> str:
    """The format one gateway publishes in.

    ``mixed`` picks a format per gateway (stable hash of the id) among the BLE or UWB formats;
    a BLE-only format asked of a UWB gateway (or vice versa) falls back to ``canonical``.

    Raises:
        ValueError: an unknown format name.
    """
    if fmt not in FORMATS:
        raise ValueError(f"unknown format {fmt!r} (choose from {', '.join(FORMATS)})")
    choices = UWB_FORMATS if tech == "uwb" else BLE_FORMATS
    if fmt == "mixed":
        h = int(hashlib.sha256(gateway_id.encode()).hexdigest()[:8], 16)
        return choices[h % len(choices)]
    return fmt if fmt in choices else "canonical"


def encode_tick(ts: np.ndarray, gateway: np.ndarray, tag: np.ndarray, rssi: np.ndarray,
                range_m: np.ndarray, formats: Sequence[str], ctx: EncodeContext) -> list[Message]:
    """Encode one step's readings: grouped per gateway (in first-arrival order), each group in
    its gateway's format. Position formats publish once per step (only from the first gateway
    of that format that heard the tag)."""
    if ts.shape[0] == 0:
        return []
    order = np.argsort(gateway, kind="stable")
    g_sorted = gateway[order]
    starts = np.flatnonzero(np.r_[True, g_sorted[1:] != g_sorted[:-1]])
    ends = np.r_[starts[1:], g_sorted.shape[0]]
    first = {int(g_sorted[s]): int(order[s]) for s in starts}
    msgs: list[tuple[int, Message]] = []
    seen_pos: dict[str, set[int]] = {}
    for s, e in zip(starts, ends, strict=True):
        g = int(g_sorted[s])
        sel = order[s:e]
        fmt = formats[g]
        if fmt in ("pozyx", "dwm"):
            done = seen_pos.setdefault(fmt, set())
            keep = np.array([int(t) not in done for t in tag[sel]], dtype=bool)
            sel = sel[keep]
            done.update(int(t) for t in tag[sel])
            if sel.size == 0:
                continue
        batch = GatewayBatch(g, ts[sel], tag[sel], rssi[sel], range_m[sel])
        msgs.extend((first[g], m) for m in ENCODERS[fmt](batch, ctx))
    msgs.sort(key=lambda p: p[0])
    return [m for _, m in msgs]
