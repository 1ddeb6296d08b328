"""Scale-out on the broker: stateless parser workers and tag-sharded positioning workers.

A tag is heard by several gateways, each publishing on its own topic; the positioning engine
needs *all* of a tag's readings in one process. An MQTT shared subscription alone spreads
messages (so gateways) across workers, not tags. Hence two stages:

* **parser workers** (any number, stateless) share one subscription
  (``$share/<group>/<filter>``), parse vendor payloads like :class:`gateway.ingest.Ingestor`
  does, and republish canonical readings grouped by shard to ``<prefix>/<k>`` with
  ``k = stable_hash(tag) % n_shards`` (JSON arrays of canonical readings, QoS 1);
* **positioning workers** each subscribe to the shard topics they own (``<prefix>/<k>`` for
  ``k`` in their set, e.g. :func:`assign_shards`), so every tag's readings reach exactly one
  worker.

The hash is BLAKE2b (8 bytes) of the tag id, stable across processes and Python versions
(never the salted built-in ``hash()``). The default prefix is ``sporing/shards``: the canonical
*input* namespace ``sporing/readings/#`` (simulator, canonical gateways) must not overlap the
output, or parser workers would consume their own output; :func:`parser_worker` refuses such a
configuration.
"""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import replace
from typing import Any

import numpy as np
import orjson

from gateway.adapters import DEFAULT_OPTIONS, DEFAULT_TOPIC_MAP, ParseOptions, ParseResult
from gateway.adapters.canonical import parse as parse_canonical
from gateway.adapters.topics import topic_matches
from gateway.canonical import ReadingBatch
from gateway.errors import GatewayError
from gateway.ingest import Ingestor, Sink
from gateway.mqtt import MqttSettings
from gateway.timebase import TimePolicy

__all__ = [
    "SHARD_FORMAT",
    "SHARD_PREFIX",
    "ShardPublisher",
    "ShardingError",
    "assign_shards",
    "encode_batch",
    "parse_shard_payload",
    "parser_worker",
    "positioning_worker",
    "shard_of",
    "shard_topic",
    "stable_hash",
]

#: Default topic prefix of the sharded canonical stream.
SHARD_PREFIX = "sporing/shards"
#: Format name of the shard stream in a positioning worker's topic map.
SHARD_FORMAT = "sporing-shard"


class ShardingError(GatewayError, ValueError):
    """The sharding configuration is inconsistent (the message says how)."""


def stable_hash(tag: str) -> int:
    """A 64-bit hash of a tag id that is the same in every process and Python version."""
    return int.from_bytes(hashlib.blake2b(tag.encode("utf-8"), digest_size=8).digest(), "big")


def shard_of(tag: str, n_shards: int) -> int:
    """The shard (``0 <= k < n_shards``) of a tag."""
    if n_shards < 1:
        raise ShardingError(f"n_shards must be >= 1, got {n_shards}")
    return stable_hash(tag) % n_shards


def shard_topic(k: int, prefix: str = SHARD_PREFIX) -> str:
    """The topic of shard ``k``."""
    return f"{prefix.rstrip('/')}/{k}"


def assign_shards(worker: int, n_workers: int, n_shards: int) -> list[int]:
    """The shards worker ``worker`` of ``n_workers`` owns (round robin: ``k % n_workers``)."""
    if not 0 <= worker < n_workers:
        raise ShardingError(f"worker {worker} is not in [0, {n_workers})")
    if n_shards < n_workers:
        raise ShardingError(f"{n_shards} shards cannot feed {n_workers} workers")
    return [k for k in range(n_shards) if k % n_workers == worker]


def encode_batch(readings: ReadingBatch) -> bytes:
    """A JSON array of canonical readings, each as :func:`gateway.canonical.reading_to_json`
    writes it (``ts`` to the millisecond, ``range_m`` to 0.1 mm)."""
    b = readings
    gws = [b.gateway_ids[k] for k in b.gateway.tolist()]
    tags = [b.tag_ids[k] for k in b.tag.tolist()]
    docs: list[dict[str, Any]] = []
    for ts, gw, tag, rssi, rng, txp in zip(np.round(b.ts, 3).tolist(), gws, tags,
                                           b.rssi.tolist(), np.round(b.range_m, 4).tolist(),
                                           b.tx_power.tolist(), strict=True):
        d: dict[str, Any] = {"ts": ts, "gateway": gw, "tag": tag}
        if rssi == rssi:
            d["rssi"] = rssi
        if rng == rng:
            d["range_m"] = rng
        if txp == txp:
            d["tx_power"] = txp
        docs.append(d)
    return orjson.dumps(docs)


