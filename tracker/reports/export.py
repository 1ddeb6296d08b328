"""Report rows as CSV (UTF-8, header row) or JSON.

Every report row type has ``to_record(tz)`` (a flat mapping of scalars, one CSV column each)
and may have ``to_json(tz)`` (a nested form, used for JSON when present). A row may also be a
mapping already (e.g. one hour of a forecast row, :meth:`ForecastRow.records
<tracker.reports.forecast.ForecastRow.records>`), written as it is. ``None`` is an empty CSV
field and ``null`` in JSON; times are local ISO 8601 with the UTC offset.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Mapping, Sequence
from typing import Any, ClassVar, Literal, Protocol, TypeAlias

import orjson

__all__ = ["FORMATS", "Format", "Record", "Row", "json_of", "to_csv", "to_json"]

Format = Literal["csv", "json"]
#: Output formats.
FORMATS: tuple[Format, ...] = ("csv", "json")


class Record(Protocol):
    """A report row: ``COLUMNS`` names the keys of ``to_record``, in order."""

    COLUMNS: ClassVar[tuple[str, ...]]

    def to_record(self, tz: str) -> dict[str, Any]:
        """Flat mapping of scalars."""
        ...


#: A report row, or its record already built.
Row: TypeAlias = Record | Mapping[str, Any]


def _flat(r: Row, tz: str) -> Mapping[str, Any]:
    return r if isinstance(r, Mapping) else r.to_record(tz)


def to_csv(rows: Sequence[Row], columns: Sequence[str], tz: str) -> str:
    """CSV text: a header row of ``columns`` (also for an empty report), then one line per
    row, CRLF line ends (RFC 4180)."""
    buf = io.StringIO(newline="")
    w = csv.DictWriter(buf, fieldnames=list(columns), lineterminator="\r\n")
    w.writeheader()
    for r in rows:
        w.writerow({k: ("" if v is None else _cell(v)) for k, v in _flat(r, tz).items()})
    return buf.getvalue()


def _cell(v: Any) -> Any:
    if isinstance(v, bool):
        return "true" if v else "false"
    return v


def json_of(row: Row, tz: str) -> Mapping[str, Any]:
    """The JSON form of a row: its ``to_json`` when it has one, else its flat record."""
    fn = getattr(row, "to_json", None)
    return fn(tz) if fn is not None and not isinstance(row, Mapping) else _flat(row, tz)


def to_json(rows: Sequence[Row], tz: str, meta: Mapping[str, Any] | None = None) -> bytes:
    """``{"meta": {...}, "rows": [...]}`` as UTF-8 JSON (rows' :func:`json_of`)."""
    out = [json_of(r, tz) for r in rows]
    return orjson.dumps({"meta": dict(meta or {}), "rows": out},
                        option=orjson.OPT_INDENT_2 | orjson.OPT_NON_STR_KEYS)
