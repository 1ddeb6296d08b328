"""The asset registry model and import from a maintenance system's CSV export.

An :class:`Asset` is a piece of medical equipment; tags are paired with assets over time (the
pairing history lives in the store). :func:`import_assets_csv` reads the kind of export a
maintenance system produces: semicolon or comma delimited, UTF-8 with or without BOM, English
or Norwegian headers, dates as ``YYYY-MM-DD`` or ``DD.MM.YYYY``. Bad lines are skipped and
reported with their line number; good ones are kept.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

__all__ = [
    "ASSET_STATUSES",
    "Asset",
    "ImportProblem",
    "import_assets_csv",
    "parse_date",
    "validate_giai",
]

#: Lifecycle states of an asset.
ASSET_STATUSES = ("active", "in_repair", "retired", "lost")

_STATUS_ALIASES = {
    "active": "active", "aktiv": "active", "i bruk": "active", "in use": "active",
    "in_repair": "in_repair", "in repair": "in_repair", "repair": "in_repair",
    "til reparasjon": "in_repair", "på reparasjon": "in_repair", "reparasjon": "in_repair",
    "retired": "retired", "kassert": "retired", "utrangert": "retired",
    "lost": "lost", "savnet": "lost", "tapt": "lost", "mistet": "lost",
}

# Header aliases (lower-cased, spaces/underscores/dashes collapsed) -> field.
_HEADER_ALIASES: dict[str, str] = {}
for _field, _names in {
    "id": ("id", "asset id", "asset", "utstyrsnr", "utstyrsnummer", "utstyr id", "inventarnr",
           "inventarnummer"),
    "name": ("name", "navn", "betegnelse", "beskrivelse"),
    "type": ("type", "asset type", "utstyrstype", "kategori"),
    "model": ("model", "modell"),
    "serial": ("serial", "serial number", "serial no", "serienr", "serienummer"),
    "giai": ("giai", "gs1 giai"),
    "barcode": ("barcode", "strekkode"),
    "department": ("department", "avdeling", "seksjon"),
    "home_room": ("home room", "home", "hjemrom", "hjemmerom", "fast plassering", "plassering"),
    "tags": ("tags", "tag", "tag id", "brikke", "brikker", "tagg", "tagger"),
    "status": ("status", "tilstand"),
    "next_maintenance": ("next maintenance", "neste vedlikehold", "neste service",
                         "vedlikehold"),
}.items():
    for _n in _names:
        _HEADER_ALIASES[_n] = _field

_GIAI_CHARS = re.compile(r"^[0-9][!\"%&'()*+,\-./0-9:;<=>?A-Z_a-z]{0,29}$")
_ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_NO_DATE = re.compile(r"^(\d{1,2})\.(\d{1,2})\.(\d{4})$")


@dataclass(frozen=True, slots=True)
class Asset:
    """A piece of tracked equipment.

    Attributes:
        id: The maintenance system's equipment number (unique).
        name: Human-readable name.
        type: Equipment type (e.g. ``infusion_pump``).
        model, serial: Manufacturer model and serial number.
        giai: GS1 Global Individual Asset Identifier (AI 8004), if labelled.
        barcode: Any other barcode printed on the asset.
        department: Owning department.
        home_room: Room id where the asset belongs.
        tags: Tags currently paired with the asset.
        status: One of :data:`ASSET_STATUSES`.
        next_maintenance: Date of the next planned maintenance.
    """

    id: str
    name: str
    type: str | None = None
    model: str | None = None
    serial: str | None = None
    giai: str | None = None
    barcode: str | None = None
    department: str | None = None
    home_room: str | None = None
    tags: tuple[str, ...] = ()
    status: str = "active"
    next_maintenance: dt.date | None = None

    def __post_init__(self) -> None:
        if not self.id or not self.id.strip():
            raise ValueError("asset id must not be empty")
        if self.status not in ASSET_STATUSES:
            raise ValueError(
                f"asset {self.id!r}: status {self.status!r} is not one of {ASSET_STATUSES}"
            )


@dataclass(frozen=True, slots=True)
class ImportProblem:
    """One rejected line (or the header) of an import, formatted like a compiler error."""

    source: str
    line: int
    column: str | None
    message: str

    def __str__(self) -> str:
        col = f" column '{self.column}':" if self.column else ""
        return f"{self.source}:{self.line}:{col} {self.message}"


def parse_date(text: str) -> dt.date:
    """Parse ``YYYY-MM-DD`` or ``DD.MM.YYYY``; raises ``ValueError`` otherwise."""
    s = text.strip()
    try:
        if _ISO_DATE.match(s):
            return dt.date.fromisoformat(s)
        m = _NO_DATE.match(s)
        if m:
            return dt.date(int(m.group(3)), int(m.group(2)), int(m.group(1)))
    except ValueError:
        pass
    raise ValueError(f"{text!r} is not a date (expected YYYY-MM-DD or DD.MM.YYYY)")


def validate_giai(text: str) -> str:
    """Normalise and check a GS1 GIAI (AI 8004): up to 30 characters of GS1 set 82.

    A leading ``(8004)`` application identifier is stripped. Raises ``ValueError``.
    """
    s = text.strip()
    if s.startswith("(8004)"):
        s = s[6:]
    if not _GIAI_CHARS.match(s):
        raise ValueError(
            f"{text!r} is not a GS1 GIAI (1-30 characters of GS1 set 82, starting with the "
            "digits of a company prefix)"
        )
    return s


def _norm_header(h: str) -> str:
    return re.sub(r"[\s_\-]+", " ", h.strip().lower())


def _read_text(path_or_text: str | Path) -> tuple[str, str]:
    if isinstance(path_or_text, Path) or (
        "\n" not in path_or_text and path_or_text.lower().endswith(".csv")
    ):
        p = Path(path_or_text)
        raw = p.read_bytes()
        try:
            return raw.decode("utf-8-sig"), p.name
        except UnicodeDecodeError:
            # Older exports are often Windows-1252; decode rather than reject the whole file.
            return raw.decode("cp1252"), p.name
    return path_or_text.removeprefix("\ufeff"), "<text>"


def _rows(text: str) -> Iterator[tuple[int, list[str]]]:
    first = text.split("\n", 1)[0]
    delimiter = ";" if first.count(";") >= first.count(",") and ";" in first else ","
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    start = 1
    for row in reader:
        yield start, row
        start = reader.line_num + 1


def import_assets_csv(path_or_text: str | Path) -> tuple[list[Asset], list[ImportProblem]]:
    """Read assets from a CSV export.

    Args:
        path_or_text: A path (``Path`` or a string ending in ``.csv``) or the CSV text itself.

    Returns:
        ``(assets, problems)``: the valid assets in file order, and one problem per rejected
        line (or for the header) with its line number. Blank lines are ignored.
    """
    text, source = _read_text(path_or_text)
    problems: list[ImportProblem] = []
    rows = _rows(text)
    header: list[str] | None = None
    for line, row in rows:
        if any(c.strip() for c in row):
            header = row
            header_line = line
            break
    if header is None:
        return [], [ImportProblem(source, 1, None, "file is empty (no header line)")]
    fields: list[str | None] = []
    seen: set[str] = set()
    for h in header:
        f = _HEADER_ALIASES.get(_norm_header(h))
        if f is not None and f in seen:
            problems.append(ImportProblem(source, header_line, h, "duplicate column"))
            f = None
        if f is not None:
            seen.add(f)
        fields.append(f)
    missing = [f for f in ("id", "name") if f not in seen]
    if missing:
        problems.append(ImportProblem(
            source, header_line, None,
            f"missing required column(s) {', '.join(missing)}; header was {header!r}",
        ))
        return [], problems
    assets: list[Asset] = []
    ids: dict[str, int] = {}
    for line, row in rows:
        if not any(c.strip() for c in row):
            continue
        if len(row) > len(fields):
            problems.append(ImportProblem(
                source, line, None, f"{len(row)} fields, the header has {len(fields)}"
            ))
            continue
        values = {f: v.strip() for f, v in zip(fields, row, strict=False) if f is not None}
        asset, problem = _asset_from(values, source, line)
        if problem is not None:
            problems.append(problem)
            continue
        assert asset is not None
        if asset.id in ids:
            problems.append(ImportProblem(
                source, line, "id",
                f"duplicate asset id {asset.id!r} (first on line {ids[asset.id]})",
            ))
            continue
        ids[asset.id] = line
        assets.append(asset)
    return assets, problems


def _asset_from(
    v: dict[str, str], source: str, line: int
) -> tuple[Asset | None, ImportProblem | None]:
    def bad(column: str, message: str) -> tuple[None, ImportProblem]:
        return None, ImportProblem(source, line, column, message)

    for required in ("id", "name"):
        if not v.get(required):
            return bad(required, "is empty")
    status = "active"
    if v.get("status"):
        s = _STATUS_ALIASES.get(v["status"].strip().lower())
        if s is None:
            return bad("status", f"{v['status']!r} is not one of {', '.join(ASSET_STATUSES)}")
        status = s
    next_maintenance = None
    if v.get("next_maintenance"):
        try:
            next_maintenance = parse_date(v["next_maintenance"])
        except ValueError as exc:
            return bad("next_maintenance", str(exc))
    giai = None
    if v.get("giai"):
        try:
            giai = validate_giai(v["giai"])
        except ValueError as exc:
            return bad("giai", str(exc))
    tags = tuple(t for t in re.split(r"[\s,|]+", v.get("tags", "")) if t)
    return Asset(
        id=v["id"],
        name=v["name"],
        type=v.get("type") or None,
        model=v.get("model") or None,
        serial=v.get("serial") or None,
        giai=giai,
        barcode=v.get("barcode") or None,
        department=v.get("department") or None,
        home_room=v.get("home_room") or None,
        tags=tags,
        status=status,
        next_maintenance=next_maintenance,
    ), None
