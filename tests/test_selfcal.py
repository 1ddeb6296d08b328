"""Self-calibration recovers per-gateway path loss from reference tags; the CLI writes it back."""

from __future__ import annotations

import numpy as np
import orjson

from floorplans.geojson import load_site
from floorplans.sample import load_sample_site, sample_site_path
from floorplans.spatial import SiteIndex
from gateway.canonical import Reading
from positioning.selfcal import calibrate_site
from tracker.cli import main


def synthetic(seed: int = 3, level: str = "A2", n_spots: int = 40):
    site = load_sample_site()
    index = SiteIndex(site)
    rng = np.random.default_rng(seed)
    rooms = [r for r in site.rooms if r.level == level]
    spots = {}
    for k in range(n_spots):
        c = rooms[rng.integers(len(rooms))].polygon.representative_point()
        spots[f"ref{k}"] = (c.x + rng.uniform(-0.5, 0.5), c.y, level, 1.0)
    gws = [g for g in site.gateways if g.level == level]
    true = {g.id: (rng.uniform(-66, -54), 2.0) for g in gws}
    readings = []
    for tag, (x, y, _lv, z) in spots.items():
        for g in gws:
            d = np.sqrt((g.x - x) ** 2 + (g.y - y) ** 2 + (g.height_m - z) ** 2)
            if d > 25:
                continue
            walls = float(index.wall_loss_db(level, x, y, g.x, g.y))
            p, n = true[g.id]
            for s in range(10):
                rssi = p - 10 * n * np.log10(d) - walls + rng.normal(0, 2.0)
                readings.append(Reading(1000.0 + s, g.id, tag, rssi=float(round(rssi))))
    return site, spots, readings, true


def test_fit_recovers_the_gateways_that_have_enough_samples() -> None:
    site, spots, readings, true = synthetic()
    cal = calibrate_site(site, readings, spots, min_samples=30)
    own = {gid: f for gid, f in cal.fits.items() if not f.pooled}
    assert len(own) >= 5
    for gid, f in own.items():
        assert abs(f.rssi_1m - true[gid][0]) < 2.5, gid
        assert abs(f.n - 2.0) < 0.3, gid
    calibrated = {g.id: g for g in cal.site.gateways}
    for gid, f in own.items():
        assert calibrated[gid].rssi_1m == round(f.rssi_1m, 2)


def test_cli_writes_a_calibrated_floor_plan(tmp_path, capsys) -> None:
    _site, spots, readings, _true = synthetic()
    rfile, sfile, out = tmp_path / "r.jsonl", tmp_path / "refs.jsonl", tmp_path / "cal.geojson"
    rfile.write_bytes(b"".join(orjson.dumps({"ts": r.ts, "gateway": r.gateway, "tag": r.tag,
                                             "rssi": r.rssi}) + b"\n" for r in readings)
                      + b"{not json\n")
    sfile.write_bytes(b"".join(orjson.dumps({"tag": t, "x": x, "y": y, "level": lv}) + b"\n"
                               for t, (x, y, lv, _z) in spots.items()))
    code = main(["calibrate", str(rfile), "--floorplan", str(sample_site_path()),
                 "--references", str(sfile), "-o", str(out), "--min-samples", "30"])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    assert "pooled fit" in captured.out and "own" in captured.out
    assert "r.jsonl:" in captured.err  # the bad line is reported with file and line
    new, problems = load_site(out)
    assert not [p for p in problems if p.severity == "error"]
    assert sum(g.rssi_1m is not None for g in new.gateways) >= 5


def test_cli_rejects_references_on_unknown_levels(tmp_path, capsys) -> None:
    sfile = tmp_path / "refs.jsonl"
    sfile.write_text('{"tag": "r", "x": 1, "y": 1, "level": "Z9"}\n')
    rfile = tmp_path / "r.jsonl"
    rfile.write_text("")
    code = main(["calibrate", str(rfile), "--floorplan", str(sample_site_path()),
                 "--references", str(sfile)])
    assert code == 1 and "Z9" in capsys.readouterr().err
