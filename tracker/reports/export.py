"""Report rows as CSV (UTF-8, header row) or JSON.

Every report row type has ``to_record(tz)`` (a flat mapping of scalars, one CSV column each)
and may have ``to_json(tz)`` (a nested form, used for JSON when present). ``None`` is an
empty CSV field and ``null`` in JSON; times are local ISO 8601 with the UTC offset.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Mapping, Sequence
from typing import Any, ClassVar, Literal, Protocol

import orjson

__all__ = ["FORMATS", "Format", "Record", "to_csv", "to_json"]

Format = Literal["csv", "json"]
#: Output formats.
FORMATS: tuple[Format, ...] = ("csv", "json")


class Record(Protocol):
    """A report row: ``COLUMNS`` names the keys of ``to_record``, in order."""

    COLUMNS: ClassVar[tuple[str, ...]]

    def to_record(self, tz: str) -> dict[str, Any]:
        """Flat mapping of scalars."""
        ...


def to_csv(rows: Sequence[Record], columns: Sequence[str], tz: str) -> str:
    """CSV text: a header row of ``columns`` (also for an empty report), then one line per
    row, CRLF line ends (RFC 4180)."""
    buf = io.StringIO(newline="")
    w = csv.DictWriter(buf, fieldnames=list(columns), lineterminator="\r\n")
    w.writeheader()
    for r in rows:
        w.writerow({k: ("" if v is None else _cell(v)) for k, v in r.to_record(tz).items()})
    return buf.getvalue()


def _cell(v: Any) -> Any:
    if isinstance(v, bool):
        return "true" if v else "false"
    return v


def to_json(rows: Sequence[Record], tz: str, meta: Mapping[str, Any] | None = None) -> bytes:
    """``{"meta": {...}, "rows": [...]}`` as UTF-8 JSON (rows' ``to_json`` when they have
    one, else ``to_record``)."""
    out = []
    for r in rows:
        fn = getattr(r, "to_json", None)
        out.append(fn(tz) if fn is not None else r.to_record(tz))
    return orjson.dumps({"meta": dict(meta or {}), "rows": out},
                        option=orjson.OPT_INDENT_2 | orjson.OPT_NON_STR_KEYS)
