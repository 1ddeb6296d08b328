"""Asset registry: CSV import from maintenance-system exports, and the CLI commands."""

from __future__ import annotations

import argparse
import datetime as dt
from pathlib import Path

import pytest

from tracker.assets import Asset, import_assets_csv, parse_date, validate_giai
from tracker.store import open_store

NORWEGIAN = (
    "\ufeffUtstyrsnr;Navn;Type;Modell;Serienr;Avdeling;Neste vedlikehold;Status;Brikke\n"
    "100234;Infusjonspumpe;infusion_pump;Agilia VP;SN-1;Medisinsk klinikk;01.03.2026;Aktiv;"
    "tag-1\n"
    "100235;Sprøytepumpe;syringe_pump;Agilia SP;SN-2;Kirurgisk klinikk;2026-04-15;"
    "Til reparasjon;\n"
    "\n"
    "100236;Monitor;monitor;;;Medisinsk klinikk;31.02.2026;;\n"
    "100237;;monitor;;;;;;\n"
    "100238;Pumpe;x;;;;;knust;\n"
    "100234;Duplikat;x;;;;;;\n"
)


def test_norwegian_semicolon_export_with_bom(tmp_path: Path) -> None:
    p = tmp_path / "assets.csv"
    p.write_bytes(NORWEGIAN.encode("utf-8"))
    assets, problems = import_assets_csv(p)
    assert assets == [
        Asset("100234", "Infusjonspumpe", "infusion_pump", "Agilia VP", "SN-1",
              department="Medisinsk klinikk", tags=("tag-1",),
              next_maintenance=dt.date(2026, 3, 1)),
        Asset("100235", "Sprøytepumpe", "syringe_pump", "Agilia SP", "SN-2",
              department="Kirurgisk klinikk", status="in_repair",
              next_maintenance=dt.date(2026, 4, 15)),
    ]
    assert [str(x) for x in problems] == [
        "assets.csv:5: column 'next_maintenance': '31.02.2026' is not a date"
        " (expected YYYY-MM-DD or DD.MM.YYYY)",
        "assets.csv:6: column 'name': is empty",
        "assets.csv:7: column 'status': 'knust' is not one of active, in_repair, retired, lost",
        "assets.csv:8: column 'id': duplicate asset id '100234' (first on line 2)",
    ]


def test_english_comma_export_with_quoted_fields() -> None:
    text = (
        "id,name,type,giai,tags,home room\n"
        '"A1","Pump, large",pump,(8004)7045678ABC12,"t1, t2",R101\n'
        "A2,Bed,bed,not a giai!,,\n"
    )
    assets, problems = import_assets_csv(text)
    assert assets == [Asset("A1", "Pump, large", "pump", giai="7045678ABC12",
                            tags=("t1", "t2"), home_room="R101")]
    assert len(problems) == 1 and str(problems[0]).startswith("<text>:3: column 'giai':")


def test_missing_required_column_and_empty_file() -> None:
    assets, problems = import_assets_csv("Navn;Type\nPumpe;x\n")
    assert assets == [] and "missing required column(s) id" in str(problems[0])
    assert str(import_assets_csv("")[1][0]) == "<text>:1: file is empty (no header line)"


def test_too_many_fields_is_reported() -> None:
    _, problems = import_assets_csv("id;name\nA;B;C\n")
    assert str(problems[0]) == "<text>:2: 3 fields, the header has 2"


def test_multiline_quoted_field_keeps_line_numbers() -> None:
    text = 'id,name,next_maintenance\nA,"two\nlines",\nB,x,99.99.2026\n'
    assets, problems = import_assets_csv(text)
    assert [a.name for a in assets] == ["two\nlines"]
    assert str(problems[0]).startswith("<text>:4: column 'next_maintenance'")


def test_windows_1252_export_is_decoded(tmp_path: Path) -> None:
    p = tmp_path / "old.csv"
    p.write_bytes("Utstyrsnr;Navn\n1;Sprøytepumpe\n".encode("cp1252"))
    assets, problems = import_assets_csv(p)
    assert problems == [] and assets[0].name == "Sprøytepumpe"


@pytest.mark.parametrize("text", ["2026-02-30", "31.13.2026", "2026/01/01", "", "1.1.26"])
def test_bad_dates(text: str) -> None:
    with pytest.raises(ValueError, match="is not a date"):
        parse_date(text)


def test_dates_and_giai() -> None:
    assert parse_date("1.2.2026") == dt.date(2026, 2, 1)
    assert parse_date(" 2026-02-28 ") == dt.date(2026, 2, 28)
    assert validate_giai("7045678ABC-12/x") == "7045678ABC-12/x"
    for bad in ("ABC123", "7" * 31, "70456 78", "7045678æ"):
        with pytest.raises(ValueError):
            validate_giai(bad)


def test_asset_rejects_unknown_status() -> None:
    with pytest.raises(ValueError, match="status"):
        Asset("x", "y", status="broken")


def _cli(argv: list[str]) -> int:
    from tracker.store import commands

    parser = argparse.ArgumentParser(prog="sporing")
    commands.register(parser.add_subparsers(dest="command"))
    args = parser.parse_args(argv)
    return int(args.handler(args))


def test_cli_db_upgrade_and_assets_import_sqlite(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db = f"sqlite:///{tmp_path / 'reg.db'}"
    assert _cli(["db", "upgrade", "--database", db]) == 0
    assert "0001_core" in capsys.readouterr().out
    assert _cli(["db", "upgrade", "--database", db]) == 0
    assert "up to date" in capsys.readouterr().out
    csv_path = tmp_path / "assets.csv"
    csv_path.write_text(NORWEGIAN, encoding="utf-8")
    assert _cli(["assets", "import", str(csv_path), "--database", db]) == 1  # some rejected
    out = capsys.readouterr()
    assert "imported 2 asset(s); 4 line(s) rejected" in out.out
    assert "assets.csv:5: column 'next_maintenance'" in out.err
    store = open_store(db)
    assert store.get_asset("100234") is not None
    assert store.asset_for_tag("tag-1") == "100234"
    store.close()


def test_cli_needs_a_database(monkeypatch: pytest.MonkeyPatch,
                              capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.delenv("SPORING_DATABASE_URL", raising=False)
    assert _cli(["db", "upgrade"]) == 2
    assert "SPORING_DATABASE_URL" in capsys.readouterr().err


@pytest.mark.integration
def test_cli_import_into_timescaledb(fresh_database: str, tmp_path: Path) -> None:
    csv_path = tmp_path / "assets.csv"
    csv_path.write_text(NORWEGIAN, encoding="utf-8")
    assert _cli(["assets", "import", str(csv_path), "--database", fresh_database]) == 1
    store = open_store(fresh_database)
    items, total = store.search_assets(department="Medisinsk klinikk")
    assert total == 1 and items[0].next_maintenance == dt.date(2026, 3, 1)
    store.close()
