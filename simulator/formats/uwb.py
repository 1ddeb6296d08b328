"""UWB RTLS formats: Pozyx (``tags``) and DWM1001/PANS (``dwm/node/<id>/uplink/location``).

Both systems publish the *positions* their own engine computed, not ranges, so these encoders
publish one position per UWB tag heard in the step, from :attr:`EncodeContext.position` (the
simulated vendor engine: the true position plus the configured UWB error).
"""

from __future__ import annotations

import numpy as np
import orjson

from simulator.formats.base import EncodeContext, GatewayBatch, Message

__all__ = ["encode_dwm", "encode_pozyx", "node_id"]


def node_id(tag: str) -> str:
    """DWM1001 node id: the last 4 hex digits of the tag (as PANS does with the UWB address)."""
    return tag[-4:].lower()


def _positions(b: GatewayBatch, ctx: EncodeContext) -> tuple[np.ndarray, np.ndarray, np.ndarray,
                                                             np.ndarray, float]:
    tags = np.unique(b.tag)
    if ctx.position is None or tags.size == 0:
        e = np.zeros(0)
        return tags, e, e, e, 0.0
    ts = float(b.ts.max())
    x, y, z = ctx.position(tags.astype(np.int32), ts)
    return tags, x, y, z, ts


def encode_pozyx(b: GatewayBatch, ctx: EncodeContext) -> list[Message]:
    """Pozyx Enterprise: one array with one element per tag on ``tags`` (millimetres)."""
    tags, x, y, z, ts = _positions(b, ctx)
    items = []
    for k, t in enumerate(tags):
        items.append({
            "version": "1", "alive": True, "tagId": ctx.tag_ids[int(t)], "success": True,
            "timestamp": round(ts, 3),
            "data": {"tagData": {}, "anchorData": [],
                     "coordinates": {"x": round(float(x[k]) * 1000), "y": round(float(y[k]) * 1000),
                                     "z": round(float(z[k]) * 1000)},
                     "orientation": {"yaw": 0.0, "roll": 0.0, "pitch": 0.0},
                     "metrics": {"latency": 35.0, "rates": {"update": 1.0, "success": 1.0}}},
        })
    return [Message(ctx.topic("tags"), orjson.dumps(items))] if items else []


def encode_dwm(b: GatewayBatch, ctx: EncodeContext) -> list[Message]:
    """DWM1001 / LEAPS PANS MQTT: one location per tag on ``dwm/node/<id>/uplink/location``."""
    tags, x, y, z, _ = _positions(b, ctx)
    msgs = []
    for k, t in enumerate(tags):
        key = f"dwm:{int(t)}"
        frame = ctx.counters.get(key, 0) + 1
        ctx.counters[key] = frame
        payload = {"position": {"x": round(float(x[k]), 6), "y": round(float(y[k]), 6),
                                "z": round(float(z[k]), 6), "quality": 80},
                   "superFrameNumber": frame}
        msgs.append(Message(ctx.topic(f"dwm/node/{node_id(ctx.tag_ids[int(t)])}/uplink/location"),
                            orjson.dumps(payload)))
    return msgs
