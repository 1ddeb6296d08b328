"""Simulator configuration: frozen dataclasses, loadable from TOML scenario files.

Every parameter's default and its source are documented in ``docs/simulator.md``. A scenario
file has the sections ``[scenario]``, ``[radio]``, ``[uwb]``, ``[network]``, ``[movement]``,
``[[tag_models]]``, ``[[extra_gateways]]`` and ``[[outages]]``; any omitted key keeps its
default. Unknown keys are errors (a typo must not silently keep a default).
"""

from __future__ import annotations

import dataclasses
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

__all__ = [
    "SCENARIO_DIR",
    "ConfigError",
    "ExtraGateway",
    "MovementConfig",
    "NetworkConfig",
    "Outage",
    "RadioConfig",
    "Scenario",
    "TagModel",
    "UwbConfig",
    "load_scenario",
    "scenario_names",
]

#: Where the named scenarios live.
SCENARIO_DIR = Path(__file__).resolve().parent / "scenarios"


class ConfigError(ValueError):
    """A scenario file or configuration value is invalid; the message names the key."""


@dataclass(frozen=True, slots=True)
class TagModel:
    """A tag hardware model.

    Attributes:
        name: Model name (e.g. "minew-e8").
        rssi_1m: Mean RSSI at 1 m (the calibrated "measured power"), dBm.
        rssi_1m_sd: Unit-to-unit spread of ``rssi_1m`` (manufacturing tolerance), dB.
        interval_s: Advertising interval, seconds.
        tech: "ble" or "uwb" (a UWB tag is ranged by UWB anchors at ``interval_s``).
    """

    name: str
    rssi_1m: float = -59.0
    rssi_1m_sd: float = 1.5
    interval_s: float = 1.0
    tech: str = "ble"


DEFAULT_TAG_MODELS: tuple[TagModel, ...] = (
    TagModel("minew-e8", rssi_1m=-59.0, interval_s=1.0),
    TagModel("kontakt-asset-tag-2", rssi_1m=-62.0, interval_s=1.0),
    TagModel("ruuvitag", rssi_1m=-56.0, interval_s=1.285),
    TagModel("card-beacon", rssi_1m=-65.0, interval_s=2.0),
    TagModel("uwb-tag", rssi_1m=-59.0, interval_s=1.0, tech="uwb"),
)


@dataclass(frozen=True, slots=True)
class RadioConfig:
    """BLE link budget (see ``docs/simulator.md`` for sources).

    RSSI = rssi_1m - 10 n log10(d) - walls - slabs + shadowing + fading + rx_offset, quantised
    to 1 dB and cut at the receiver sensitivity.
    """

    path_loss_exponent: float = 2.0
    min_distance_m: float = 0.3
    floor_loss_first_db: float = 15.0
    floor_loss_next_db: float = 4.0
    max_levels_apart: int = 2
    shadowing_sigma_db: float = 5.0
    shadowing_corr_m: float = 2.0
    shadowing_features: int = 32
    rician_k_db: float = 3.0
    channel_offset_sd_db: float = 2.0
    body_loss_min_db: float = 5.0
    body_loss_max_db: float = 20.0
    rx_offset_sd_db: float = 2.0
    sensitivity_dbm: float = -95.0
    base_loss: float = 0.05
    adv_delay_max_s: float = 0.010
    packet_airtime_s: float = 0.000376
    max_candidates: int = 24
    candidate_radius_m: float = 60.0
    grid_cell_m: float = 5.0
    wall_loss_spread: float = 0.35


@dataclass(frozen=True, slots=True)
class UwbConfig:
    """UWB two-way ranging errors."""

    los_sigma_m: float = 0.07
    nlos_bias_mean_m: float = 0.35
    body_bias_mean_m: float = 0.25
    outlier_rate: float = 0.02
    outlier_max_m: float = 10.0
    dropout_los: float = 0.02
    dropout_per_wall: float = 0.15
    max_range_m: float = 35.0


@dataclass(frozen=True, slots=True)
class Outage:
    """A scheduled gateway outage: gateways whose id starts with ``gateway`` are offline."""

    gateway: str
    start_s: float
    end_s: float


@dataclass(frozen=True, slots=True)
class NetworkConfig:
    """Gateway clocks, outages and message delivery."""

    clock_offset_sd_s: float = 0.05
    clock_drift_sd_ppm: float = 20.0
    random_outages_per_gateway_day: float = 0.0
    random_outage_mean_s: float = 600.0
    outages: tuple[Outage, ...] = ()
    duplicate_rate: float = 0.0
    late_rate: float = 0.0
    late_mean_s: float = 2.0
    latency_mean_s: float = 0.05


