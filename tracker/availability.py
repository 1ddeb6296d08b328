"""What an asset's location says about its state: in use, available, needs cleaning, ...

Porters ask for *available* equipment and biomedical engineering measures time *in use*; both
follow from the category of the room an asset is in (a pump in a clean utility room is ready to
be fetched, in a patient room it is in use, in a dirty utility room it waits for cleaning) unless
the asset's registry status takes it out of service. The mapping is configurable per site
(:class:`StateMap`); :data:`DEFAULT_CATEGORY_STATES` is the default.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum

__all__ = [
    "DEFAULT_CATEGORY_STATES",
    "OUT_OF_SERVICE_STATUSES",
    "AssetState",
    "StateMap",
]


class AssetState(StrEnum):
    """The state of an asset derived from where it is (and its registry status)."""

    IN_USE = "in_use"
    AVAILABLE = "available"
    NEEDS_CLEANING = "needs_cleaning"
    IN_TRANSIT = "in_transit"
    NOT_SEEN = "not_seen"
    OUT_OF_SERVICE = "out_of_service"


#: Default room category -> state. Rooms where equipment is used on patients count as in use;
#: rooms where it is kept clean count as available; passages count as in transit. Nurse
#: stations, offices and unclassified rooms are not places equipment is fetched from, so they
#: count as in use (conservative for the porter: never offered as available).
DEFAULT_CATEGORY_STATES: Mapping[str, AssetState] = {
    "patient_room": AssetState.IN_USE,
    "icu": AssetState.IN_USE,
    "operating_room": AssetState.IN_USE,
    "emergency": AssetState.IN_USE,
    "nurse_station": AssetState.IN_USE,
    "office": AssetState.IN_USE,
    "other": AssetState.IN_USE,
    "clean_utility": AssetState.AVAILABLE,
    "equipment_storage": AssetState.AVAILABLE,
    "dirty_utility": AssetState.NEEDS_CLEANING,
    "corridor": AssetState.IN_TRANSIT,
    "elevator": AssetState.IN_TRANSIT,
    "stairs": AssetState.IN_TRANSIT,
}

#: Registry statuses (:data:`tracker.assets.ASSET_STATUSES`) that override the location.
OUT_OF_SERVICE_STATUSES: frozenset[str] = frozenset({"in_repair", "retired", "lost"})


@dataclass(frozen=True, slots=True)
class StateMap:
    """Room category -> :class:`AssetState`, with the rules that override it.

    Attributes:
        categories: State per room category; categories not listed map to ``unknown``.
        unknown: State for a category not in ``categories`` (and for a room the plan lacks).
        stale_after_s: A fix older than this means the asset is ``not_seen``.
    """

    categories: Mapping[str, AssetState] = field(
        default_factory=lambda: dict(DEFAULT_CATEGORY_STATES))
    unknown: AssetState = AssetState.IN_USE
    stale_after_s: float = 3600.0

    @classmethod
    def from_config(cls, raw: Mapping[str, str], *, stale_after_s: float = 3600.0) -> StateMap:
        """Build from a ``{category: state}`` table (e.g. ``[states]`` in the TOML settings),
        on top of the defaults.

        Raises:
            ValueError: a state name is not one of :class:`AssetState` (names the category).
        """
        cats = dict(DEFAULT_CATEGORY_STATES)
        for cat, name in raw.items():
            try:
                cats[cat] = AssetState(name)
            except ValueError:
                allowed = ", ".join(s.value for s in AssetState)
                raise ValueError(f"states.{cat}: {name!r} is not one of {allowed}") from None
        return cls(categories=cats, stale_after_s=stale_after_s)

    def of_category(self, category: str | None) -> AssetState:
        """The state an asset has in a room of ``category`` (None: not in any room)."""
        if category is None:
            return AssetState.IN_TRANSIT
        return self.categories.get(category, self.unknown)

    def state(
        self,
        *,
        category: str | None,
        status: str | None = None,
        moving: bool = False,
        age_s: float | None = 0.0,
    ) -> AssetState:
        """The state of one asset now.

        Args:
            category: Category of the room it is in (None: between rooms).
            status: Its registry status; an out-of-service status wins over the location.
            moving: The tracker sees it moving (then it is in transit, whatever the room).
            age_s: Seconds since its last fix; None (never seen) or beyond
                ``stale_after_s`` means not seen.
        """
        if status in OUT_OF_SERVICE_STATUSES:
            return AssetState.OUT_OF_SERVICE
        if age_s is None or age_s > self.stale_after_s:
            return AssetState.NOT_SEEN
        if moving:
            return AssetState.IN_TRANSIT
        return self.of_category(category)
