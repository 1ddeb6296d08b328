"""Shared, short-lived snapshots the lookup endpoints answer from, cached on ``AppState.cache``.

Lists and rankings never query per asset. They read:

* the asset registry (:class:`~tracker.lookup.Registry`), reloaded from the store every
  :data:`REGISTRY_TTL_S` seconds and at once after a tag is paired or unpaired here;
* the latest locations (:class:`~tracker.lookup.Locations`), read at most once per
  :data:`LOCATIONS_TTL_S`: the store's current locations, overlaid with the pipeline's memory
  when the pipeline runs in this process (it has the newest fixes; the store still knows the
  tags it has not seen since it started);
* the :class:`~tracker.lookup.Fleet` of both (states, per-type lists), built once per pair;
* the :class:`~tracker.lookup.Wayfinder` (walking graph) of the site, built once.

An expired snapshot is reloaded in the background when a request finds it expired; requests
get the previous one meanwhile (unless it is ten times too old: then they wait), so no request
pays for a reload but the very first. Locations are read from the store incrementally (only
newer fixes) with a full read every :data:`FULL_RELOAD_S`. Loading runs in worker threads,
never on the event loop.
The state map (which room categories mean *available*) is :attr:`AppState.states
<tracker.api.state.AppState.states>`.
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from tracker.api.deps import get_store
from tracker.api.errors import UnavailableError
from tracker.api.state import AppState
from tracker.assets import Asset
from tracker.lookup import Fleet, Locations, Registry, Wayfinder
from tracker.records import FixRecord
from tracker.store.base import Store, all_assets

__all__ = [
    "LOCATIONS_TTL_S",
    "REGISTRY_TTL_S",
    "fleet",
    "invalidate_registry",
    "locations",
    "registry",
    "wayfinder",
    "where",
]

REGISTRY_TTL_S = 60.0
"""How long a registry snapshot is used before it is reloaded (seconds)."""
LOCATIONS_TTL_S = 1.0
"""How long a locations snapshot is used before it is reloaded (seconds)."""
FULL_RELOAD_S = 30.0
"""Between full reads of the store's current locations, only fixes newer than the newest one
seen (less :data:`OVERLAP_S`) are read; a fix stored later with an older time shows at the next
full read."""
OVERLAP_S = 10.0
MAX_STALE_FACTOR = 10.0
"""A snapshot this many TTLs old is no longer served while it reloads: the request waits."""

_PAGE = 5000
T = TypeVar("T")
log = logging.getLogger("sporing.api")


@dataclass(eq=False)
class _Entry(Generic[T]):
    value: T | None = None
    at: float = -math.inf
    task: asyncio.Task[T] | None = None


def _log_failure(task: asyncio.Task[Any]) -> None:
    if not task.cancelled() and task.exception() is not None:
        log.warning("snapshot reload failed: %s", task.exception())


async def _reload(entry: _Entry[T], load: Callable[[T | None], Awaitable[T]]) -> T:
    value = await load(entry.value)
    entry.value, entry.at = value, time.monotonic()
    return value


async def _cached(state: AppState, key: str, ttl_s: float,
                  load: Callable[[T | None], Awaitable[T]]) -> T:
    """The value under ``key``, reloaded in the background once ``ttl_s`` old (callers get
    the previous value meanwhile, up to ``MAX_STALE_FACTOR * ttl_s`` old); one reload at a
    time; ``load`` gets the previous value (for incremental reloads)."""
    entry: _Entry[T] | None = state.cache.get(key)
    if entry is None:
        entry = _Entry()
        state.cache[key] = entry
    age = time.monotonic() - entry.at
    if entry.value is not None and age < ttl_s:
        return entry.value
    loop = asyncio.get_running_loop()
    task = entry.task
    if task is None or task.done() or task.get_loop() is not loop:
        task = loop.create_task(_reload(entry, load))
        task.add_done_callback(_log_failure)
        entry.task = task
    if entry.value is not None and age < ttl_s * MAX_STALE_FACTOR:
        return entry.value
    return await asyncio.shield(task)


async def wayfinder(state: AppState) -> Wayfinder:
    """The site's walking graph, built on first use (in a worker thread) and kept."""
    site = state.site
    return await _cached(state, "lookup:wayfinder", math.inf,
                         lambda _old: asyncio.to_thread(Wayfinder, site))


