"""Encoders from simulated readings to MQTT messages in real gateway formats.

Each format is a function ``encode(batch, ctx) -> list[Message]`` over the readings of one
gateway in one step (:class:`GatewayBatch`); :data:`ENCODERS` registers them by name.
"""

from __future__ import annotations

from simulator.formats.base import EncodeContext, GatewayBatch, Message, gateway_mac, mac_colons
from simulator.formats.ble import (
    encode_canonical,
    encode_espresense,
    encode_minew,
    encode_omg,
    encode_ruuvi,
)
from simulator.formats.registry import (
    BLE_FORMATS,
    ENCODERS,
    FORMATS,
    UWB_FORMATS,
    encode_tick,
    format_for_gateway,
)
from simulator.formats.uwb import encode_dwm, encode_pozyx

__all__ = [
    "BLE_FORMATS",
    "ENCODERS",
    "FORMATS",
    "UWB_FORMATS",
    "EncodeContext",
    "GatewayBatch",
    "Message",
    "encode_canonical",
    "encode_dwm",
    "encode_espresense",
    "encode_minew",
    "encode_omg",
    "encode_pozyx",
    "encode_ruuvi",
    "encode_tick",
    "format_for_gateway",
    "gateway_mac",
    "mac_colons",
]
