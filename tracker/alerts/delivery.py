"""Delivery of alert events: MQTT (``<prefix>/<rule id>``, QoS 1) and signed webhooks, from
the outbox in the store, with retry.

The :class:`Dispatcher` takes the oldest pending event of each target from the outbox
(:meth:`tracker.alerts.store.AlertStore.due`), tries it, and records the outcome: delivered;
failed but retried after an exponential backoff with full jitter (:class:`gateway.mqtt.Backoff`
with the configured base and cap); or given up after ``max_attempts`` (or at once when the
receiver refuses it for good: a 4xx other than 408/425/429). The outbox lives in the database,
so a restart resumes where it stopped; delivery is at least once (a receiver deduplicates on
``event_id``).

A webhook receives ``POST`` with the JSON event as body and the headers

* ``X-Sporing-Event``: ``raised``, ``acknowledged`` or ``resolved``;
* ``X-Sporing-Delivery``: the event id;
* ``X-Sporing-Signature``: ``sha256=`` + hex HMAC-SHA256 of the body with the webhook's secret
  (check it with :func:`verify_signature`).
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import logging
import random
import time
from collections.abc import Callable
from dataclasses import replace

import aiomqtt
import httpx
import orjson

from gateway.mqtt import Backoff, MqttSettings, make_client
from tracker.alerts.lifecycle import OutboxItem
from tracker.alerts.rules import AlertsConfig, Webhook
from tracker.alerts.store import AlertStore
from tracker.store.base import StoreError

__all__ = [
    "SIGNATURE_HEADER",
    "DeliveryError",
    "Dispatcher",
    "MqttPublisher",
    "event_body",
    "sign",
    "verify_signature",
]

log = logging.getLogger("sporing.alerts.delivery")

SIGNATURE_HEADER = "X-Sporing-Signature"
_RETRYABLE_STATUS = frozenset({408, 425, 429})


class DeliveryError(Exception):
    """One delivery attempt failed.

    Attributes:
        permanent: Retrying cannot help (the receiver refused the event, or the target is not
            configured any more).
    """

    def __init__(self, message: str, *, permanent: bool = False) -> None:
        super().__init__(message)
        self.permanent = permanent


def sign(secret: str, body: bytes) -> str:
    """The ``X-Sporing-Signature`` value of ``body``: ``sha256=<hex HMAC-SHA256>``."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def verify_signature(secret: str, body: bytes, header: str | None) -> bool:
    """Whether ``header`` is the signature of ``body`` (constant-time comparison)."""
    return header is not None and hmac.compare_digest(sign(secret, body), header)


def event_body(item: OutboxItem) -> bytes:
    """The bytes delivered for an outbox item: its payload with ``event_id`` first."""
    return orjson.dumps({"event_id": item.event_id, **orjson.loads(item.payload)})


class MqttPublisher:
    """One lazily (re)connected MQTT client publishing at QoS 1 (the call returns once the
    broker has acknowledged the message).

    Args:
        settings: The broker; the client id gets an ``-alerts`` suffix and a clean session, so
            it never takes over the ingest client's persistent session.
    """

    def __init__(self, settings: MqttSettings) -> None:
        self.settings = replace(settings, client_id=f"{settings.client_id}-alerts",
                                clean_session=True)
        self._client: aiomqtt.Client | None = None

    async def publish(self, topic: str, body: bytes) -> None:
        """Publish ``body`` on ``topic`` at QoS 1.

        Raises:
            DeliveryError: Not connected, or the broker did not acknowledge.
        """
        try:
            if self._client is None:
                client = make_client(self.settings)
                await client.__aenter__()
                self._client = client
            await self._client.publish(topic, body, qos=1)
        except aiomqtt.MqttError as exc:
            await self.close()
            raise DeliveryError(f"MQTT {self.settings.url}: {exc}") from exc

    async def close(self) -> None:
        """Disconnect (a later publish reconnects)."""
        client, self._client = self._client, None
        if client is not None:
            with contextlib.suppress(Exception):
                await client.__aexit__(None, None, None)


