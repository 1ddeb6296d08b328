"""Tag commissioning (biomedical engineering): pair a tag with an asset, unpair it.

Pairing history is kept: pairing closes the tag's previous pairing, unpairing closes the open
one; neither deletes anything. Both are written to the audit log.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from typing import Annotated

from fastapi import APIRouter, Path, status

from tracker.api.deps import StateDep, StoreDep
from tracker.api.errors import NotFoundError
from tracker.api.lookup_schemas import PairingOut, PairTagIn, TagPairedOut
from tracker.api.security import BiomedDep
from tracker.api.snapshots import invalidate_registry
from tracker.api.validation import invalid
from tracker.auth import audit
from tracker.lookup import canonical_tag
from tracker.store.base import Pairing

__all__ = ["router"]

router = APIRouter(prefix="/api/v1", tags=["tags"])


def _open_pairing(history: Sequence[Pairing]) -> Pairing | None:
    """The open pairing in a tag's history (ordered by ``since``), if any."""
    return next((p for p in reversed(history) if p.until is None), None)


def _as_closed(history: Sequence[Pairing], before: Pairing) -> Pairing:
    """``before`` as the tag's history has it now (closed), or ``before`` itself."""
    return next((p for p in reversed(history) if p.since == before.since), before)


def _tag(text: str, where: str, name: str) -> str:
    try:
        return canonical_tag(text)
    except ValueError as exc:
        raise invalid(where, name, str(exc), text) from None


@router.post("/assets/{asset_id}/tags", response_model=TagPairedOut,
             status_code=status.HTTP_201_CREATED, summary="Pair a tag with an asset")
async def pair_tag(
    principal: BiomedDep,
    state: StateDep,
    store: StoreDep,
    asset_id: Annotated[str, Path(min_length=1, max_length=200)],
    body: PairTagIn,
) -> TagPairedOut:
    """Pair the tag with the asset from now, closing the tag's previous pairing (with this or
    another asset). The tag is normalised (a MAC to 12 lowercase hex digits). 404 for an
    unknown asset, 422 for a tag id that is not a MAC, iBeacon or Eddystone id."""
    tag = _tag(body.tag, "body", "tag")

    def run() -> tuple[Pairing | None, Pairing | None]:
        """``(the open pairing now, the other asset's pairing it closed)``."""
        if store.get_asset(asset_id) is None:
            raise NotFoundError(f"no asset {asset_id!r}")
        before = _open_pairing(store.pairings(tag=tag))
        if before is not None and before.asset == asset_id:
            return before, None
        store.pair_tag(asset_id, tag, time.time())
        history = store.pairings(tag=tag)
        return _open_pairing(history), None if before is None else _as_closed(history, before)

    now_open, closed = await asyncio.to_thread(run)
    invalidate_registry(state)
    assert now_open is not None, "pair_tag leaves an open pairing"
    replaced = None if closed is None else PairingOut.of(closed)
    await audit(state, principal, "tag.pair", f"asset:{asset_id}",
                {"tag": tag, "replaced_asset": None if replaced is None else replaced.asset})
    return TagPairedOut(pairing=PairingOut.of(now_open), replaced=replaced)


@router.delete("/tags/{tag}/pairing", response_model=PairingOut, summary="Unpair a tag")
async def unpair_tag(
    principal: BiomedDep,
    state: StateDep,
    store: StoreDep,
    tag: Annotated[str, Path(min_length=1, max_length=200)],
) -> PairingOut:
    """Close the tag's open pairing now (the history is kept); returns the closed pairing.
    404 when the tag is not paired, 422 for a tag id that is not a MAC, iBeacon or Eddystone
    id."""
    canonical = _tag(tag, "path", "tag")

    def run() -> Pairing:
        before = _open_pairing(store.pairings(tag=canonical))
        if before is None:
            raise NotFoundError(f"tag {canonical!r} is not paired with an asset")
        store.unpair_tag(canonical, time.time())
        return _as_closed(store.pairings(tag=canonical), before)

    closed = await asyncio.to_thread(run)
    invalidate_registry(state)
    await audit(state, principal, "tag.unpair", f"asset:{closed.asset}", {"tag": canonical})
    return PairingOut.of(closed)
