"""INGICS iGS01/iGS02/iGS03 BLE gateways: text lines, one advertisement per line, ending in
CRLF (one or more lines per MQTT message; the topic is user-configured)::

    $GPRP,<tag MAC>,<gateway MAC>,<rssi>,<advertisement hex>[,<UNIX time>]

``$SRRP`` (scan response) and ``$LRRP`` (long range) lines have the same layout. ``$HBRP``
is the gateway heartbeat (health; its RSSI field is -127). The optional trailing UNIX time is
the gateway's clock. An iBeacon frame in the advertisement supplies ``tx_power``. A bad line
is reported by index and the others kept.
"""

from __future__ import annotations

from gateway.adapters import _common as c
from gateway.adapters.types import DEFAULT_OPTIONS, GatewayStatus, ParseOptions, ParseResult
from gateway.errors import PayloadError
from gateway.identity import decode_advertisement, normalize_mac

__all__ = ["parse"]

_READING_KINDS = frozenset({"$GPRP", "$SRRP", "$LRRP"})


def parse(topic: str, payload: bytes, received_at: float, *,
          options: ParseOptions = DEFAULT_OPTIONS) -> ParseResult:
    """Parse INGICS report lines (see the module docstring).

    Raises:
        PayloadError: Not UTF-8, or not INGICS report lines at all.
    """
    c.check(payload, received_at, options)
    lines = [ln.strip() for ln in c.decode_text(payload).splitlines()]
    lines = [ln for ln in lines if ln]
    if not lines or not lines[0].startswith("$"):
        raise PayloadError("bad_value", "payload is not INGICS '$XXXX,...' report lines")
    b = c.ResultBuilder(received_at, options)
    status: list[GatewayStatus] = []

    def one(_i: int, line: str) -> None:
        f = line.split(",")
        kind = f[0]
        if kind == "$HBRP":
            if len(f) < 3:
                raise PayloadError("truncated", f"$HBRP line has {len(f)} fields, needs 3")
            status.append(GatewayStatus(normalize_mac(f[2], field="gateway"), received_at,
                                        online=True))
            return
        if kind not in _READING_KINDS:
            raise PayloadError("unsupported", f"line kind {kind[:10]!r} is not a report")
        if len(f) < 5:
            raise PayloadError("truncated", f"{kind} line has {len(f)} fields, needs 5")
        tag = normalize_mac(f[1], field="tag")
        gw = normalize_mac(f[2], field="gateway")
        try:
            rssi = float(f[3])
        except ValueError:
            raise PayloadError("wrong_type", f"rssi {f[3][:10]!r} is not a number") from None
        c.rssi(rssi)
        beacon = decode_advertisement(f[4], field="advertisement").ibeacon
        dts = c.device_time(f[5], "time") if len(f) > 5 and f[5] else None
        b.add(gw, tag, rssi_dbm=rssi,
              tx_power_dbm=None if beacon is None else beacon.measured_power, device_ts=dts)

    b.each(lines, one, label="line")
    return b.build(status[-1] if status else None)