@dataclass(frozen=True, slots=True)
class MovementConfig:
    """Asset movement: walking speed and the hospital's day/night rhythm."""

    speed_min_m_s: float = 0.8
    speed_max_m_s: float = 1.4
    trips_per_asset_day: float = 1.5
    night_factor: float = 0.25
    day_start_h: float = 7.0
    day_end_h: float = 21.0
    patient_dwell_mean_h: float = 6.0
    utility_dwell_mean_h: float = 0.75
    missing_fraction: float = 0.005
    reference_tags: int = 0
    elevator_wait_s: float = 45.0
    elevator_per_level_s: float = 4.0


@dataclass(frozen=True, slots=True)
class ExtraGateway:
    """A gateway the scenario adds to the floor plan (e.g. UWB anchors in an operating suite)."""

    id: str
    level: str
    x: float
    y: float
    height_m: float = 2.7
    tech: str = "uwb"


@dataclass(frozen=True, slots=True)
class Scenario:
    """A complete simulation setup.

    Attributes:
        name: Scenario name.
        floorplan: Floor-plan path (relative paths resolve against the scenario file), or ""
            for the sample hospital.
        assets: Number of assets.
        duration_s: Simulated seconds.
        start: Simulated start time, ISO 8601 (local wall-clock time drives the day rhythm).
        seed: Master seed.
        format: Output format for every gateway (or "mixed").
        uwb_fraction: Fraction of assets carrying a UWB tag (only useful with UWB anchors).
        levels: Restrict assets to these level ids (empty = all levels).
        departments: Restrict assets to these departments (empty = all).
    """

    name: str = "custom"
    floorplan: str = ""
    assets: int = 200
    duration_s: float = 3600.0
    start: str = "2025-11-26T08:00:00+01:00"
    seed: int = 1
    format: str = "canonical"
    uwb_fraction: float = 0.0
    levels: tuple[str, ...] = ()
    departments: tuple[str, ...] = ()
    radio: RadioConfig = field(default_factory=RadioConfig)
    uwb: UwbConfig = field(default_factory=UwbConfig)
    network: NetworkConfig = field(default_factory=NetworkConfig)
    movement: MovementConfig = field(default_factory=MovementConfig)
    tag_models: tuple[TagModel, ...] = DEFAULT_TAG_MODELS
    extra_gateways: tuple[ExtraGateway, ...] = ()


_T = TypeVar("_T")


def _build(cls: type[_T], data: Any, where: str) -> _T:
    if not isinstance(data, Mapping):
        raise ConfigError(f"{where} must be a table, got {type(data).__name__}")
    fields = {f.name: f for f in dataclasses.fields(cls)}  # type: ignore[arg-type]
    kwargs: dict[str, Any] = {}
    for key, value in data.items():
        if key not in fields:
            raise ConfigError(f"{where}: unknown key {key!r} (known: {', '.join(sorted(fields))})")
        default = getattr(cls(), key) if _has_defaults(cls) else None
        kwargs[key] = _coerce(value, default, f"{where}.{key}")
    try:
        return cls(**kwargs)
    except TypeError as exc:
        raise ConfigError(f"{where}: {exc}") from None


def _has_defaults(cls: type[Any]) -> bool:
    return all(
        f.default is not dataclasses.MISSING or f.default_factory is not dataclasses.MISSING
        for f in dataclasses.fields(cls)
    )


def _coerce(value: Any, default: Any, where: str) -> Any:
    if default is None:
        return value
    if isinstance(default, bool):
        if not isinstance(value, bool):
            raise ConfigError(f"{where} must be true or false, got {value!r}")
        return value
    if isinstance(default, float):
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ConfigError(f"{where} must be a number, got {value!r}")
        return float(value)
    if isinstance(default, int):
        if isinstance(value, bool) or not isinstance(value, int):
            raise ConfigError(f"{where} must be an integer, got {value!r}")
        return value
    if isinstance(default, str):
        if not isinstance(value, str):
            raise ConfigError(f"{where} must be a string, got {value!r}")
        return value
    if isinstance(default, tuple):
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise ConfigError(f"{where} must be a list of strings, got {value!r}")
        return tuple(value)
    return value


