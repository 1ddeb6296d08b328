"""Service settings: one :class:`Settings` from a TOML file and ``SPORING_*`` environment variables.

Sources, strongest first: keyword arguments, environment variables (``SPORING_`` prefix,
nested sections joined with ``__``: ``SPORING_MQTT__URL``, ``SPORING_DATABASE__URL``,
``SPORING_API__PORT``), then the TOML file given to :meth:`Settings.load` (``--config``).
The legacy ``SPORING_DATABASE_URL`` (used by ``sporing db``) fills ``database.url`` when
nothing else does. Unknown keys in the TOML file are errors: a typo must not silently keep a
default. Settings are built once at startup and passed down; nothing reads them at import time.

See ``sporing.example.toml`` for every key with its default.
"""

from __future__ import annotations

import contextvars
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

from tracker.availability import StateMap

if TYPE_CHECKING:
    from gateway.mqtt import MqttSettings

__all__ = [
    "ApiConfig",
    "DatabaseConfig",
    "EngineSettings",
    "LogConfig",
    "MqttConfig",
    "Role",
    "Settings",
    "SettingsError",
    "ShardingConfig",
    "ThinningConfig",
]

Role = Literal["all", "ingest", "api", "parse"]

_TOML_PATH: contextvars.ContextVar[Path | None] = contextvars.ContextVar("sporing_toml",
                                                                         default=None)


class SettingsError(ValueError):
    """The configuration is invalid; the message names the key and the source."""


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class MqttConfig(_Section):
    """The broker and what to subscribe to.

    Attributes:
        url: ``mqtt://[user[:password]@]host[:port][?options]`` or ``mqtts://`` (see
            :meth:`gateway.mqtt.MqttSettings.from_url` for the options: ``client_id``,
            ``protocol``, ``session_expiry``, ``ca``, ``cert``, ``key``, ``insecure``).
        client_id: Fixed client id (the broker keeps the persistent session under it); must be
            unique per process and stable across restarts. Default ``sporing-<hostname>``.
        topics: ``[filter, format]`` pairs; empty means the vendors' default topics
            (:data:`gateway.adapters.DEFAULT_TOPIC_MAP`).
        extra_topics: Pairs added to the defaults (Kontakt, Sewio, INGICS need one).
        topic_prefix: Prefix of every vendor topic on a bridged or multi-site broker.
        share_group: Join this MQTT shared-subscription group (parser scale-out).
        ca_file, cert_file, key_file, insecure: TLS (override the URL options).
        username, password: Credentials (override the URL's).
        batch_size, batch_interval_s: Ingest batching toward the pipeline.
        dead_letter: Republish rejected messages under ``sporing/deadletter/<reason>``.
    """

    url: str = "mqtt://127.0.0.1:1883"
    client_id: str | None = None
    topics: list[tuple[str, str]] = Field(default_factory=list)
    extra_topics: list[tuple[str, str]] = Field(default_factory=list)
    topic_prefix: str = ""
    share_group: str | None = None
    ca_file: str | None = None
    cert_file: str | None = None
    key_file: str | None = None
    insecure: bool = False
    username: str | None = None
    password: str | None = Field(default=None, repr=False)
    batch_size: int = Field(default=500, ge=1)
    batch_interval_s: float = Field(default=0.1, gt=0)
    dead_letter: bool = False

    def broker(self) -> MqttSettings:
        """The client settings: the URL with the credential and TLS overrides applied."""
        from gateway.mqtt import MqttSettings, TlsSettings

        overrides: dict[str, Any] = {}
        if self.client_id:
            overrides["client_id"] = self.client_id
        if self.username:
            overrides["username"] = self.username
        if self.password:
            overrides["password"] = self.password
        if self.ca_file or self.cert_file or self.key_file or self.insecure:
            overrides["tls"] = TlsSettings(ca_file=self.ca_file, cert_file=self.cert_file,
                                           key_file=self.key_file, insecure=self.insecure)
        return MqttSettings.from_url(self.url, **overrides)


