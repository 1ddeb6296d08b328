"""Gateway ingestion: vendor payload adapters and the canonical reading stream."""

from gateway.adapters import (
    ADAPTERS,
    DEFAULT_TOPIC_MAP,
    GatewayStatus,
    ParseOptions,
    ParseResult,
    PositionReport,
    match_adapter,
    parse_message,
)
from gateway.canonical import Reading, ReadingBatch, ReadingError, parse_reading
from gateway.capture import CapturedMessage, capture_line, iter_capture
from gateway.errors import GatewayError, PayloadError, TopicFilterError
from gateway.gatewaymap import GatewayMap, GatewayMapError
from gateway.health import GatewayHealth, GatewayHealthRow
from gateway.ingest import Ingestor, IngestStats
from gateway.mqtt import Backoff, MqttConfigError, MqttSettings, TlsSettings
from gateway.timebase import ClockTracker, TimePolicy

__all__ = [
    "ADAPTERS",
    "DEFAULT_TOPIC_MAP",
    "Backoff",
    "CapturedMessage",
    "ClockTracker",
    "GatewayError",
    "GatewayHealth",
    "GatewayHealthRow",
    "GatewayMap",
    "GatewayMapError",
    "GatewayStatus",
    "IngestStats",
    "Ingestor",
    "MqttConfigError",
    "MqttSettings",
    "ParseOptions",
    "ParseResult",
    "PayloadError",
    "PositionReport",
    "Reading",
    "ReadingBatch",
    "ReadingError",
    "TimePolicy",
    "TlsSettings",
    "TopicFilterError",
    "capture_line",
    "iter_capture",
    "match_adapter",
    "parse_message",
    "parse_reading",
]
