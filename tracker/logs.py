"""Structured logging: JSON lines (or plain text) with context fields.

Context fields come from two places and land as top-level keys of a JSON line (or as
``key=value`` pairs after a text message):

* ``extra={...}`` on a single call (``log.warning("...", extra={"topic": t, "gateway": g})``);
* :func:`log_context`, a context manager binding fields (``role``, ``topic``, ``gateway``) to
  every record logged inside it, also across ``await`` (it uses a :mod:`contextvars` variable,
  so concurrent tasks keep their own context).

:func:`configure_logging` installs the handler on the root logger once at startup.
"""

from __future__ import annotations

import contextlib
import contextvars
import datetime as dt
import logging
import sys
from collections.abc import Iterator, Mapping
from typing import Any, TextIO

import orjson

__all__ = ["JsonFormatter", "TextFormatter", "configure_logging", "log_context"]

_CONTEXT: contextvars.ContextVar[Mapping[str, Any] | None] = contextvars.ContextVar(
    "sporing_log_context", default=None)

# Attributes every LogRecord has; anything else was passed with ``extra=``.
_STANDARD = set(logging.LogRecord("", 0, "", 0, "", None, None).__dict__) | {
    "message", "asctime", "taskName"}


@contextlib.contextmanager
def log_context(**fields: Any) -> Iterator[None]:
    """Bind ``fields`` to every record logged inside the ``with`` block (task-local)."""
    token = _CONTEXT.set({**(_CONTEXT.get() or {}), **fields})
    try:
        yield
    finally:
        _CONTEXT.reset(token)


def _fields(record: logging.LogRecord) -> dict[str, Any]:
    out: dict[str, Any] = dict(_CONTEXT.get() or {})
    for k, v in record.__dict__.items():
        if k not in _STANDARD and not k.startswith("_"):
            out[k] = v
    return out


class JsonFormatter(logging.Formatter):
    """One JSON object per line: ``ts`` (ISO 8601 UTC), ``level``, ``logger``, ``msg``, the
    context fields and ``exc`` when an exception is attached."""

    def format(self, record: logging.LogRecord) -> str:
        doc: dict[str, Any] = {
            "ts": dt.datetime.fromtimestamp(record.created, dt.UTC).isoformat(
                timespec="milliseconds").replace("+00:00", "Z"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
        }
        doc.update(_fields(record))
        if record.exc_info:
            doc["exc"] = self.formatException(record.exc_info)
        return orjson.dumps(doc, default=str).decode()


class TextFormatter(logging.Formatter):
    """``2025-11-26 08:00:00,123 WARNING sporing.ingest: message key=value ...``."""

    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s: %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        text = super().format(record)
        fields = _fields(record)
        if fields:
            text += " " + " ".join(f"{k}={v}" for k, v in fields.items())
        return text


def configure_logging(fmt: str = "text", level: str = "INFO", *,
                      stream: TextIO | None = None) -> logging.Handler:
    """Send all logs to ``stream`` (stderr) as ``json`` or ``text``; returns the handler.

    Replaces a handler installed by an earlier call, so calling it twice does not double lines.

    Raises:
        ValueError: Unknown format or level.
    """
    if fmt not in ("json", "text"):
        raise ValueError(f"log format must be 'json' or 'text', got {fmt!r}")
    numeric = logging.getLevelName(level.upper())
    if not isinstance(numeric, int):
        raise ValueError(f"unknown log level {level!r}")
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.set_name("sporing")
    handler.setFormatter(JsonFormatter() if fmt == "json" else TextFormatter())
    root = logging.getLogger()
    for h in list(root.handlers):
        if h.get_name() == "sporing":
            root.removeHandler(h)
    root.addHandler(handler)
    root.setLevel(numeric)
    # Access logs of every polling page would drown the service's own lines.
    logging.getLogger("uvicorn.access").setLevel(max(numeric, logging.WARNING))
    return handler
