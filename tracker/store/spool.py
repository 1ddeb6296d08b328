"""A bounded, crash-safe on-disk spool of write batches, used while the database is down.

Layout: a directory of append-only segment files ``NNNNNNNNNNNN.seg``. Each record is
``<u32 length><u32 crc32><orjson payload>``; the payload holds the batch, its sequence number
and the time it was first submitted. Every append is flushed and ``fsync``'d before returning,
so an acknowledged batch survives a crash. A segment is deleted once every batch in it has
been written to the database; replay after a restart re-sends the head segment from its start,
which is harmless because every store write is idempotent.

Bound and overflow policy: the spool never exceeds ``max_bytes`` on disk. When an append would
exceed it, whole segments are dropped **oldest first** (never the one being read or written
if avoidable) until the new batch fits: during a long outage the most recent positions are the
valuable ones (where things are now), and old fixes that would have been thinned to heartbeats
anyway matter least. Every drop is logged at ERROR with the number of batches and rows lost, and
counted in :attr:`Spool.dropped_batches` / :attr:`Spool.dropped_rows`.

A torn record at the end of a segment (crash mid-append) is detected by its length/CRC, logged,
and skipped.
"""

from __future__ import annotations

import logging
import os
import struct
import threading
import zlib
from dataclasses import dataclass
from pathlib import Path

import orjson

from tracker.records import RecordError, WriteBatch

__all__ = ["Spool", "SpooledBatch"]

log = logging.getLogger(__name__)
_HEADER = struct.Struct("<II")


@dataclass(frozen=True, slots=True)
class SpooledBatch:
    """A batch read back from the spool."""

    seq: int
    submitted: float
    batch: WriteBatch
    segment: int
    end_offset: int