def scenario_from_mapping(data: Mapping[str, Any], *, source: str = "<scenario>") -> Scenario:
    """Build a :class:`Scenario` from parsed TOML.

    Raises:
        ConfigError: naming the offending key.
    """
    known = {"scenario", "radio", "uwb", "network", "movement", "tag_models", "extra_gateways",
             "outages"}
    for key in data:
        if key not in known:
            raise ConfigError(f"{source}: unknown section [{key}] "
                              f"(known: {', '.join(sorted(known))})")
    top = dict(data.get("scenario", {}))
    base = _build(Scenario, top, f"{source}[scenario]")
    radio = _build(RadioConfig, data.get("radio", {}), f"{source}[radio]")
    uwb = _build(UwbConfig, data.get("uwb", {}), f"{source}[uwb]")
    net = _build(NetworkConfig, data.get("network", {}), f"{source}[network]")
    outages = tuple(
        _build(Outage, o, f"{source}[[outages]][{i}]")
        for i, o in enumerate(data.get("outages", []))
    )
    net = dataclasses.replace(net, outages=outages)
    mov = _build(MovementConfig, data.get("movement", {}), f"{source}[movement]")
    models = base.tag_models
    if "tag_models" in data:
        models = tuple(
            _build(TagModel, m, f"{source}[[tag_models]][{i}]")
            for i, m in enumerate(data["tag_models"])
        )
    extra = tuple(
        _build(ExtraGateway, g, f"{source}[[extra_gateways]][{i}]")
        for i, g in enumerate(data.get("extra_gateways", []))
    )
    scen = dataclasses.replace(base, radio=radio, uwb=uwb, network=net, movement=mov,
                               tag_models=models, extra_gateways=extra)
    validate(scen, source)
    return scen


def validate(s: Scenario, source: str = "<scenario>") -> None:
    """Check value ranges.

    Raises:
        ConfigError: naming the offending key.
    """
    checks: list[tuple[bool, str]] = [
        (s.assets >= 0, "scenario.assets must be >= 0"),
        (s.duration_s > 0, "scenario.duration_s must be > 0"),
        (0.0 <= s.uwb_fraction <= 1.0, "scenario.uwb_fraction must be in [0, 1]"),
        (s.radio.path_loss_exponent > 0, "radio.path_loss_exponent must be > 0"),
        (s.radio.shadowing_sigma_db >= 0, "radio.shadowing_sigma_db must be >= 0"),
        (s.radio.shadowing_corr_m > 0, "radio.shadowing_corr_m must be > 0"),
        (s.radio.shadowing_features >= 1, "radio.shadowing_features must be >= 1"),
        (0.0 <= s.radio.base_loss < 1.0, "radio.base_loss must be in [0, 1)"),
        (s.radio.max_candidates >= 1, "radio.max_candidates must be >= 1"),
        (s.radio.grid_cell_m > 0, "radio.grid_cell_m must be > 0"),
        (0.0 <= s.uwb.outlier_rate <= 1.0, "uwb.outlier_rate must be in [0, 1]"),
        (s.movement.speed_min_m_s > 0, "movement.speed_min_m_s must be > 0"),
        (s.movement.speed_max_m_s >= s.movement.speed_min_m_s,
         "movement.speed_max_m_s must be >= speed_min_m_s"),
        (0.0 <= s.movement.missing_fraction <= 1.0, "movement.missing_fraction must be in [0, 1]"),
        (0.0 <= s.network.duplicate_rate <= 1.0, "network.duplicate_rate must be in [0, 1]"),
        (0.0 <= s.network.late_rate <= 1.0, "network.late_rate must be in [0, 1]"),
        (len(s.tag_models) >= 1, "at least one [[tag_models]] is needed"),
    ]
    for model in s.tag_models:
        checks.append((model.interval_s > 0, f"tag model {model.name!r}: interval_s must be > 0"))
        checks.append((model.tech in ("ble", "uwb"),
                       f"tag model {model.name!r}: tech must be 'ble' or 'uwb'"))
    for o in s.network.outages:
        checks.append((o.end_s > o.start_s, f"outage of {o.gateway!r}: end_s must be > start_s"))
    for ok, msg in checks:
        if not ok:
            raise ConfigError(f"{source}: {msg}")


def load_scenario(name_or_path: str | Path) -> tuple[Scenario, Path | None]:
    """Load a named scenario (``simulator/scenarios/<name>.toml``) or a TOML file.

    Returns:
        The scenario and the file it came from (to resolve a relative floor-plan path).

    Raises:
        ConfigError: unknown name, unreadable file, bad TOML or bad values.
    """
    p = Path(name_or_path)
    if not p.suffix and not p.exists():
        p = SCENARIO_DIR / f"{name_or_path}.toml"
        if not p.exists():
            raise ConfigError(f"unknown scenario {str(name_or_path)!r} "
                              f"(named scenarios: {', '.join(scenario_names())})")
    try:
        data = tomllib.loads(p.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError(f"cannot read scenario {str(p)!r}: {exc.strerror}") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{p}: invalid TOML: {exc}") from None
    return scenario_from_mapping(data, source=str(p)), p


def scenario_names() -> list[str]:
    """The named scenarios shipped in :data:`SCENARIO_DIR`."""
    return sorted(q.stem for q in SCENARIO_DIR.glob("*.toml"))