_SHARD_OPTIONS = ParseOptions(time_policy=TimePolicy(mode="device"))


def parse_shard_payload(topic: str, payload: bytes, received_at: float, *,
                        options: ParseOptions = DEFAULT_OPTIONS) -> ParseResult:
    """Adapter (same signature as the vendor adapters) for the shard stream: canonical
    readings whose ``ts`` is kept as is (the parser worker already chose and corrected it);
    only ``options.max_bytes`` is taken from ``options``."""
    return parse_canonical(topic, payload, received_at,
                           options=replace(_SHARD_OPTIONS, max_bytes=options.max_bytes))


Publish = Callable[[str, bytes, int], Awaitable[None]]


class ShardPublisher:
    """A sink that groups readings by shard and publishes them (QoS 1), ``max_per_message``
    readings per message at most. Bind it to a publishing function before use."""

    def __init__(self, n_shards: int, *, prefix: str = SHARD_PREFIX, qos: int = 1,
                 max_per_message: int = 500) -> None:
        if n_shards < 1:
            raise ShardingError(f"n_shards must be >= 1, got {n_shards}")
        self.n_shards = n_shards
        self.prefix = prefix.rstrip("/")
        self.qos = qos
        self.max_per_message = max_per_message
        self.published = 0
        self._publish: Publish | None = None
        self._shards: dict[str, int] = {}

    def bind(self, publish: Publish) -> None:
        """Set the function that publishes ``(topic, payload, qos)``."""
        self._publish = publish

    async def __call__(self, readings: ReadingBatch) -> None:
        """Publish ``readings`` to their shards (raises if publishing fails, so the
        Ingestor keeps the batch and retries)."""
        if self._publish is None:
            raise ShardingError("ShardPublisher is not bound to a publisher")
        cache = self._shards
        if len(cache) > 1_000_000:  # garbage tag ids must not grow it without bound
            cache.clear()
        n = self.n_shards
        ids = readings.tag_ids
        present, inv = np.unique(readings.tag, return_inverse=True)  # only tags with readings
        of_tag = np.array([cache[t] if t in cache else cache.setdefault(t, shard_of(t, n))
                           for t in (ids[k] for k in present.tolist())], dtype=np.int64)
        shard = of_tag[inv] if of_tag.size else np.zeros(0, np.int64)
        calls = []
        for k in np.unique(shard).tolist():
            rows = np.flatnonzero(shard == k)
            topic = shard_topic(k, self.prefix)
            for i in range(0, rows.size, self.max_per_message):
                part = readings.take(rows[i:i + self.max_per_message])
                calls.append(self._publish(topic, encode_batch(part), self.qos))
        await asyncio.gather(*calls)
        self.published += len(readings)


def parser_worker(settings: MqttSettings, n_shards: int, *,
                  topic_map: Iterable[tuple[str, str]] = DEFAULT_TOPIC_MAP,
                  group: str = "sporing", prefix: str = SHARD_PREFIX,
                  **ingestor_kw: Any) -> Ingestor:
    """A stateless parser worker: an :class:`Ingestor` on the shared subscription
    ``$share/<group>/<filter>`` whose sink republishes to the shard topics.

    Raises:
        ShardingError: An input filter would match the worker's own output topics.
    """
    tmap = list(topic_map)
    probe = shard_topic(0, prefix)
    clash = [flt for flt, _fmt in tmap if topic_matches(flt, probe)]
    if clash:
        raise ShardingError(f"input filter(s) {clash} match the shard output {probe!r}: "
                            "choose another prefix or remove the filter")
    pub = ShardPublisher(n_shards, prefix=prefix, qos=settings.qos)
    worker = Ingestor(settings, pub, topic_map=tmap, share_group=group, **ingestor_kw)
    pub.bind(worker.publish)
    return worker


def positioning_worker(settings: MqttSettings, shards: Iterable[int], sink: Sink, *,
                       prefix: str = SHARD_PREFIX, **ingestor_kw: Any) -> Ingestor:
    """A positioning worker's feed: an :class:`Ingestor` subscribed to its own shards that
    hands the (already canonical, already timed) readings to ``sink``."""
    ks = sorted(set(shards))
    if not ks:
        raise ShardingError("a positioning worker needs at least one shard")
    tmap = [(shard_topic(k, prefix), SHARD_FORMAT) for k in ks]
    return Ingestor(settings, sink, topic_map=tmap,
                    adapters={SHARD_FORMAT: parse_shard_payload}, retime=False,
                    **ingestor_kw)
