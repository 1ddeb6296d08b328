"""Read and write ``mosquitto_sub -F %j`` / ``%J`` captures: one JSON object per line with
``tst`` (ISO 8601 receipt time with offset), ``topic``, ``qos``, ``retain``, ``payloadlen``
and ``payload``.

With ``%J`` (and with ``%j`` when the payload is valid JSON in recent mosquitto) the payload is
embedded as JSON; otherwise it is a string. Embedded JSON is re-serialised compactly, so the
bytes can differ from the original in float spelling and key spacing (``payloadlen`` keeps the
original length). The simulator's record/replay uses :func:`iter_capture` and
:func:`capture_line`.
"""

from __future__ import annotations

import base64
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson

from gateway.errors import PayloadError
from gateway.timebase import parse_iso

__all__ = ["CapturedMessage", "capture_line", "iter_capture", "parse_capture_line"]


@dataclass(frozen=True, slots=True)
class CapturedMessage:
    """One captured MQTT message.

    Attributes:
        topic: The topic.
        payload: The payload bytes.
        received_at: Receipt time, UNIX seconds.
        qos: 0, 1 or 2.
        retain: Whether it was a retained message.
    """

    topic: str
    payload: bytes
    received_at: float
    qos: int = 0
    retain: bool = False


def parse_capture_line(line: bytes | str, *, where: str = "line") -> CapturedMessage:
    """Parse one capture line.

    Raises:
        PayloadError: Naming ``where`` and the field at fault.
    """
    try:
        d: Any = orjson.loads(line)
    except orjson.JSONDecodeError as exc:
        raise PayloadError("invalid_json", f"{where}: {exc.msg} at char {exc.pos}") from None
    if not isinstance(d, dict):
        raise PayloadError("wrong_type", f"{where}: a capture line must be a JSON object")
    topic = d.get("topic")
    if not isinstance(topic, str) or not topic:
        raise PayloadError("missing_field", f"{where}: missing field 'topic'")
    tst = d.get("tst")
    if isinstance(tst, str):
        received_at = parse_iso(tst, field="tst")
    elif isinstance(tst, int | float) and not isinstance(tst, bool):
        received_at = float(tst)
    else:
        raise PayloadError("missing_field", f"{where}: missing field 'tst'")
    if "payload" in d:
        p = d["payload"]
        payload = p.encode("utf-8") if isinstance(p, str) else orjson.dumps(p)
    elif isinstance(d.get("payload64"), str):
        try:
            payload = base64.b64decode(d["payload64"], validate=True)
        except ValueError:
            raise PayloadError("bad_value", f"{where}: field 'payload64' is not base64") \
                from None
    else:
        raise PayloadError("missing_field", f"{where}: missing field 'payload'")
    qos = d.get("qos", 0)
    retain = d.get("retain", 0)
    return CapturedMessage(topic, payload, received_at,
                           qos if isinstance(qos, int) and 0 <= qos <= 2 else 0, bool(retain))


def iter_capture(path: str | Path) -> Iterator[CapturedMessage]:
    """Iterate the messages of a capture file (blank lines skipped).

    Raises:
        PayloadError: On a bad line, naming ``file:line``.
    """
    p = Path(path)
    with p.open("rb") as fh:
        for lineno, line in enumerate(fh, start=1):
            if line.strip():
                yield parse_capture_line(line, where=f"{p}:{lineno}")


def capture_line(msg: CapturedMessage) -> bytes:
    """Encode a message as one capture line (no newline), the format :func:`iter_capture`
    reads: a payload that is a JSON object or array is embedded (as ``%J`` does), valid UTF-8
    text is a string, other bytes go to ``payload64`` (base64, an extension)."""
    tst = datetime.fromtimestamp(msg.received_at, UTC).isoformat(timespec="microseconds")
    d: dict[str, Any] = {"tst": tst, "topic": msg.topic, "qos": msg.qos,
                         "retain": int(msg.retain), "payloadlen": len(msg.payload)}
    stripped = msg.payload.lstrip()[:1]
    embedded = False
    if stripped in (b"{", b"["):
        try:
            d["payload"] = orjson.loads(msg.payload)
            embedded = True
        except orjson.JSONDecodeError:
            pass
    if not embedded:
        try:
            d["payload"] = msg.payload.decode("utf-8")
        except UnicodeDecodeError:
            d["payload64"] = base64.b64encode(msg.payload).decode("ascii")
    return orjson.dumps(d)