class Spool:
    """Bounded FIFO of batches on disk. Thread-safe.

    Args:
        directory: Where segments live (created if missing).
        max_bytes: Upper bound of the spool's size on disk.
        segment_bytes: A segment is closed and a new one started past this size (default
            ``min(8 MiB, max_bytes / 8)``, so dropping one segment frees at most 1/8).
    """

    def __init__(
        self,
        directory: str | Path,
        *,
        max_bytes: int = 1 << 30,
        segment_bytes: int | None = None,
    ) -> None:
        if segment_bytes is None:
            segment_bytes = max(1, min(8 << 20, max_bytes // 8))
        if segment_bytes <= 0 or max_bytes < segment_bytes:
            raise ValueError(
                f"need 0 < segment_bytes <= max_bytes, got {segment_bytes=} {max_bytes=}"
            )
        self.directory = Path(directory)
        self.directory.mkdir(parents=True, exist_ok=True)
        self.max_bytes = max_bytes
        self.segment_bytes = segment_bytes
        self.dropped_batches = 0
        self.dropped_rows = 0
        self.corrupt_records = 0
        self._lock = threading.Lock()
        self._sizes: dict[int, int] = {}
        for p in sorted(self.directory.glob("*.seg")):
            try:
                self._sizes[int(p.stem)] = p.stat().st_size
            except ValueError:
                log.warning("spool: ignoring unexpected file %s", p)
        self._read_seg = min(self._sizes, default=1)
        self._read_off = 0
        self._write_seg = max(self._sizes, default=1)
        self._count = sum(self._count_records(s) for s in self._sizes)

    # ------------------------------------------------------------------ state
    @property
    def bytes(self) -> int:
        """Bytes on disk."""
        with self._lock:
            return sum(self._sizes.values())

    def __len__(self) -> int:
        """Batches waiting (approximate after a crash: torn records count until read)."""
        with self._lock:
            return self._count

    def _path(self, seg: int) -> Path:
        return self.directory / f"{seg:012d}.seg"

    def _count_records(self, seg: int) -> int:
        n, data = 0, self._path(seg).read_bytes()
        off = 0
        while off + _HEADER.size <= len(data):
            length, _ = _HEADER.unpack_from(data, off)
            off += _HEADER.size + length
            if off > len(data):
                break
            n += 1
        return n

    # ------------------------------------------------------------------ write side
    def append(self, batch: WriteBatch, *, seq: int, submitted: float) -> None:
        """Append a batch durably (fsync'd), dropping oldest segments if over the bound."""
        payload = orjson.dumps({"seq": seq, "t": submitted, "b": batch.to_json()})
        record = _HEADER.pack(len(payload), zlib.crc32(payload)) + payload
        if len(record) > self.max_bytes:
            raise ValueError(f"batch of {len(record)} bytes exceeds the spool bound")
        with self._lock:
            self._make_room(len(record))
            if self._sizes.get(self._write_seg, 0) + len(record) > self.segment_bytes and (
                self._sizes.get(self._write_seg, 0) > 0
            ):
                self._write_seg += 1
            path = self._path(self._write_seg)
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
            try:
                os.write(fd, record)
                os.fsync(fd)
            finally:
                os.close(fd)
            if self._write_seg not in self._sizes:
                self._fsync_dir()
            self._sizes[self._write_seg] = self._sizes.get(self._write_seg, 0) + len(record)
            self._count += 1

    def _make_room(self, need: int) -> None:
        while sum(self._sizes.values()) + need > self.max_bytes and self._sizes:
            oldest = min(self._sizes)
            batches, rows = self._drop_stats(oldest)
            self._path(oldest).unlink(missing_ok=True)
            del self._sizes[oldest]
            self._count -= batches
            self.dropped_batches += batches
            self.dropped_rows += rows
            log.error(
                "SPOOL FULL (%d bytes bound): dropped oldest segment %d with %d batches / %d"
                " rows; %d batches / %d rows dropped in total", self.max_bytes, oldest,
                batches, rows, self.dropped_batches, self.dropped_rows,
            )
            if oldest == self._read_seg:
                self._read_seg, self._read_off = min(self._sizes, default=self._write_seg), 0
            if oldest == self._write_seg:
                self._write_seg += 1

    def _drop_stats(self, seg: int) -> tuple[int, int]:
        start = self._read_off if seg == self._read_seg else 0
        batches = rows = 0
        for item in self._iter_segment(seg, start):
            batches += 1
            rows += len(item.batch)
        return batches, rows

    def _fsync_dir(self) -> None:
        try:
            fd = os.open(self.directory, os.O_RDONLY)
        except OSError:
            return
        try:
            os.fsync(fd)
        finally:
            os.close(fd)

    # ------------------------------------------------------------------ read side
    def _iter_segment(self, seg: int, offset: int) -> list[SpooledBatch]:
        try:
            data = self._path(seg).read_bytes()
        except FileNotFoundError:
            return []
        out: list[SpooledBatch] = []
        off = offset
        while off < len(data):
            if off + _HEADER.size > len(data):
                self._corrupt(seg, off, "truncated header")
                break
            length, crc = _HEADER.unpack_from(data, off)
            body = data[off + _HEADER.size: off + _HEADER.size + length]
            if len(body) != length or zlib.crc32(body) != crc:
                self._corrupt(seg, off, "truncated or corrupt record")
                break
            off += _HEADER.size + length
            try:
                obj = orjson.loads(body)
                out.append(SpooledBatch(int(obj["seq"]), float(obj["t"]),
                                        WriteBatch.from_json(obj["b"]), seg, off))
            except (orjson.JSONDecodeError, KeyError, TypeError, ValueError, RecordError) as e:
                self._corrupt(seg, off, f"undecodable record ({e})")
        return out

    def _corrupt(self, seg: int, off: int, what: str) -> None:
        self.corrupt_records += 1
        log.error("spool segment %s offset %d: %s; skipped", self._path(seg), off, what)

    def peek(self, limit: int = 16) -> list[SpooledBatch]:
        """Up to ``limit`` oldest batches, without removing them."""
        with self._lock:
            out: list[SpooledBatch] = []
            seg, off = self._read_seg, self._read_off
            for s in sorted(k for k in self._sizes if k >= seg):
                out.extend(self._iter_segment(s, off if s == seg else 0))
                if len(out) >= limit:
                    break
            return out[:limit]

    def ack(self, item: SpooledBatch) -> None:
        """Mark ``item`` (and everything before it) as written; deletes finished segments."""
        with self._lock:
            for s in sorted(k for k in self._sizes if k < item.segment):
                self._path(s).unlink(missing_ok=True)
                del self._sizes[s]
            self._read_seg, self._read_off = item.segment, item.end_offset
            self._count = max(0, self._count - 1)
            if item.end_offset >= self._sizes.get(item.segment, 0):
                # Segment fully consumed: delete it, and start a fresh one if it was the tail.
                self._path(item.segment).unlink(missing_ok=True)
                self._sizes.pop(item.segment, None)
                if item.segment == self._write_seg:
                    self._write_seg += 1
                self._read_seg = min(self._sizes, default=self._write_seg)
                self._read_off = 0
