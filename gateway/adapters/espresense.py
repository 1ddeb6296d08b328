"""ESPresense (https://espresense.com) room nodes.

Topics:

* ``espresense/devices/<device id>/<room>``: one JSON object per sighting. The room is the
  ESPresense node, i.e. the gateway id. Fields used: ``id`` (the ESPresense device id; the
  topic's id when absent), ``rssi``, ``rssi@1m`` (the calibrated RSSI at 1 m →
  ``tx_power``). ``distance``/``raw`` are ESPresense's own RSSI-derived estimates and are not
  used: Sporing ranges from RSSI itself. There is no device time: ``ts`` is the receipt time.
* ``espresense/rooms/<room>/telemetry``: node health (ip, uptime, ver, rssi, freeHeap...).
* ``espresense/rooms/<room>/status``: ``online`` / ``offline`` (last will).

Tag ids: a 12-hex-digit id is a MAC; ``iBeacon:<uuid>-<major>-<minor>`` becomes the canonical
``ibeacon:`` tag; every other ESPresense id (``watch:darrell``, ``apple:1005:9-26``,
``tile:...``) is kept as is.
"""

from __future__ import annotations

from typing import Any

from gateway.adapters import _common as c
from gateway.adapters.types import DEFAULT_OPTIONS, GatewayStatus, ParseOptions, ParseResult
from gateway.errors import PayloadError
from gateway.identity import ibeacon_tag, is_mac, normalize_mac

__all__ = ["parse", "tag_from_id"]


def tag_from_id(device_id: str) -> str:
    """The canonical tag for an ESPresense device id (see the module docstring)."""
    if len(device_id) == 12 and is_mac(device_id):
        return normalize_mac(device_id)
    if device_id[:8].lower() == "ibeacon:":
        parts = device_id[8:].rsplit("-", 2)
        if len(parts) != 3:
            raise PayloadError("bad_identity", f"iBeacon id {device_id[:80]!r} is not "
                                               "'iBeacon:<uuid>-<major>-<minor>'")
        return ibeacon_tag(parts[0], parts[1], parts[2])
    return device_id


def parse(topic: str, payload: bytes, received_at: float, *,
          options: ParseOptions = DEFAULT_OPTIONS) -> ParseResult:
    """Parse one ESPresense message (see the module docstring).

    Raises:
        PayloadError: On a malformed payload or an unknown ESPresense topic.
    """
    c.check(payload, received_at, options)
    levels = topic.split("/")
    b = c.ResultBuilder(received_at, options)
    if len(levels) == 4 and levels[1] == "devices" and levels[2] and levels[3]:
        room = levels[3]
        d = c.as_object(c.decode_json(payload))
        device_id = c.text(d, "id") or levels[2]
        rssi = c.rssi(c.number(d, "rssi", required=True))
        b.add(room, tag_from_id(device_id), rssi_dbm=rssi,
              tx_power_dbm=c.number(d, "rssi@1m"))
        return b.build()
    if len(levels) == 4 and levels[1] == "rooms" and levels[2]:
        room = levels[2]
        if levels[3] == "status":
            state = c.decode_text(payload).strip().lower()
            if state not in ("online", "offline"):
                raise PayloadError("bad_value", f"status {state[:20]!r} is not online/offline")
            return b.build(GatewayStatus(room, received_at, online=state == "online"))
        if levels[3] == "telemetry":
            return b.build(_telemetry(room, c.as_object(c.decode_json(payload)), received_at))
    raise PayloadError("unsupported", f"ESPresense topic {topic[:100]!r} carries no readings "
                                      "or health")


def _telemetry(room: str, d: dict[str, Any], received_at: float) -> GatewayStatus:
    used = {"ip", "uptime", "ver", "firm", "rssi", "freeHeap"}
    return GatewayStatus(
        gateway=room, ts=received_at, online=True, uptime_s=c.number(d, "uptime"),
        firmware=c.text(d, "ver"), model=c.text(d, "firm"), ip=c.text(d, "ip"),
        rssi=c.number(d, "rssi"), free_memory=c.number(d, "freeHeap"),
        extra={k: v for k, v in d.items() if k not in used},
    )
