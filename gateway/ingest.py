"""The live ingest loop: MQTT messages → vendor adapters → floor-plan gateway ids → clock
correction → batches of canonical readings handed to a sink.

:class:`Ingestor` subscribes to ``(topic_filter, format)`` pairs (by default
:data:`gateway.adapters.DEFAULT_TOPIC_MAP`), optionally as a member of an MQTT shared
subscription group (``$share/<group>/<filter>``), and for every message:

1. rejects payloads over ``options.max_bytes`` at once (``too_large``), before any decoding;
2. parses with the matching adapter (pure; in a worker thread for payloads larger than
   ``thread_threshold_bytes`` so a big batch never stalls the event loop);
3. re-times the readings with :class:`gateway.timebase.ClockTracker` (the receipt time is
   always recorded: readings without a trusted device clock get it);
4. maps vendor gateway ids to floor-plan ids (:class:`gateway.gatewaymap.GatewayMap`);
5. updates :class:`gateway.health.GatewayHealth` and :class:`IngestStats`;
6. buffers the readings and calls ``await sink(readings)`` when ``batch_size`` readings are
   buffered or the oldest has waited ``batch_interval_s``.

Bad input never raises out of the loop: it is counted per (gateway, reason), logged at most
once per ``log_interval_s`` per (gateway, reason) with the topic, and optionally forwarded to a
dead-letter topic ``<dead_letter_prefix>/<reason>`` as JSON ``{"topic", "reason", "detail",
"received_at", "payload_len", "payload_b64", "payload_truncated"}``. A failing sink keeps its
batch (up to ``max_buffer`` readings, oldest dropped and counted beyond) and is retried.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import logging
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any

import aiomqtt
import numpy as np
import orjson

from gateway.adapters import ADAPTERS, DEFAULT_OPTIONS, DEFAULT_TOPIC_MAP, ParseOptions
from gateway.adapters.topics import topic_matches, validate_filter
from gateway.adapters.types import Adapter, ParseResult, PositionReport
from gateway.batteries import TagBatteries
from gateway.canonical import ReadingBatch
from gateway.errors import PayloadError, TopicFilterError
from gateway.gatewaymap import GatewayMap
from gateway.health import GatewayHealth
from gateway.mqtt import Backoff, MqttSettings, pending_messages, run_session
from gateway.timebase import ClockTracker

__all__ = ["IngestStats", "Ingestor", "Sink"]

_log = logging.getLogger("sporing.ingest")

#: ``async def sink(readings: ReadingBatch) -> None`` (columns, floor-plan gateway ids).
Sink = Callable[[ReadingBatch], Awaitable[None]]

#: Label of rejects whose gateway cannot be told, and of gateways beyond the label cap.
UNKNOWN = "unknown"
OTHER = "other"
_DEFAULT_BACKOFF = Backoff()


@dataclass(slots=True)
class IngestStats:
    """Counters of the ingest loop (the lead exposes them as Prometheus metrics).

    Attributes:
        messages: Messages by format (``unmatched`` when no topic filter matched).
        readings: Readings handed on, by (floor-plan gateway, format).
        rejects: Rejected messages or batch elements by (gateway, reason).
        max_gateway_labels: Distinct gateway labels kept; others are counted as ``other``
            (garbage ids must not blow up metrics cardinality).
    """

    messages: Counter[str] = field(default_factory=Counter)
    readings: Counter[tuple[str, str]] = field(default_factory=Counter)
    rejects: Counter[tuple[str, str]] = field(default_factory=Counter)
    bytes_in: int = 0
    statuses: int = 0
    positions: int = 0
    batches: int = 0
    sink_errors: int = 0
    dropped_readings: int = 0
    dead_letters: int = 0
    connections: int = 0
    max_gateway_labels: int = 2000
    _labels: set[str] = field(default_factory=set)

    def label(self, gateway: str | None) -> str:
        """The metrics label for a gateway id (capped cardinality)."""
        if gateway is None:
            return UNKNOWN
        if gateway in self._labels:
            return gateway
        if len(self._labels) >= self.max_gateway_labels:
            return OTHER
        self._labels.add(gateway)
        return gateway

    def reject_total(self, reason: str | None = None) -> int:
        """All rejects, or those of one reason."""
        return sum(n for (_g, r), n in self.rejects.items() if reason is None or r == reason)

    def as_dict(self) -> dict[str, Any]:
        """A JSON-friendly copy."""
        return {
            "messages": dict(self.messages), "readings": dict(self.readings),
            "rejects": {f"{g}|{r}": n for (g, r), n in self.rejects.items()},
            "bytes_in": self.bytes_in, "statuses": self.statuses, "positions": self.positions,
            "batches": self.batches, "sink_errors": self.sink_errors,
            "dropped_readings": self.dropped_readings, "dead_letters": self.dead_letters,
            "connections": self.connections,
        }


class _RateLimitedLog:
    def __init__(self, logger: logging.Logger, interval_s: float) -> None:
        self._logger = logger
        self._interval = interval_s
        self._last: dict[tuple[str, str], tuple[float, int]] = {}

    def warn(self, key: tuple[str, str], msg: str, *args: object) -> None:
        now = time.monotonic()
        last, suppressed = self._last.get(key, (-1e18, 0))
        if now - last < self._interval:
            self._last[key] = (last, suppressed + 1)
            return
        if len(self._last) > 10_000:
            self._last.clear()
        self._last[key] = (now, 0)
        extra = f" ({suppressed} similar suppressed)" if suppressed else ""
        self._logger.warning(msg + extra, *args)


class Ingestor:
    """Live MQTT ingestion (see the module docstring).

    Use as an async context manager (runs in a background task; on exit stops, processes
    what was already received, flushes and waits) or ``await run()`` and :meth:`stop`.
    :meth:`handle` feeds one message without a broker (replay of captures, tests).

    Args:
        settings: Broker connection.
        sink: Receives batches of canonical readings.
        topic_map: ``(topic_filter, format)`` pairs; the first match selects the adapter.
        adapters: Format name → adapter (default :data:`gateway.adapters.ADAPTERS`).
        gateway_map: Vendor → floor-plan gateway ids (default: identity).
        options: Adapter options (size limit, time policy).
        clock: Per-gateway clock tracker (a new one by default).
        retime: Re-time readings with ``clock`` (False for already canonical streams).
        health: Gateway health tracker (a new one by default).
        share_group: Subscribe as a member of this MQTT shared-subscription group.
        topic_prefix: A prefix before every vendor topic (a bridged or multi-site broker:
            ``site1`` for ``site1/espresense/...``): subscriptions get it, and it is removed
            before matching and parsing, so adapters see the vendor's own topic.
        batch_size: Flush when this many readings are buffered.
        batch_interval_s: Flush when the oldest buffered reading waited this long.
        max_buffer: Readings kept while the sink fails; older ones are dropped beyond.
        dead_letter: Forward rejected messages to ``<dead_letter_prefix>/<reason>``.
        dead_letter_prefix: Topic prefix of dead letters.
        dead_letter_max_bytes: Longest payload copied into a dead letter.
        thread_threshold_bytes: Payloads longer than this are parsed in a worker thread.
        backoff: Reconnect backoff.
        log_interval_s: At most one log line per (gateway, reason) per this interval.

    Raises:
        TopicFilterError: A malformed filter or a format with no adapter.
    """

    def __init__(
        self, settings: MqttSettings, sink: Sink, *,
        topic_map: Iterable[tuple[str, str]] = DEFAULT_TOPIC_MAP,
        adapters: Mapping[str, Adapter] = ADAPTERS,
        gateway_map: GatewayMap | None = None,
        options: ParseOptions = DEFAULT_OPTIONS,
        clock: ClockTracker | None = None,
        retime: bool = True,
        health: GatewayHealth | None = None,
        share_group: str | None = None,
        topic_prefix: str = "",
        batch_size: int = 500,
        batch_interval_s: float = 0.1,
        max_buffer: int = 200_000,
        dead_letter: bool = False,
        dead_letter_prefix: str = "sporing/deadletter",
        dead_letter_max_bytes: int = 262_144,
        thread_threshold_bytes: int = 65_536,
        backoff: Backoff = _DEFAULT_BACKOFF,
        log_interval_s: float = 10.0,
    ) -> None:
        self.settings = settings
        self._sink = sink
        self._adapters = dict(adapters)
        self._topic_map: list[tuple[str, str, Adapter]] = []
        for flt, fmt in topic_map:
            validate_filter(flt)
            if flt.startswith("$share/"):
                raise TopicFilterError(f"topic filter {flt!r}: use share_group instead of a "
                                       "$share/ prefix")
            adapter = self._adapters.get(fmt)
            if adapter is None:
                raise TopicFilterError(f"topic filter {flt!r}: unknown format {fmt!r} "
                                       f"(known: {', '.join(sorted(self._adapters))})")
            self._topic_map.append((flt, fmt, adapter))
        if not self._topic_map:
            raise TopicFilterError("the topic map is empty")
        if share_group is not None and (not share_group or any(c in share_group
                                                                for c in "/+#")):
            raise TopicFilterError(f"share group {share_group!r} must be one topic level "
                                   "without wildcards")
        if batch_size < 1 or batch_interval_s <= 0 or max_buffer < batch_size:
            raise ValueError("need batch_size >= 1, batch_interval_s > 0, "
                             "max_buffer >= batch_size")
        self.gateway_map = gateway_map or GatewayMap.identity()
        self.options = options
        self.clock = clock or ClockTracker()
        self.retime = retime
        self.health = health or GatewayHealth(self.gateway_map.known)
        self.share_group = share_group
        if topic_prefix and (topic_prefix.endswith("/") or any(c in topic_prefix
                                                               for c in "+#")):
            raise TopicFilterError(f"topic prefix {topic_prefix!r} must not end with '/' or "
                                   "contain wildcards")
        self.topic_prefix = topic_prefix
        self.batch_size = batch_size
        self.batch_interval_s = batch_interval_s
        self.max_buffer = max_buffer
        self.dead_letter = dead_letter
        self.dead_letter_prefix = dead_letter_prefix.rstrip("/")
        self.dead_letter_max_bytes = dead_letter_max_bytes
        self.thread_threshold_bytes = thread_threshold_bytes
        self.backoff = backoff
        self.stats = IngestStats()
        self.positions: list[PositionReport] = []
        self.batteries = TagBatteries()
        """Latest tag battery levels from the formats that carry them (alerting drains it)."""
        self.connected = asyncio.Event()
        self._rlog = _RateLimitedLog(_log, log_interval_s)
        self._match_cache: dict[str, tuple[str, Adapter] | None] = {}
        self._buffer: list[ReadingBatch] = []
        self._buffered = 0
        self._buffer_since = 0.0
        self._flush_lock = asyncio.Lock()
        self._stop = asyncio.Event()
        self._client: aiomqtt.Client | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self._runner: asyncio.Task[None] | None = None
        self._next: asyncio.Future[aiomqtt.Message] | None = None

    # ------------------------------------------------------------------ subscriptions
    @property
    def subscriptions(self) -> list[str]:
        """The filters subscribed to (with the ``$share/<group>/`` prefix when shared)."""
        pre = f"{self.topic_prefix}/" if self.topic_prefix else ""
        flts = dict.fromkeys(pre + flt for flt, _fmt, _a in self._topic_map)
        if self.share_group:
            return [f"$share/{self.share_group}/{f}" for f in flts]
        return list(flts)

    def _match(self, topic: str) -> tuple[str, Adapter] | None:
        hit = self._match_cache.get(topic, False)
        if hit is not False:
            return hit  # type: ignore[return-value]
        found = None
        for flt, fmt, adapter in self._topic_map:
            if topic_matches(flt, topic):
                found = (fmt, adapter)
                break
        if len(self._match_cache) >= 65_536:
            self._match_cache.clear()
        self._match_cache[topic] = found
        return found

    # ------------------------------------------------------------------ lifecycle
    async def run(self) -> None:
        """Connect, subscribe and ingest until :meth:`stop`; reconnects by itself."""
        self._stop.clear()
        flusher = asyncio.create_task(self._flush_periodically())
        try:
            await run_session(self.settings, self._session, stop=self._stop,
                              backoff=self.backoff, on_disconnect=self._after_connection)
        finally:
            flusher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await flusher
            if self._tasks:
                await asyncio.gather(*self._tasks, return_exceptions=True)
            await self.flush()

    def stop(self) -> None:
        """Ask :meth:`run` to disconnect, process what was received and return."""
        self._stop.set()

    async def __aenter__(self) -> Ingestor:
        if self._runner is not None:
            raise RuntimeError("the Ingestor is already running (not re-entrant)")
        self._runner = asyncio.create_task(self.run())
        return self

    async def __aexit__(self, exc_type: type[BaseException] | None,
                        exc: BaseException | None, tb: TracebackType | None) -> None:
        self.stop()
        runner, self._runner = self._runner, None
        if runner is not None:
            await runner

    async def wait_connected(self, timeout: float = 10.0) -> None:
        """Wait until subscribed (raises TimeoutError; re-raises a crashed run's error)."""
        waiter = asyncio.create_task(self.connected.wait())
        pending = {waiter} if self._runner is None else {waiter, self._runner}
        done, _ = await asyncio.wait(pending, timeout=timeout,
                                     return_when=asyncio.FIRST_COMPLETED)
        if waiter not in done:
            waiter.cancel()
            if self._runner is not None and self._runner in done:
                self._runner.result()
            raise TimeoutError(f"not connected to {self.settings.url} after {timeout} s")

    async def _session(self, client: aiomqtt.Client) -> None:
        self._client = client
        for flt in self.subscriptions:
            await client.subscribe(flt, qos=self.settings.qos)
        self.stats.connections += 1
        self.connected.set()
        _log.info("subscribed to %d filter(s) on %s as %s", len(self.subscriptions),
                  self.settings.url, self.settings.client_id)
        messages = aiter(client.messages)
        stop = asyncio.create_task(self._stop.wait())
        try:
            while True:
                nxt = asyncio.ensure_future(anext(messages))
                done, _ = await asyncio.wait({nxt, stop}, return_when=asyncio.FIRST_COMPLETED)
                if nxt not in done:
                    # Not cancelled: a message it already took from the queue would be lost.
                    # The graceful disconnect ends it; _after_connection collects it.
                    self._next = nxt
                    return
                msg = nxt.result()  # raises MqttError when the connection dropped
                await self._handle_message(msg)
        finally:
            stop.cancel()

    async def _after_connection(self, client: aiomqtt.Client) -> None:
        self.connected.clear()
        self._client = None
        nxt, self._next = self._next, None
        if nxt is not None:
            with contextlib.suppress(aiomqtt.MqttError):
                await self._handle_message(await nxt)
        for msg in pending_messages(client):  # acknowledged already: must not be lost
            await self._handle_message(msg)
        await self.flush()

    async def _handle_message(self, msg: aiomqtt.Message) -> None:
        payload = msg.payload
        if isinstance(payload, str):
            data = payload.encode()
        elif isinstance(payload, bytes | bytearray):
            data = bytes(payload)
        else:
            data = b"" if payload is None else str(payload).encode()
        topic = msg.topic.value
        if self.topic_prefix:
            if not topic.startswith(self.topic_prefix + "/"):
                self.stats.messages["unmatched"] += 1
                return
            topic = topic[len(self.topic_prefix) + 1:]
        await self.handle(topic, data)

    # ------------------------------------------------------------------ processing
    async def handle(self, topic: str, payload: bytes, received_at: float | None = None) -> int:
        """Process one message (without a broker too); returns the readings it yielded."""
        t = time.time() if received_at is None else received_at
        st = self.stats
        st.bytes_in += len(payload)
        if len(payload) > self.options.max_bytes:
            st.messages["too_large"] += 1
            self._reject(topic, payload, t, None, PayloadError(
                "too_large", f"{len(payload)} bytes > limit {self.options.max_bytes}"))
            return 0
        found = self._match(topic)
        if found is None:
            st.messages["unmatched"] += 1
            self._reject(topic, payload, t, None, PayloadError(
                "unsupported", "no topic filter matches"))
            return 0
        fmt, adapter = found
        st.messages[fmt] += 1
        try:
            if len(payload) > self.thread_threshold_bytes:
                result = await asyncio.to_thread(adapter, topic, payload, t,
                                                 options=self.options)
            else:
                result = adapter(topic, payload, t, options=self.options)
        except PayloadError as exc:
            self._reject(topic, payload, t, None, exc)
            return 0
        except Exception as exc:  # an adapter bug must not stop ingestion
            _log.exception("adapter %s failed on topic %s", fmt, topic[:200])
            self._reject(topic, payload, t, None, PayloadError(
                "bad_value", f"adapter {fmt} failed: {type(exc).__name__}: {exc}"),
                label_reason="adapter_error", forward=False)
            return 0
        return await self._accept(topic, payload, t, result, fmt)

    async def _accept(self, topic: str, payload: bytes, t: float, result: ParseResult,
                      fmt: str) -> int:
        st = self.stats
        gmap = self.gateway_map
        first_gw = result.gateways[0] if result.gateways else None
        for err in result.errors:
            gw = gmap.resolve(first_gw) if first_gw else None
            self._reject(topic, payload, t, gw or first_gw, err, forward=False)
        if self.retime and len(result.batch):
            result = self.clock.apply(result, t)
        if result.status is not None:
            st.statuses += 1
            sgw = gmap.resolve(result.status.gateway)
            if sgw is not None:
                self.health.observe_status(sgw, result.status)
        if result.batteries:
            self.batteries.observe(result.batteries)
        if result.positions:
            st.positions += len(result.positions)
            self.positions.extend(result.positions)
            del self.positions[:-10_000]
        batch, unknown = self._to_floor_plan(result.batch)
        for vendor in unknown:
            self._reject(topic, payload, t, vendor, PayloadError(
                "unknown_gateway", f"gateway {vendor!r} is not in the floor plan and has no "
                                   "alias"))
        # every floor-plan gateway of the message, with its readings (0 for a status only)
        counts = np.bincount(batch.gateway, minlength=len(batch.gateway_ids)).tolist()
        for gw, n in zip(batch.gateway_ids, counts, strict=True):
            st.readings[st.label(gw), fmt] += n
            self.health.observe(gw, t, n)
        n_out = len(batch)
        if n_out:
            if not self._buffer:
                self._buffer_since = time.monotonic()
            self._buffer.append(batch)
            self._buffered += n_out
            if self._buffered >= self.batch_size:
                await self.flush()
        return n_out

    def _to_floor_plan(self, batch: ReadingBatch) -> tuple[ReadingBatch, list[str]]:
        """The batch with floor-plan gateway ids (one lookup per distinct vendor id, not per
        reading), readings of unknown gateways dropped; and those unknown ids, sorted."""
        resolved = [self.gateway_map.resolve(g) for g in batch.gateway_ids]
        if all(r == g for r, g in zip(resolved, batch.gateway_ids, strict=True)):
            return batch, []
        index: dict[str, int] = {}
        code = np.array([-1 if r is None else index.setdefault(r, len(index))
                         for r in resolved], dtype=np.int32)
        present = np.bincount(batch.gateway, minlength=len(resolved))
        unknown = sorted(g for g, r, k in zip(batch.gateway_ids, resolved, present.tolist(),
                                              strict=True) if r is None and k)
        return batch.relabel_gateways(code, tuple(index)), unknown

    def _reject(self, topic: str, payload: bytes, t: float, gateway: str | None,
                err: PayloadError, *, label_reason: str | None = None,
                forward: bool = True) -> None:
        gw = gateway or self.gateway_map.guess_from_topic(topic)
        reason = label_reason or err.reason
        self.stats.rejects[(self.stats.label(gw), reason)] += 1
        if gw is not None:
            self.health.observe_reject(gw)
        self._rlog.warn((gw or UNKNOWN, reason), "rejected message on %s (gateway %s): %s",
                        topic[:200], gw or UNKNOWN, err)
        if forward and self.dead_letter and self._client is not None:
            self._forward(topic, payload, t, err)

    def _forward(self, topic: str, payload: bytes, t: float, err: PayloadError) -> None:
        if len(self._tasks) >= 100:
            return
        cut = payload[: self.dead_letter_max_bytes]
        doc = orjson.dumps({
            "topic": f"{self.topic_prefix}/{topic}" if self.topic_prefix else topic,
            "reason": err.reason, "detail": err.detail[:1000],
            "received_at": t, "payload_len": len(payload),
            "payload_b64": base64.b64encode(cut).decode("ascii"),
            "payload_truncated": len(cut) < len(payload),
        })
        client = self._client
        assert client is not None

        async def send() -> None:
            try:
                await client.publish(f"{self.dead_letter_prefix}/{err.reason}", doc, qos=1)
                self.stats.dead_letters += 1
            except aiomqtt.MqttError as exc:
                _log.debug("dead letter not sent: %s", exc)

        task = asyncio.create_task(send())
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def publish(self, topic: str, payload: bytes, qos: int = 1) -> None:
        """Publish on the current connection (used by sinks that republish, e.g. sharding).

        Raises:
            aiomqtt.MqttError: When not connected.
        """
        client = self._client
        if client is None:
            raise aiomqtt.MqttError("not connected")
        await client.publish(topic, payload, qos=qos)

    # ------------------------------------------------------------------ batching
    async def flush(self) -> None:
        """Hand the buffered readings to the sink now (kept for a retry if it fails)."""
        async with self._flush_lock:
            if not self._buffer:
                return
            batch = ReadingBatch.concat(self._buffer)
            self._buffer, self._buffered = [], 0
            try:
                await self._sink(batch)
                self.stats.batches += 1
            except Exception as exc:
                self.stats.sink_errors += 1
                self._rlog.warn(("sink", type(exc).__name__),
                                "sink failed with %d readings (kept for retry): %r",
                                len(batch), exc)
                keep = ReadingBatch.concat([batch, *self._buffer])
                over = len(keep) - self.max_buffer
                if over > 0:
                    self.stats.dropped_readings += over
                    keep = keep.take(slice(over, None))
                self._buffer, self._buffered = [keep], len(keep)
            if self._buffer:
                self._buffer_since = time.monotonic()

    async def _flush_periodically(self) -> None:
        tick = self.batch_interval_s / 2
        while True:
            await asyncio.sleep(tick)
            if self._buffer and time.monotonic() - self._buffer_since >= self.batch_interval_s:
                await self.flush()
