"""MQTT topic filters (MQTT 3.1.1 §4.7): validation and matching with ``+`` and ``#``."""

from __future__ import annotations

from functools import lru_cache

from gateway.errors import TopicFilterError

__all__ = ["topic_matches", "validate_filter"]


def validate_filter(topic_filter: str) -> tuple[str, ...]:
    """Check a topic filter and split it into levels.

    Raises:
        TopicFilterError: Empty, ``#`` not alone in the last level, or ``+`` not alone in its
            level.
    """
    if not topic_filter:
        raise TopicFilterError("a topic filter must not be empty")
    levels = tuple(topic_filter.split("/"))
    for i, level in enumerate(levels):
        if "#" in level and (level != "#" or i != len(levels) - 1):
            raise TopicFilterError(f"topic filter {topic_filter!r}: '#' must be the whole "
                                   "last level")
        if "+" in level and level != "+":
            raise TopicFilterError(f"topic filter {topic_filter!r}: '+' must be a whole level")
    return levels


@lru_cache(maxsize=256)
def _levels(topic_filter: str) -> tuple[str, ...]:
    return validate_filter(topic_filter)


def topic_matches(topic_filter: str, topic: str) -> bool:
    """Whether ``topic`` matches ``topic_filter``.

    ``+`` matches exactly one level (possibly empty), ``#`` the parent level and any number of
    levels below it; filters starting with a wildcard do not match topics starting with ``$``.

    Raises:
        TopicFilterError: If the filter is malformed.
    """
    flt = _levels(topic_filter)
    if topic.startswith("$") and flt[0] in ("+", "#"):
        return False
    parts = topic.split("/")
    for i, f in enumerate(flt):
        if f == "#":
            return True
        if i >= len(parts):
            return False
        if f != "+" and f != parts[i]:
            return False
    return len(parts) == len(flt)
