"""Hospital assets: types, tag models, owning departments and home storage rooms."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from floorplans.model import Room, Site
from simulator.config import TagModel

__all__ = ["ASSET_TYPES", "AssetType", "Fleet", "build_fleet", "tag_mac"]


@dataclass(frozen=True, slots=True)
class AssetType:
    """A kind of medical equipment.

    Attributes:
        name: Type name (also the asset id prefix).
        share: Relative share of the fleet.
        tag_height_m: Height of the tag above the floor.
        pushed: Moved by a porter pushing it (the body shadows the tag toward the back).
        use_categories: Room categories it is used in.
        trips_factor: Multiplier of the fleet's trip rate.
    """

    name: str
    share: float
    tag_height_m: float
    pushed: bool
    use_categories: tuple[str, ...]
    trips_factor: float = 1.0


_PATIENT = ("patient_room", "icu", "emergency")
ASSET_TYPES: tuple[AssetType, ...] = (
    AssetType("infusion-pump", 0.30, 1.3, True, _PATIENT, 1.3),
    AssetType("patient-monitor", 0.12, 1.2, True, (*_PATIENT, "operating_room")),
    AssetType("bed", 0.15, 0.7, True, ("patient_room", "icu"), 0.6),
    AssetType("wheelchair", 0.10, 0.6, True, ("patient_room", "emergency"), 2.0),
    AssetType("ventilator", 0.04, 1.0, True, ("icu", "operating_room", "emergency"), 0.7),
    AssetType("ultrasound", 0.04, 1.1, True, (*_PATIENT, "operating_room"), 1.5),
    AssetType("ecg", 0.07, 1.0, True, _PATIENT, 1.5),
    AssetType("defibrillator", 0.03, 1.0, True, _PATIENT, 0.3),
    AssetType("feeding-pump", 0.08, 1.3, True, ("patient_room",)),
    AssetType("suction-pump", 0.07, 1.0, True, ("patient_room", "icu", "operating_room")),
)


def tag_mac(seed: int, index: int) -> str:
    """A stable, locally-administered-looking MAC (12 lowercase hex digits) for tag ``index``."""
    h = (seed * 0x9E3779B97F4A7C15 + (index + 1) * 0xBF58476D1CE4E5B9) & ((1 << 64) - 1)
    h ^= h >> 29
    h = (h * 0x94D049BB133111EB) & ((1 << 64) - 1)
    h ^= h >> 32
    return f"c3{h & 0xFFFFFFFFFF:010x}"


@dataclass(frozen=True, slots=True)
class Fleet:
    """The simulated assets (columns, one row per asset).

    Attributes:
        ids: Asset ids (``<type>-<n>``).
        tags: Tag ids (MAC, 12 hex digits).
        type_index: Index into :data:`ASSET_TYPES` (-1 for fixed reference tags).
        model_index: Index into the scenario's tag models.
        rssi_1m: Per-unit calibration (model mean + unit spread), dBm: the truth.
        advertised_dbm: Measured power the tag advertises (iBeacon "measured power",
            ESPresense ``rssi@1m``): its model's nominal value, rounded, since firmware is
            configured per model, not per unit.
        interval_s: Advertising interval.
        uwb: Whether the tag is a UWB tag.
        tag_height_m: Tag height above the floor.
        department: Owning department (or level id when the plan has none).
        home: Home room index (into ``site.rooms``).
        reference: Fixed reference tag (never moves).
    """

    ids: tuple[str, ...]
    tags: tuple[str, ...]
    type_index: npt.NDArray[np.int32]
    model_index: npt.NDArray[np.int32]
    rssi_1m: npt.NDArray[np.float64]
    advertised_dbm: npt.NDArray[np.float64]
    interval_s: npt.NDArray[np.float64]
    uwb: npt.NDArray[np.bool_]
    tag_height_m: npt.NDArray[np.float64]
    department: tuple[str, ...]
    home: npt.NDArray[np.int32]
    reference: npt.NDArray[np.bool_]

    def __len__(self) -> int:
        return len(self.ids)


def _dept(room: Room) -> str:
    return room.department or room.level


def build_fleet(site: Site, n_assets: int, models: Sequence[TagModel], rng: np.random.Generator,
                *, seed: int, uwb_fraction: float = 0.0, reference_tags: int = 0,
                levels: Sequence[str] = (), departments: Sequence[str] = ()) -> Fleet:
    """Create ``n_assets`` assets plus ``reference_tags`` fixed reference tags.

    Assets belong to departments that have an equipment storage room (or, failing that, any
    room usable as storage) and use rooms of their type; each gets the department's storage room
    as home (a random one if several).

    Raises:
        ValueError: the plan has no room an asset could live in.
    """
    rooms = [(i, r) for i, r in enumerate(site.rooms)
             if (not levels or r.level in levels)
             and (not departments or (r.department or "") in departments)]
    storage = [(i, r) for i, r in rooms if r.category == "equipment_storage"]
    if not storage:
        storage = [(i, r) for i, r in rooms
                   if r.category in ("clean_utility", "other", "office", "storage")]
    if not storage:
        storage = [(i, r) for i, r in rooms if r.category not in ("elevator", "stairs")]
    if not storage:
        raise ValueError(f"site {site.id!r} has no room where assets could be stored "
                         f"(levels={list(levels)}, departments={list(departments)})")
    ble_models = [i for i, m in enumerate(models) if m.tech == "ble"]
    uwb_models = [i for i, m in enumerate(models) if m.tech == "uwb"]
    if not ble_models:
        raise ValueError("no BLE tag model configured")
    shares = np.array([t.share for t in ASSET_TYPES])
    n_total = n_assets + reference_tags
    types = rng.choice(len(ASSET_TYPES), size=n_assets, p=shares / shares.sum())
    picks = rng.integers(0, len(storage), n_assets)
    homes = np.array([storage[k][0] for k in picks], dtype=np.int32)
    uwb = rng.random(n_assets) < uwb_fraction if uwb_models else np.zeros(n_assets, bool)
    model = np.where(uwb, uwb_models[0] if uwb_models else 0,
                     np.asarray(ble_models)[rng.integers(0, len(ble_models), n_assets)])
    ref_rooms = np.array([rooms[k][0] for k in rng.integers(0, len(rooms), reference_tags)],
                         dtype=np.int32)
    ref_model = np.full(reference_tags, ble_models[0])
    type_index = np.concatenate([types, np.full(reference_tags, -1)]).astype(np.int32)
    model_index = np.concatenate([model, ref_model]).astype(np.int32)
    base = np.array([models[m].rssi_1m for m in model_index])
    sd = np.array([models[m].rssi_1m_sd for m in model_index])
    counters: dict[str, int] = {}
    ids: list[str] = []
    for t in type_index:
        name = ASSET_TYPES[t].name if t >= 0 else "reference"
        counters[name] = counters.get(name, 0) + 1
        ids.append(f"{name}-{counters[name]:05d}")
    home = np.concatenate([homes, ref_rooms]).astype(np.int32)
    return Fleet(
        ids=tuple(ids),
        tags=tuple(tag_mac(seed, i) for i in range(n_total)),
        type_index=type_index,
        model_index=model_index,
        rssi_1m=base + rng.normal(0.0, 1.0, n_total) * sd,
        advertised_dbm=np.round(base),
        interval_s=np.array([models[m].interval_s for m in model_index]),
        uwb=np.concatenate([uwb, np.zeros(reference_tags, bool)]),
        tag_height_m=np.array([ASSET_TYPES[t].tag_height_m if t >= 0 else 2.0
                               for t in type_index]),
        department=tuple(_dept(site.rooms[h]) for h in home),
        home=home,
        reference=np.concatenate([np.zeros(n_assets, bool), np.ones(reference_tags, bool)]),
    )
