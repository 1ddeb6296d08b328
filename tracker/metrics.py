"""Prometheus metrics of the service, read from the live components at scrape time.

Counters kept by the components themselves (:class:`gateway.ingest.IngestStats`,
:class:`tracker.pipeline.PipelineStats`, :class:`positioning.engine.EngineStats`,
:class:`tracker.store.writer.WriterStats`) are exported by one custom collector, so the hot
paths never touch a metrics library; only the fix-latency histogram is observed directly.

Exported (all prefixed ``sporing_``):

=========================================  =========  =======================================
name                                        type       meaning
=========================================  =========  =======================================
ingest_messages_total{format}               counter    MQTT messages by vendor format
ingest_readings_total{gateway,format}       counter    readings handed on, by gateway and format
ingest_rejects_total{gateway,reason}        counter    rejected messages/elements
ingest_bytes_total                          counter    payload bytes received
ingest_dropped_readings_total               counter    readings lost to a failing sink
mqtt_connected                              gauge      1 while subscribed to the broker
mqtt_connections_total                      counter    successful (re)connections
pipeline_readings_total                     counter    readings accepted by the pipeline
pipeline_dropped_readings_total             counter    readings refused (non-blocking offer)
pipeline_expired_readings_total             counter    readings too old for their tick
pipeline_pending_readings                   gauge      readings waiting for the next tick
pipeline_put_waits_total                    counter    producer waits (back-pressure)
pipeline_ticks_total / _skipped_total       counter    ticks run / grid slots skipped
pipeline_tick_lag_seconds                   gauge      start delay of the last tick
pipeline_tick_duration_seconds              gauge      duration of the last tick
engine_fixes_total                          counter    fixes computed
engine_unknown_gateway_total                counter    readings of gateways not in the plan
engine_late_readings_total                  counter    readings older than the window
store_fixes_total / store_stays_total       counter    fixes/stay updates submitted
store_written_rows_total                    counter    rows committed
store_write_errors_total                    counter    failed write attempts
store_queue_depth                           gauge      batches waiting in memory
store_write_lag_seconds                     gauge      age of the oldest unwritten batch
store_available                             gauge      1 when the last write succeeded
spool_bytes / spool_batches                 gauge      outage spool on disk
spool_dropped_rows_total                    counter    rows lost to the spool bound
gateways{state}                             gauge      gateways online/offline/never seen
fix_latency_seconds                         histogram  reading received → fix stored
=========================================  =========  =======================================
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

from prometheus_client import CollectorRegistry, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric

__all__ = ["CONTENT_TYPE", "Metrics"]

#: Content type of the Prometheus text format.
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"

_LATENCY_BUCKETS = (0.25, 0.5, 0.75, 1.0, 1.5, 2.0, 3.0, 5.0, 10.0, 30.0, 60.0, 300.0)


class _Collector:
    def __init__(self, source: Callable[[], Any]) -> None:
        self._source = source

    def describe(self) -> list[Metric]:
        return []

    def collect(self) -> Iterator[Metric]:
        state = self._source()
        ingestor = getattr(state, "ingestor", None)
        pipeline = getattr(state, "pipeline", None)
        writer = getattr(state, "writer", None)
        if ingestor is not None:
            yield from _ingest_metrics(ingestor)
        if pipeline is not None:
            yield from _pipeline_metrics(pipeline)
        if writer is not None:
            yield from _writer_metrics(writer.stats())
        health = getattr(state, "health", None)
        if health is not None:
            g = GaugeMetricFamily("sporing_gateways", "Gateways by health state",
                                  labels=["state"])
            counts = {"online": 0, "offline": 0, "never_seen": 0}
            for row in health.snapshot():
                counts[row.state] = counts.get(row.state, 0) + 1
            for k, v in counts.items():
                g.add_metric([k], v)
            yield g


def _counter(name: str, doc: str, value: float) -> CounterMetricFamily:
    return CounterMetricFamily(name, doc, value=value)


def _gauge(name: str, doc: str, value: float) -> GaugeMetricFamily:
    return GaugeMetricFamily(name, doc, value=value)


def _ingest_metrics(ing: Any) -> Iterator[Metric]:
    st = ing.stats
    m = CounterMetricFamily("sporing_ingest_messages", "MQTT messages by format",
                            labels=["format"])
    for fmt, n in sorted(st.messages.items()):
        m.add_metric([fmt], n)
    yield m
    r = CounterMetricFamily("sporing_ingest_readings",
                            "Readings handed on, by gateway and format",
                            labels=["gateway", "format"])
    for (gw, fmt), n in sorted(st.readings.items()):
        r.add_metric([gw, fmt], n)
    yield r
    rej = CounterMetricFamily("sporing_ingest_rejects", "Rejected messages or elements",
                              labels=["gateway", "reason"])
    for (gw, reason), n in sorted(st.rejects.items()):
        rej.add_metric([gw, reason], n)
    yield rej
    yield _counter("sporing_ingest_bytes", "Payload bytes received", st.bytes_in)
    yield _counter("sporing_ingest_dropped_readings", "Readings lost to a failing sink",
                   st.dropped_readings)
    yield _counter("sporing_ingest_sink_errors", "Failed sink calls", st.sink_errors)
    yield _counter("sporing_mqtt_connections", "Successful broker (re)connections",
                   st.connections)
    yield _gauge("sporing_mqtt_connected", "1 while subscribed to the broker",
                 1.0 if ing.connected.is_set() else 0.0)


def _pipeline_metrics(p: Any) -> Iterator[Metric]:
    st = p.stats
    es = p.engine.stats
    yield _counter("sporing_pipeline_readings", "Readings accepted by the pipeline",
                   st.readings_in)
    yield _counter("sporing_pipeline_dropped_readings", "Readings refused (queue full)",
                   st.readings_dropped)
    yield _counter("sporing_pipeline_expired_readings", "Readings too old for their tick",
                   st.readings_expired)
    yield _gauge("sporing_pipeline_pending_readings", "Readings waiting for the next tick",
                 st.pending_readings)
    yield _counter("sporing_pipeline_put_waits", "Producer waits (back-pressure)",
                   st.put_waits)
    yield _counter("sporing_pipeline_ticks", "Ticks run", st.ticks)
    yield _counter("sporing_pipeline_ticks_skipped", "Grid slots skipped under overload",
                   st.ticks_skipped)
    yield _gauge("sporing_pipeline_tick_lag_seconds", "Start delay of the last tick",
                 st.tick_lag_s)
    yield _gauge("sporing_pipeline_tick_duration_seconds", "Duration of the last tick",
                 st.tick_duration_s)
    yield _counter("sporing_engine_fixes", "Fixes computed", es.fixes)
    yield _counter("sporing_engine_unknown_gateway", "Readings of gateways not in the plan",
                   es.unknown_gateway)
    yield _counter("sporing_engine_late_readings", "Readings older than the window",
                   es.late)
    yield _counter("sporing_store_fixes", "Fixes submitted for storage", st.fixes_stored)
    yield _counter("sporing_store_stays", "Stay updates submitted", st.stays)
    yield _counter("sporing_store_rejected_batches", "Batches the writer refused",
                   st.write_rejected)


def _writer_metrics(ws: Any) -> Iterator[Metric]:
    yield _counter("sporing_store_written_rows", "Rows committed", ws.written_rows)
    yield _counter("sporing_store_write_errors", "Failed write attempts", ws.errors)
    yield _gauge("sporing_store_queue_depth", "Batches waiting in memory", ws.queue_depth)
    yield _gauge("sporing_store_write_lag_seconds", "Age of the oldest unwritten batch",
                 ws.write_lag_s)
    yield _gauge("sporing_store_available", "1 when the last write succeeded",
                 1.0 if ws.store_available else 0.0)
    yield _gauge("sporing_spool_bytes", "Outage spool size on disk", ws.spool_bytes)
    yield _gauge("sporing_spool_batches", "Batches in the outage spool", ws.spool_batches)
    yield _counter("sporing_spool_dropped_rows", "Rows lost to the spool bound",
                   ws.spool_dropped_rows)


class Metrics:
    """The registry of one service.

    Args:
        source: Returns the object holding the live components (attributes ``ingestor``,
            ``pipeline``, ``writer``, ``health``; any may be None).
    """

    def __init__(self, source: Callable[[], Any]) -> None:
        self.registry = CollectorRegistry()
        self.registry.register(_Collector(source))
        self.fix_latency = Histogram(
            "sporing_fix_latency_seconds", "Reading received to its fix stored",
            buckets=_LATENCY_BUCKETS, registry=self.registry)

    def observe_latency(self, seconds: float) -> None:
        """Record one reading-to-stored-fix latency."""
        self.fix_latency.observe(max(seconds, 0.0))

    def render(self) -> bytes:
        """The Prometheus text exposition."""
        return bytes(generate_latest(self.registry))
