"""Gateway ingestion: vendor payload adapters and the canonical reading stream."""

from gateway.canonical import Reading, ReadingBatch, ReadingError, parse_reading

__all__ = ["Reading", "ReadingBatch", "ReadingError", "parse_reading"]
