"""What the HTTP API reads: the live components of the process (any may be absent)."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from floorplans.model import Site
from tracker.availability import StateMap
from tracker.metrics import Metrics

if TYPE_CHECKING:
    from gateway.health import GatewayHealth
    from gateway.ingest import Ingestor
    from tracker.api.security import Authenticator
    from tracker.pipeline import Pipeline
    from tracker.store.base import Store
    from tracker.store.writer import StoreWriter

__all__ = ["AppState"]


@dataclass(eq=False)
class AppState:
    """The components one API instance serves from.

    Role ``all`` has every component; role ``api`` only ``store`` (locations come from the
    database); role ``ingest`` serves the ops endpoints only (``ops_only``).

    Attributes:
        site: The floor plan.
        store: The store; opened by the app's lifespan from ``database_url`` when None.
        database_url: Where to open the store when ``store`` is None.
        pipeline: The live pipeline (latest fixes in memory), if in this process.
        ingestor: The MQTT ingestor, if in this process.
        writer: The store writer, if in this process.
        health: Gateway health (normally the ingestor's).
        ops_only: Serve only ``/healthz``, ``/readyz`` and ``/metrics``.
        starting: A human-readable reason the service is not ready yet (None when ready).
        owns_store: Close the store when the app shuts down.
        auth: Checks credentials; None means every protected endpoint answers 503.
        secure_cookies: Mark the session cookie ``Secure`` (serve behind HTTPS).
        states: Room category -> asset state for this site (``[states]`` in the settings):
            what *available* means for lookups, reports and par levels.
    """

    site: Site
    store: Store | None = None
    database_url: str | None = None
    pipeline: Pipeline | None = None
    ingestor: Ingestor | None = None
    writer: StoreWriter | None = None
    health: GatewayHealth | None = None
    ops_only: bool = False
    starting: str | None = None
    owns_store: bool = False
    auth: Authenticator | None = None
    secure_cookies: bool = False
    states: StateMap = field(default_factory=StateMap)
    started_at: float = field(default_factory=time.time)
    metrics: Metrics = field(init=False)
    cache: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.metrics = Metrics(lambda: self)
        if self.health is None and self.ingestor is not None:
            self.health = self.ingestor.health
