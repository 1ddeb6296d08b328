"""Vendor payload adapters: one small pure module per format, all with the same signature::

    parse(topic: str, payload: bytes, received_at: float, *, options=DEFAULT_OPTIONS)
        -> ParseResult

registered by format name in :data:`ADAPTERS` and selected by MQTT topic filter with
:func:`match_adapter` (first matching ``(topic_filter, format_name)`` pair wins).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from types import MappingProxyType

from gateway.adapters import (
    canonical,
    cassia,
    dwm1001,
    espresense,
    ingics,
    kontakt,
    minew,
    moko,
    openmqttgateway,
    pozyx,
    ruuvi,
    sewio,
)
from gateway.adapters.topics import topic_matches, validate_filter
from gateway.adapters.types import (
    DEFAULT_OPTIONS,
    MAX_PAYLOAD_BYTES,
    Adapter,
    GatewayStatus,
    ParseOptions,
    ParseResult,
    PositionReport,
    TagBattery,
)
from gateway.errors import PayloadError, TopicFilterError

__all__ = [
    "ADAPTERS",
    "DEFAULT_OPTIONS",
    "DEFAULT_TOPIC_MAP",
    "MAX_PAYLOAD_BYTES",
    "Adapter",
    "GatewayStatus",
    "ParseOptions",
    "ParseResult",
    "PositionReport",
    "TagBattery",
    "match_adapter",
    "parse_message",
    "topic_matches",
    "validate_filter",
    "validate_topic_map",
]

#: Every adapter by format name.
ADAPTERS: Mapping[str, Adapter] = MappingProxyType({
    "canonical": canonical.parse,
    "espresense": espresense.parse,
    "openmqttgateway": openmqttgateway.parse,
    "theengs": openmqttgateway.parse,
    "minew": minew.parse,
    "ruuvi": ruuvi.parse,
    "pozyx": pozyx.parse,
    "dwm1001": dwm1001.parse,
    "cassia": cassia.parse,
    "moko": moko.parse,
    "kontakt": kontakt.parse,
    "sewio": sewio.parse,
    "ingics": ingics.parse,
})

#: Default ``(topic_filter, format_name)`` pairs, the vendors' default topic schemes. Formats
#: whose topic is always user-configured (Kontakt, Sewio, INGICS) have no default: add a pair.
DEFAULT_TOPIC_MAP: tuple[tuple[str, str], ...] = (
    ("sporing/readings/#", "canonical"),
    ("espresense/devices/#", "espresense"),
    ("espresense/rooms/+/telemetry", "espresense"),
    ("espresense/rooms/+/status", "espresense"),
    ("home/+/BTtoMQTT/#", "openmqttgateway"),
    ("home/+/SYStoMQTT", "openmqttgateway"),
    ("home/+/LWT", "openmqttgateway"),
    ("home/presence/+", "openmqttgateway"),
    ("home/home_presence/+", "openmqttgateway"),
    ("ruuvi/#", "ruuvi"),
    ("/gw/+/status", "minew"),
    ("gw/+/status", "minew"),
    ("tags", "pozyx"),
    ("dwm/node/+/uplink/#", "dwm1001"),
    ("dwm/gateway/+/uplink", "dwm1001"),
    ("up/+/+", "cassia"),
    ("mokosmart/#", "moko"),
)


def validate_topic_map(patterns: Iterable[tuple[str, str]]) -> tuple[tuple[str, str], ...]:
    """Check a configured topic map: every filter well-formed, every format known.

    Raises:
        TopicFilterError: Naming the bad filter or the unknown format.
    """
    out = []
    for flt, fmt in patterns:
        validate_filter(flt)
        if fmt not in ADAPTERS:
            raise TopicFilterError(f"topic filter {flt!r}: unknown format {fmt!r} "
                                   f"(known: {', '.join(sorted(ADAPTERS))})")
        out.append((flt, fmt))
    return tuple(out)


def match_adapter(
    topic: str, patterns: Iterable[tuple[str, str]] = DEFAULT_TOPIC_MAP,
) -> tuple[str, Adapter] | None:
    """The ``(format_name, adapter)`` of the first pattern whose filter matches ``topic``.

    Returns:
        None when no filter matches.

    Raises:
        TopicFilterError: On a malformed filter or an unknown format name.
    """
    for flt, fmt in patterns:
        if topic_matches(flt, topic):
            adapter = ADAPTERS.get(fmt)
            if adapter is None:
                raise TopicFilterError(f"topic filter {flt!r}: unknown format {fmt!r}")
            return fmt, adapter
    return None


def parse_message(
    topic: str, payload: bytes, received_at: float, *,
    patterns: Iterable[tuple[str, str]] = DEFAULT_TOPIC_MAP,
    options: ParseOptions = DEFAULT_OPTIONS,
) -> ParseResult:
    """Select the adapter for ``topic`` and parse.

    Raises:
        PayloadError: ``unsupported`` when no filter matches, or the adapter's error.
    """
    found = match_adapter(topic, patterns)
    if found is None:
        raise PayloadError("unsupported", f"no adapter for topic {topic[:100]!r}")
    return found[1](topic, payload, received_at, options=options)