class Dispatcher:
    """Delivers the outbox (see the module docstring).

    Args:
        alerts: The alert store holding the outbox.
        config: Targets, topic prefix, attempts and backoff.
        mqtt: The broker for the ``mqtt`` target (None: that target fails permanently).
        http: An HTTP client for webhooks (default: a new one, closed by :meth:`close`).
        clock: Wall clock (outbox times).
        rng: Randomness of the jitter.
        poll_s: Longest sleep between outbox checks (events recorded by other processes,
            e.g. an acknowledgement in the API process, are picked up within it).
    """

    def __init__(self, alerts: AlertStore, config: AlertsConfig, *,
                 mqtt: MqttSettings | None = None, http: httpx.AsyncClient | None = None,
                 clock: Callable[[], float] = time.time, rng: random.Random | None = None,
                 poll_s: float = 5.0) -> None:
        self.alerts = alerts
        self.config = config
        self.clock = clock
        self.rng = rng or random.Random()
        self.poll_s = poll_s
        self.backoff = Backoff(config.backoff_base_s, config.backoff_cap_s)
        self._hooks = {w.target: w for w in config.webhooks}
        self._mqtt = MqttPublisher(mqtt) if mqtt is not None else None
        self._own_http = http is None
        self._http = http or httpx.AsyncClient(headers={"User-Agent": "sporing-alerts/0.1"})
        self._wake = asyncio.Event()
        #: Counters: delivered, retried, failed (given up).
        self.stats = {"delivered": 0, "retried": 0, "failed": 0}

    def wake(self) -> None:
        """Check the outbox now (call from the event loop's thread)."""
        self._wake.set()

    @property
    def targets(self) -> tuple[str, ...]:
        """The targets this dispatcher delivers to (``mqtt`` only with a broker)."""
        return tuple(t for t in self.config.targets if t != "mqtt" or self._mqtt is not None)

    async def register_targets(self) -> None:
        """Register this dispatcher's targets, so new events are queued for them."""
        await asyncio.to_thread(self.alerts.set_targets, self.targets, at=self.clock())

    async def _send(self, item: OutboxItem) -> None:
        body = event_body(item)
        if item.target == "mqtt":
            if self._mqtt is None:
                raise DeliveryError("MQTT delivery is not configured here", permanent=True)
            await self._mqtt.publish(f"{self.config.topic_prefix}/{item.rule}", body)
            return
        hook = self._hooks.get(item.target)
        if hook is None:
            raise DeliveryError(f"target {item.target!r} is not configured any more",
                                permanent=True)
        await self._post(hook, item, body)

    async def _post(self, hook: Webhook, item: OutboxItem, body: bytes) -> None:
        headers = {"Content-Type": "application/json", "X-Sporing-Event": item.event,
                   "X-Sporing-Delivery": str(item.event_id),
                   SIGNATURE_HEADER: sign(hook.secret, body)}
        try:
            r = await self._http.post(hook.url, content=body, headers=headers,
                                      timeout=hook.timeout_s)
        except httpx.HTTPError as exc:
            raise DeliveryError(f"{hook.name}: {type(exc).__name__}: {exc}") from exc
        if 200 <= r.status_code < 300:
            return
        permanent = r.status_code < 500 and r.status_code not in _RETRYABLE_STATUS
        raise DeliveryError(f"{hook.name}: HTTP {r.status_code} {r.reason_phrase}",
                            permanent=permanent)

    async def _attempt(self, item: OutboxItem) -> None:
        try:
            await self._send(item)
        except DeliveryError as exc:
            now = self.clock()
            attempts = item.attempts + 1
            if exc.permanent or attempts >= self.config.max_attempts:
                log.warning("giving up event %d to %s after %d attempt(s): %s", item.event_id,
                            item.target, attempts, exc)
                await asyncio.to_thread(self.alerts.give_up, item, at=now, error=str(exc))
                self.stats["failed"] += 1
            else:
                wait = self.backoff.delay(item.attempts, self.rng)
                log.info("event %d to %s failed (%s); attempt %d in %.1f s", item.event_id,
                         item.target, exc, attempts + 1, wait)
                await asyncio.to_thread(self.alerts.retry, item, at=now + wait, error=str(exc))
                self.stats["retried"] += 1
        else:
            await asyncio.to_thread(self.alerts.delivered, item, at=self.clock())
            self.stats["delivered"] += 1

    async def deliver_due(self, *, max_rounds: int = 1000) -> int:
        """Attempt every due event, target by target in event order, until none is due;
        returns the number of attempts made."""
        n = 0
        for _ in range(max_rounds):
            items = await asyncio.to_thread(self.alerts.due, self.clock())
            if not items:
                break
            await asyncio.gather(*(self._attempt(i) for i in items))
            n += len(items)
        return n

    async def run(self, stop: asyncio.Event) -> None:
        """Register the targets, then deliver until ``stop`` is set."""
        registered = False
        while not stop.is_set():
            wait = self.poll_s
            self._wake.clear()
            try:
                if not registered:
                    await self.register_targets()
                    registered = True
                await self.deliver_due()
                nxt = await asyncio.to_thread(self.alerts.next_due)
                if nxt is not None:
                    wait = min(max(nxt - self.clock(), 0.05), self.poll_s)
            except StoreError as exc:
                log.warning("alert outbox unavailable: %s", exc)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(_first(stop, self._wake), timeout=wait)

    async def close(self) -> None:
        """Close the MQTT and HTTP clients."""
        if self._mqtt is not None:
            await self._mqtt.close()
        if self._own_http:
            await self._http.aclose()


async def _first(*events: asyncio.Event) -> None:
    """Wait until any of ``events`` is set."""
    waiters = [asyncio.ensure_future(e.wait()) for e in events]
    try:
        await asyncio.wait(waiters, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for w in waiters:
            w.cancel()
