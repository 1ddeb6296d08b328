"""The write path: a bounded in-memory queue, a writer thread, and the on-disk spool.

``submit()`` puts a batch on a bounded queue (blocking up to ``submit_timeout`` for
backpressure). The writer thread writes batches to the store in submission order. When the
store is unavailable, the batch and every later one go to the :class:`~tracker.store.spool.Spool`
(so order is kept), and the thread retries with exponential backoff and full jitter until the
database answers, then drains the spool oldest first before taking new batches from the queue.
Writes are idempotent, so a batch re-sent after a crash or an ambiguous failure (the commit
reached the server but the acknowledgement did not) never duplicates rows.

A batch the store rejects for a reason other than availability (a data error) would block the
queue forever if retried; it is counted in ``errors``, logged, saved as JSON under
``<spool_dir>/rejected/`` for inspection, and skipped.
"""

from __future__ import annotations

import logging
import queue
import random
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import orjson

from tracker.records import WriteBatch
from tracker.store.base import Store, StoreError, StoreUnavailableError
from tracker.store.spool import Spool

__all__ = ["StoreWriter", "WriterStats"]

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class WriterStats:
    """Counters for metrics.

    Attributes:
        submitted: Batches accepted by :meth:`StoreWriter.submit`.
        rejected: Batches refused because the queue stayed full past the submit timeout.
        written_batches, written_rows: Batches/rows committed to the store.
        spooled_batches: Batches that went through the on-disk spool.
        spool_batches, spool_bytes: Current spool content.
        spool_dropped_batches, spool_dropped_rows: Lost to the spool's size bound.
        queue_depth: Batches waiting in memory.
        errors: Failed write attempts (unavailable or rejected).
        poison_batches: Batches skipped because the store rejected their data.
        write_lag_s: Age of the oldest batch not yet written (0 when idle).
        store_available: Whether the last write attempt succeeded.
    """

    submitted: int
    rejected: int
    written_batches: int
    written_rows: int
    spooled_batches: int
    spool_batches: int
    spool_bytes: int
    spool_dropped_batches: int
    spool_dropped_rows: int
    queue_depth: int
    errors: int
    poison_batches: int
    write_lag_s: float
    store_available: bool


