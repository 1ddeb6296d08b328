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
from gateway.timebase import ClockTracker, TimePolicy

__all__ = [
    "ADAPTERS",
    "DEFAULT_TOPIC_MAP",
    "CapturedMessage",
    "ClockTracker",
    "GatewayError",
    "GatewayStatus",
    "ParseOptions",
    "ParseResult",
    "PayloadError",
    "PositionReport",
    "Reading",
    "ReadingBatch",
    "ReadingError",
    "TimePolicy",
    "TopicFilterError",
    "capture_line",
    "iter_capture",
    "match_adapter",
    "parse_message",
    "parse_reading",
]