class DatabaseConfig(_Section):
    """Storage.

    Attributes:
        url: ``postgresql://user:pw@host:port/db`` (TimescaleDB) or ``sqlite:///path.db``.
        spool_dir: Where batches wait on disk while the database is down.
        spool_max_bytes: Bound of the spool (oldest batches dropped and counted beyond).
        migrate: Apply pending schema migrations at startup.
    """

    url: str = ""
    spool_dir: str = "/var/lib/sporing/spool"
    spool_max_bytes: int = Field(default=1 << 30, gt=0)
    migrate: bool = True


class EngineSettings(_Section):
    """Positioning engine and pipeline tuning (see :class:`positioning.engine.EngineConfig`).

    Attributes:
        tick_s: Seconds between ticks (fixes of an active tag).
        window_s: Readings older than this at a tick are not used.
        delay_s: Ticks run this long behind the wall clock so late readings still count.
        max_gateways: Strongest gateways used per fix.
        path_loss_exponent, rssi_1m_dbm: Site defaults of the path-loss model.
        radio_map: Locate BLE tags on the plan-aware radio map (off: multilateration only,
            faster, less room-accurate; see docs/accuracy.md).
        max_pending_readings: Readings waiting for a tick before producers are slowed down.
        stale_after_s: A tag unheard this long has its open stay closed.
        radio_map_exponent: Path-loss exponent of the radio map, which models walls
            explicitly (2, the multi-wall model's; None: ``path_loss_exponent``; see
            docs/accuracy.md).
        self_calibration: Learn gateway offsets and tag powers at run time
            (:mod:`positioning.autocal`).
        calibration_file: Where the learned calibration is kept across restarts (None:
            ``calibration.json`` in ``state_dir``, or not kept when that is unset too).
        parked_every_s: A parked tag is located this often, its latest fix repeated in
            between (:mod:`positioning.cadence`; at most ``tick_s``: every tick). Larger
            values position more tags per core but make parked tags flicker between rooms
            more (docs/accuracy.md).
    """

    tick_s: float = Field(default=1.0, gt=0)
    window_s: float = Field(default=5.0, gt=0)
    delay_s: float = Field(default=0.5, ge=0)
    max_gateways: int = Field(default=8, ge=3)
    path_loss_exponent: float = Field(default=2.6, gt=0)
    rssi_1m_dbm: float = -59.0
    radio_map: bool = True
    max_pending_readings: int = Field(default=500_000, ge=1000)
    stale_after_s: float = Field(default=300.0, gt=0)
    radio_map_exponent: float | None = Field(default=2.0, gt=0)
    self_calibration: bool = True
    calibration_file: str | None = None
    parked_every_s: float = Field(default=2.0, ge=0)


class ThinningConfig(_Section):
    """Which fixes are stored (see :class:`tracker.store.thinning.ChangeFilter`)."""

    min_move_m: float = Field(default=1.0, ge=0)
    accuracy_factor: float = Field(default=0.5, ge=0)
    heartbeat_s: float = Field(default=300.0, gt=0)
    smoothing: float = Field(default=0.3, gt=0, le=1)


class ShardingConfig(_Section):
    """Scale-out across processes (``docs/deployment.md``, :mod:`gateway.sharding`).

    With ``shards`` > 0, role ``parse`` processes read the vendor topics on a shared
    subscription and republish canonical readings to ``<prefix>/<k>``, ``k`` = hash(tag) mod
    ``shards``; each role ``ingest`` process is positioning worker ``worker`` of ``workers``
    and reads only its shards, so every tag is positioned by exactly one process.

    Attributes:
        shards: Shard count (0: no sharding; choose it much larger than ``workers``, e.g. 64,
            and never change it while tags are positioned).
        workers: Positioning workers.
        worker: This process's index among them (0-based; role ``ingest``).
        prefix: Topic prefix of the shard stream (must not overlap the input topics).
        group: Shared-subscription group of the parser workers.
    """

    shards: int = Field(default=0, ge=0, le=65536)
    workers: int = Field(default=1, ge=1)
    worker: int = Field(default=0, ge=0)
    prefix: str = "sporing/shards"
    group: str = "sporing-parse"

    @model_validator(mode="after")
    def _consistent(self) -> ShardingConfig:
        from gateway.sharding import ShardingError, assign_shards

        try:  # the checks of the function the workers will call
            assign_shards(self.worker, self.workers, max(self.shards, self.workers))
            if self.shards:
                assign_shards(self.worker, self.workers, self.shards)
        except ShardingError as exc:
            raise ValueError(str(exc)) from None
        if not self.prefix or self.prefix.endswith("/") or any(c in self.prefix for c in "+#"):
            raise ValueError(f"prefix {self.prefix!r} must be a topic without wildcards or a "
                             "trailing '/'")
        if not self.group or any(c in self.group for c in "/+#"):
            raise ValueError(f"group {self.group!r} must be one topic level without wildcards")
        return self


