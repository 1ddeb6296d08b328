"""``sporing demo`` answers at once and shows positioned assets within seconds."""

from __future__ import annotations

import asyncio
import time

import httpx

from tracker.demo import Demo, DemoOptions


async def test_demo_serves_positions_from_the_simulation() -> None:
    async with Demo(DemoOptions(port=0, assets=120)) as demo:
        async with httpx.AsyncClient(base_url=demo.url, timeout=10.0) as c:
            assert (await c.get("/healthz")).json() == {"status": "ok"}
            assert (await c.get("/api/v1/locations")).status_code == 401
            located: dict[str, object] = {}
            deadline = time.monotonic() + 60.0  # a generous cap; normally ~3 s
            logged_in = False
            while time.monotonic() < deadline:
                if not logged_in:  # the demo users exist once the store is open
                    login = await c.post("/api/v1/auth/login", json={
                        "username": "demo-porter", "password": demo.password})
                    logged_in = login.status_code == 200
                    if not logged_in:
                        await asyncio.sleep(0.25)
                        continue
                r = await c.get("/api/v1/locations")
                if r.status_code == 200 and r.json()["count"] > 100:
                    located = r.json()
                    break
                await asyncio.sleep(0.25)
            assert located, "no positions"
            assert (await c.get("/readyz")).status_code == 200
            item = located["items"][0]  # type: ignore[index]
            assert item["asset"] and item["level"]
            one = await c.get(f"/api/v1/assets/{item['asset']}/location")
            assert one.status_code == 200 and one.json()["tag"] == item["tag"]
            gws = (await c.get("/api/v1/gateways")).json()
            assert gws["source"] == "ingestor"
            assert any(g["state"] == "online" for g in gws["items"])
            page = await c.get("/")
            assert page.status_code == 200 and "<html lang=" in page.text
            me = (await c.get("/api/v1/auth/me")).json()
            assert me == {"name": "demo-porter", "role": "porter", "via": "session"}
            metrics = (await c.get("/metrics")).text
            assert "sporing_pipeline_ticks_total" in metrics
        # The pipeline stored fixes in the demo's SQLite file.
        rows = await asyncio.to_thread(demo.store.current_locations)
        assert rows
