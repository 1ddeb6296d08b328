"""OpenMQTTGateway and Theengs Gateway (same JSON), https://docs.openmqttgateway.com.

Topics (``home`` is the configurable base):

* ``home/<gateway>/BTtoMQTT/<MAC, or iBeacon UUID, or "undecoded">``: one advertisement.
* ``home/<presence topic>/<gateway>`` (e.g. ``home/presence/OpenMQTTGateway``,
  ``home/home_presence/<gateway>``): the presence variant, same fields.
* ``home/<gateway>/SYStoMQTT``: gateway health (uptime, version, freemem, rssi, ip...).
* ``home/<gateway>/LWT``: ``online`` / ``offline``.

Fields used: ``id`` (the MAC, or the iBeacon UUID with ``pubBeaconUuidForTopic``/
``presenceUseBeaconUuid``), ``mac`` (present when ``id`` is a UUID), ``rssi``, and for iBeacons
``uuid``/``major``/``minor`` and ``txpower``. Only for iBeacons is ``txpower`` the measured
power at 1 m (→ ``tx_power``); for other devices it is the AD TX power level at the antenna
and is not used. ``batt`` (percent), which Theengs decoders add for tags that advertise it, is
the tag's battery level.

Tag identity: the MAC when there is one (many tags ship with the same factory iBeacon ids, so
a MAC is the safer key); the ``ibeacon:`` tag when the payload names only the iBeacon. No
device time: ``ts`` is the receipt time.
"""

from __future__ import annotations

from typing import Any

from gateway.adapters import _common as c
from gateway.adapters.types import DEFAULT_OPTIONS, GatewayStatus, ParseOptions, ParseResult
from gateway.errors import PayloadError
from gateway.identity import IBeacon, is_mac, normalize_mac

__all__ = ["parse"]


def _tag(d: dict[str, Any]) -> tuple[str, IBeacon | None]:
    beacon = None
    uuid = d.get("uuid")
    if uuid is not None and (d.get("major") is not None or d.get("minor") is not None):
        beacon = IBeacon.of(uuid, d.get("major", 0), d.get("minor", 0))
    mac = d.get("mac")
    if mac is not None:
        return normalize_mac(mac, field="mac"), beacon
    ident = c.text(d, "id", required=True)
    assert ident is not None
    if is_mac(ident):
        return normalize_mac(ident, field="id"), beacon
    if beacon is not None and ident.replace("-", "").lower() == beacon.uuid:
        return beacon.tag, beacon
    return normalize_mac(ident, field="id"), beacon  # raises bad_identity


def parse(topic: str, payload: bytes, received_at: float, *,
          options: ParseOptions = DEFAULT_OPTIONS) -> ParseResult:
    """Parse one OpenMQTTGateway / Theengs message (see the module docstring).

    Raises:
        PayloadError: On a malformed payload, an unusable identity, or a topic that carries
            neither readings nor health.
    """
    c.check(payload, received_at, options)
    levels = topic.split("/")
    b = c.ResultBuilder(received_at, options)
    if "BTtoMQTT" in levels:
        i = levels.index("BTtoMQTT")
        gateway = levels[i - 1] if i >= 1 else ""
    elif len(levels) >= 2 and levels[-1] == "SYStoMQTT":
        return b.build(_system(levels[-2], c.as_object(c.decode_json(payload)), received_at))
    elif len(levels) >= 2 and levels[-1] == "LWT":
        state = c.decode_text(payload).strip().lower()
        if state not in ("online", "offline"):
            raise PayloadError("bad_value", f"LWT {state[:20]!r} is not online/offline")
        return b.build(GatewayStatus(levels[-2], received_at, online=state == "online"))
    elif len(levels) >= 3 and "presence" in levels[-2]:
        gateway = levels[-1]
    else:
        raise PayloadError("unsupported", f"OpenMQTTGateway topic {topic[:100]!r} carries no "
                                          "readings or health")
    if not gateway:
        raise PayloadError("unknown_gateway", f"no gateway name in topic {topic[:100]!r}")
    d = c.as_object(c.decode_json(payload))
    tag, beacon = _tag(d)
    rssi = c.rssi(c.number(d, "rssi", required=True))
    is_ibeacon = beacon is not None or d.get("model_id") == "IBEACON"
    b.add(gateway, tag, rssi_dbm=rssi,
          tx_power_dbm=c.number(d, "txpower") if is_ibeacon else None)
    b.battery(tag, d.get("batt"))  # Theengs decoders' battery percentage
    return b.build()


def _system(gateway: str, d: dict[str, Any], received_at: float) -> GatewayStatus:
    used = {"uptime", "version", "freemem", "rssi", "ip", "model"}
    return GatewayStatus(
        gateway=gateway, ts=received_at, online=True, uptime_s=c.number(d, "uptime"),
        firmware=c.text(d, "version"), ip=c.text(d, "ip"), rssi=c.number(d, "rssi"),
        free_memory=c.number(d, "freemem"),
        model=c.text(d, "model") if isinstance(d.get("model"), str) else None,
        extra={k: v for k, v in d.items() if k not in used},
    )