class StoreWriter:
    """Writes batches to a store from a background thread, surviving outages.

    Args:
        store: Any :class:`~tracker.store.base.Store`.
        spool_dir: Directory of the on-disk spool.
        queue_size: Bound of the in-memory queue (batches).
        spool_max_bytes: Bound of the spool on disk (see :mod:`tracker.store.spool`).
        backoff_initial, backoff_max: Retry delays in seconds (exponential, full jitter).
        submit_timeout: How long :meth:`submit` blocks when the queue is full.

    Use as a context manager, or call :meth:`start` and :meth:`stop`.
    """

    def __init__(
        self,
        store: Store,
        spool_dir: str | Path,
        *,
        queue_size: int = 256,
        spool_max_bytes: int = 1 << 30,
        spool_segment_bytes: int | None = None,
        backoff_initial: float = 0.5,
        backoff_max: float = 10.0,
        submit_timeout: float = 5.0,
    ) -> None:
        self.store = store
        self.spool = Spool(spool_dir, max_bytes=spool_max_bytes,
                           segment_bytes=spool_segment_bytes)
        self._rejected_dir = Path(spool_dir) / "rejected"
        self._queue: queue.Queue[tuple[int, float, WriteBatch]] = queue.Queue(queue_size)
        self._backoff_initial = backoff_initial
        self._backoff_max = backoff_max
        self._submit_timeout = submit_timeout
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self._seq = 0
        self._submitted = self._rejected = self._written = self._rows = 0
        self._spooled = self._errors = self._poison = 0
        self._available = True
        self._oldest_pending: float | None = None
        self._failures = 0
        self._retry_at = 0.0

    # ------------------------------------------------------------------ lifecycle
    def start(self) -> StoreWriter:
        """Start the writer thread."""
        if self._thread is not None:
            raise RuntimeError("StoreWriter already started")
        self._thread = threading.Thread(target=self._run, name="sporing-store-writer",
                                        daemon=True)
        self._thread.start()
        return self

    def stop(self, timeout: float = 30.0) -> None:
        """Stop after writing what is queued; what cannot be written stays in the spool."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
            if self._thread.is_alive():
                log.error("store writer did not stop within %.0f s", timeout)
            self._thread = None

    def __enter__(self) -> StoreWriter:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # ------------------------------------------------------------------ producer side
    def submit(self, batch: WriteBatch) -> bool:
        """Queue a batch; returns False (and counts it) if the queue stayed full."""
        with self._lock:
            self._seq += 1
            seq = self._seq
        try:
            self._queue.put((seq, time.time(), batch), timeout=self._submit_timeout)
        except queue.Full:
            with self._lock:
                self._rejected += 1
            log.error("store writer queue full for %.1f s: batch of %d rows rejected",
                      self._submit_timeout, len(batch))
            return False
        with self._lock:
            self._submitted += 1
        return True

    def flush(self, timeout: float = 30.0) -> bool:
        """Wait until the queue and spool are empty; returns whether they are."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._queue.unfinished_tasks == 0 and len(self.spool) == 0:
                return True
            time.sleep(0.05)
        return False

    def stats(self) -> WriterStats:
        """A snapshot of the counters."""
        oldest = [t for t in (self._oldest_pending,) if t is not None]
        spooled = self.spool.peek(1)
        if spooled:
            oldest.append(spooled[0].submitted)
        with self._lock:
            return WriterStats(
                submitted=self._submitted, rejected=self._rejected,
                written_batches=self._written, written_rows=self._rows,
                spooled_batches=self._spooled, spool_batches=len(self.spool),
                spool_bytes=self.spool.bytes,
                spool_dropped_batches=self.spool.dropped_batches,
                spool_dropped_rows=self.spool.dropped_rows,
                queue_depth=self._queue.qsize(), errors=self._errors,
                poison_batches=self._poison,
                write_lag_s=max(0.0, time.time() - min(oldest)) if oldest else 0.0,
                store_available=self._available,
            )

    # ------------------------------------------------------------------ writer thread
    def _run(self) -> None:
        while True:
            self._drain_spool()
            try:
                seq, submitted, batch = self._queue.get(timeout=0.1)
            except queue.Empty:
                if self._stop.is_set():
                    return
                continue
            try:
                self._oldest_pending = submitted
                defer = len(self.spool) > 0 or time.monotonic() < self._retry_at
                if defer or self._try_write(batch, seq, submitted) is False:
                    self._to_spool(batch, seq, submitted)
            finally:
                self._oldest_pending = None
                self._queue.task_done()
            if self._stop.is_set() and self._queue.empty() and (
                not len(self.spool) or not self._available
            ):
                return

    def _to_spool(self, batch: WriteBatch, seq: int, submitted: float) -> None:
        self.spool.append(batch, seq=seq, submitted=submitted)
        with self._lock:
            self._spooled += 1

    def _drain_spool(self) -> None:
        while len(self.spool) and time.monotonic() >= self._retry_at:
            items = self.spool.peek(16)
            if not items:
                return
            for item in items:
                ok = self._try_write(item.batch, item.seq, item.submitted)
                if ok is False:
                    return
                self.spool.ack(item)

    def _try_write(self, batch: WriteBatch, seq: int, submitted: float) -> bool | None:
        """True when written, False when the store is unavailable, None for a poison batch."""
        try:
            self.store.write(batch)
        except StoreUnavailableError as exc:
            self._failures += 1
            delay = random.uniform(0, min(self._backoff_max,
                                          self._backoff_initial * 2 ** self._failures))
            self._retry_at = time.monotonic() + delay
            with self._lock:
                self._errors += 1
                was = self._available
                self._available = False
            if was:
                log.warning("store unavailable, spooling batches: %s", exc)
            return False
        except StoreError as exc:
            with self._lock:
                self._errors += 1
                self._poison += 1
            self._save_rejected(batch, seq, submitted, exc)
            return None
        self._failures = 0
        self._retry_at = 0.0
        with self._lock:
            if not self._available:
                log.warning("store available again")
            self._available = True
            self._written += 1
            self._rows += len(batch)
        return True

    def _save_rejected(self, batch: WriteBatch, seq: int, submitted: float, exc: Exception) -> None:
        self._rejected_dir.mkdir(parents=True, exist_ok=True)
        path = self._rejected_dir / f"{seq:012d}.json"
        path.write_bytes(orjson.dumps({"seq": seq, "t": submitted, "error": str(exc),
                                       "b": batch.to_json()}))
        log.error("store rejected batch %d (%d rows), saved to %s: %s", seq, len(batch), path,
                  exc)