def _load_registry(store: Store) -> Registry:
    return Registry.of(all_assets(store, page=_PAGE))


async def registry(state: AppState) -> Registry:
    """The asset registry snapshot (reloaded every :data:`REGISTRY_TTL_S`).

    Raises:
        UnavailableError: The store is not open (503).
    """
    store = get_store(state)
    return await _cached(state, "lookup:registry", REGISTRY_TTL_S,
                         lambda _old: asyncio.to_thread(_load_registry, store))


def invalidate_registry(state: AppState) -> None:
    """Forget the registry snapshot (after a change to pairings or assets)."""
    state.cache.pop("lookup:registry", None)
    state.cache.pop("lookup:fleet", None)


async def _load_locations(state: AppState, old: Locations | None) -> Locations:
    now = time.time()
    store, pipeline = state.store, state.pipeline
    # copied on the event loop, where the pipeline writes it
    live = None if pipeline is None else list(pipeline.latest.values())
    if store is None and live is None:
        raise UnavailableError("no pipeline and no database in this process")
    site_id = state.site.id
    source = "database" if live is None else "pipeline"

    def load() -> Locations:
        if store is None:
            assert live is not None
            return Locations.of(live, taken_at=now, source=source)
        if old is None or now - old.full_at >= FULL_RELOAD_S:
            base = Locations.of(store.current_locations(site=site_id), taken_at=now,
                                source=source)
        elif live is None:
            fresh = store.current_locations(site=site_id, since=old.newest_ts - OVERLAP_S)
            return old.merged(fresh, taken_at=now)
        else:  # the pipeline has every newer fix; the database only what it has not seen
            base = old
        return base if live is None else base.merged(live, taken_at=now)

    return await asyncio.to_thread(load)


async def locations(state: AppState) -> Locations:
    """The latest locations snapshot (reloaded at most every :data:`LOCATIONS_TTL_S`)."""
    return await _cached(state, "lookup:locations", LOCATIONS_TTL_S,
                         lambda old: _load_locations(state, old))


async def fleet(state: AppState) -> Fleet:
    """Registry, locations and states together (rebuilt when either snapshot changes)."""
    reg = await registry(state)
    loc = await locations(state)
    hit: tuple[Registry, Locations, Fleet] | None = state.cache.get("lookup:fleet")
    if hit is not None and hit[0] is reg and hit[1] is loc:
        return hit[2]
    f = Fleet(state.site, reg, loc, state.states)
    state.cache["lookup:fleet"] = (reg, loc, f)
    return f


async def where(state: AppState, asset_or_tag: str) -> tuple[Asset | None, FixRecord | None]:
    """``(asset, its latest fix)`` for an asset id, or ``(None, the tag's latest fix)`` for a
    tag id; ``(None, None)`` when neither is known.

    Answered from the registry and locations snapshots (at most :data:`REGISTRY_TTL_S` and
    :data:`LOCATIONS_TTL_S` old), so "where is it" costs no query; only an id the registry
    snapshot does not know (an asset imported seconds ago, or a typo) goes to the store.
    Without a store (pipeline only) the fix recorded with the id is used.
    """
    loc = await locations(state)
    store = state.store
    if store is None:
        return None, loc.by_tag.get(asset_or_tag) or loc.by_asset.get(asset_or_tag)
    asset = (await registry(state)).by_id.get(asset_or_tag)
    if asset is not None:
        return asset, loc.of_asset(asset)
    fix = loc.by_tag.get(asset_or_tag)
    if fix is not None:
        return None, fix

    def from_store() -> tuple[Asset | None, FixRecord | None]:
        found = store.get_asset(asset_or_tag)
        return found, store.location_of(asset_or_tag)

    return await asyncio.to_thread(from_store)