class ApiConfig(_Section):
    """HTTP.

    Attributes:
        host, port: Where the API listens (roles ``all`` and ``api``).
        ops_port: Where ``/healthz``, ``/readyz`` and ``/metrics`` listen in role ``ingest``.
        root_path: Path prefix when behind a reverse proxy.
        secure_cookies: Send the session cookie only over HTTPS (set it whenever users reach
            Sporing through an HTTPS reverse proxy, which production deployments must).
    """

    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=0, lt=65536)
    ops_port: int = Field(default=9108, ge=0, lt=65536)
    root_path: str = ""
    secure_cookies: bool = False


class LogConfig(_Section):
    """Logging: ``json`` (one object per line, for journald/Loki) or ``text``."""

    format: Literal["json", "text"] = "text"
    level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"


class Settings(BaseSettings):
    """Everything ``sporing serve`` needs.

    Attributes:
        site: Floor-plan file (native GeoJSON); empty selects the sample hospital.
        role: ``all`` (ingest, pipeline, storage, HTTP API), ``ingest`` (no API; ops endpoints
            on ``api.ops_port``), ``api`` (HTTP API reading the store) or ``parse`` (a
            sharding parser worker: vendor topics to the shard stream, gateway health to the
            store; needs ``sharding.shards`` > 0).
        gateway_aliases: Vendor gateway id (MAC, ESPresense room, ...) → floor-plan id.
        state_dir: Directory for local state (default spool location in demos).
        alerts: The ``[alerts]`` table: rules, webhooks, delivery (parsed and checked by
            :func:`tracker.alerts.rules.parse_config`; see ``docs/alerts.md``).
        states: The ``[states]`` table: room category -> asset state, on top of
            :data:`tracker.availability.DEFAULT_CATEGORY_STATES` (e.g.
            ``nurse_station = "available"``); one map for lookups, reports and par levels.
    """

    model_config = SettingsConfigDict(env_prefix="SPORING_", env_nested_delimiter="__",
                                      extra="ignore", frozen=True)

    site: str = ""
    role: Role = "all"
    gateway_aliases: dict[str, str] = Field(default_factory=dict)
    state_dir: str = ""
    mqtt: MqttConfig = Field(default_factory=MqttConfig)
    database: DatabaseConfig = Field(default_factory=DatabaseConfig)
    engine: EngineSettings = Field(default_factory=EngineSettings)
    thinning: ThinningConfig = Field(default_factory=ThinningConfig)
    api: ApiConfig = Field(default_factory=ApiConfig)
    log: LogConfig = Field(default_factory=LogConfig)
    sharding: ShardingConfig = Field(default_factory=ShardingConfig)
    alerts: dict[str, Any] = Field(default_factory=dict)
    states: dict[str, str] = Field(default_factory=dict)

    @field_validator("site")
    @classmethod
    def _site_exists(cls, v: str) -> str:
        if v and not Path(v).expanduser().is_file():
            raise ValueError(f"floor-plan file {v!r} does not exist")
        return v

    @model_validator(mode="after")
    def _sharding_roles(self) -> Settings:
        if self.role == "parse" and not self.sharding.shards:
            raise ValueError("role parse needs sharding.shards > 0 ([sharding] shards in the "
                             "TOML file, or SPORING_SHARDING__SHARDS)")
        if self.sharding.shards and self.role == "all":
            raise ValueError("sharding.shards > 0 needs separate processes: --role parse "
                             "(vendor topics -> shards) and --role ingest (positioning "
                             "workers); role all reads the vendor topics itself")
        unsharded = {"par_level": "counts the whole fleet, which no sharded worker sees",
                      "low_battery": "needs the tag batteries, which only the parser workers "
                                     "see"}
        for r in self.alerts.get("rules", []) if self.sharding.shards else []:
            why = unsharded.get(str(r.get("kind"))) if isinstance(r, dict) else None
            if why:
                raise ValueError(f"alert rule {r.get('id')!r} ({r['kind']}) {why}: not "
                                 "available with sharding.shards > 0")
        return self

    @field_validator("states")
    @classmethod
    def _states_valid(cls, v: dict[str, str]) -> dict[str, str]:
        StateMap.from_config(v)  # ValueError names the category and the allowed states
        return v

    def state_map(self) -> StateMap:
        """The site's room-category state map (defaults plus ``[states]``)."""
        return StateMap.from_config(self.states)

    @field_validator("alerts")
    @classmethod
    def _alerts_valid(cls, v: dict[str, Any]) -> dict[str, Any]:
        from tracker.alerts.rules import parse_config

        parse_config(v)  # AlertConfigError (a ValueError) names the rule and field
        return v

    @classmethod
    def settings_customise_sources(
        cls, settings_cls: type[BaseSettings], init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource, dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        """Keyword arguments, then ``SPORING_*`` variables, then the TOML file."""
        sources: list[PydanticBaseSettingsSource] = [init_settings, env_settings]
        path = _TOML_PATH.get()
        if path is not None:
            sources.append(TomlConfigSettingsSource(settings_cls, toml_file=path))
        return tuple(sources)

    @classmethod
    def load(cls, path: str | Path | None = None, **overrides: Any) -> Settings:
        """Build the settings from ``path`` (TOML), the environment and ``overrides``.

        Raises:
            SettingsError: Unreadable file, unknown key or invalid value (named with its
                dotted location).
        """
        toml: Path | None = None
        if path is not None:
            toml = Path(path).expanduser()
            if not toml.is_file():
                raise SettingsError(f"configuration file {str(toml)!r} does not exist")
            _check_toml_keys(toml)
        token = _TOML_PATH.set(toml)
        try:
            settings = cls(**overrides)
        except ValidationError as exc:
            where = f" in {toml}" if toml else ""
            problems = "; ".join(
                f"{'.'.join(str(p) for p in e['loc']) or '<root>'}: {e['msg']}"
                for e in exc.errors()
            )
            raise SettingsError(f"invalid configuration{where}: {problems}") from None
        finally:
            _TOML_PATH.reset(token)
        if not settings.database.url and os.environ.get("SPORING_DATABASE_URL"):
            db = settings.database.model_copy(update={"url": os.environ["SPORING_DATABASE_URL"]})
            settings = settings.model_copy(update={"database": db})
        return settings

    @property
    def topic_map(self) -> list[tuple[str, str]]:
        """The ``(filter, format)`` pairs to subscribe to."""
        from gateway.adapters import DEFAULT_TOPIC_MAP

        base = list(self.mqtt.topics) if self.mqtt.topics else list(DEFAULT_TOPIC_MAP)
        return base + list(self.mqtt.extra_topics)


_SECTIONS: dict[str, type[BaseModel]] = {
    "mqtt": MqttConfig, "database": DatabaseConfig, "engine": EngineSettings,
    "thinning": ThinningConfig, "api": ApiConfig, "log": LogConfig,
    "sharding": ShardingConfig,
}
_TOP_KEYS = {"site", "role", "gateway_aliases", "state_dir", "alerts", "states", *_SECTIONS}


def _check_toml_keys(path: Path) -> None:
    """Reject unknown keys (the top level ignores unknown environment variables, so the file
    is checked here)."""
    import tomllib

    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise SettingsError(f"cannot read configuration {str(path)!r}: {exc}") from None
    for key, value in data.items():
        if key not in _TOP_KEYS:
            raise SettingsError(f"{path}: unknown key {key!r} (known: "
                                f"{', '.join(sorted(_TOP_KEYS))})")
        section = _SECTIONS.get(key)
        if section is not None:
            if not isinstance(value, dict):
                raise SettingsError(f"{path}: [{key}] must be a table")
            unknown = sorted(set(value) - set(section.model_fields))
            if unknown:
                raise SettingsError(f"{path}: unknown key(s) in [{key}]: {', '.join(unknown)} "
                                    f"(known: {', '.join(sorted(section.model_fields))})")
