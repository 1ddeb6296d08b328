"""MQTT connection settings and the reconnecting client loop around :class:`aiomqtt.Client`.

Sporing subscribes at QoS 1 with a *persistent session* (a fixed client id, ``clean_session``
False for MQTT 3.1.1, ``clean_start`` False plus a session expiry for MQTT 5): while Sporing is
away (restart, deploy, network cut) the broker queues every QoS 1 message for it and delivers
the queue on reconnect, so a restart loses no reading.

:func:`run_session` connects, runs a session coroutine (subscribe and iterate messages) and,
when the connection drops (aiomqtt's iteration raises :class:`aiomqtt.MqttError`), reconnects
with exponential backoff and full jitter (:class:`Backoff`: base 0.5 s, cap 30 s).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import socket
import ssl
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field, replace
from typing import Any, Literal
from urllib.parse import parse_qs, unquote, urlsplit

import aiomqtt
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from gateway.errors import GatewayError

__all__ = [
    "Backoff",
    "MqttConfigError",
    "MqttSettings",
    "TlsSettings",
    "make_client",
    "pending_messages",
    "run_session",
]

_log = logging.getLogger("sporing.mqtt")


class MqttConfigError(GatewayError, ValueError):
    """The MQTT configuration (URL, TLS files, protocol) is invalid; the message names it."""


@dataclass(frozen=True, slots=True)
class TlsSettings:
    """TLS for ``mqtts://`` connections.

    Attributes:
        ca_file: CA bundle to verify the broker with (None: the system store).
        cert_file: Client certificate (PEM) for mutual TLS.
        key_file: Client private key (PEM); defaults to ``cert_file``'s key when None.
        insecure: Skip the broker host name check (test brokers only).
    """

    ca_file: str | None = None
    cert_file: str | None = None
    key_file: str | None = None
    insecure: bool = False

    def context(self) -> ssl.SSLContext:
        """An SSL context for these settings.

        Raises:
            MqttConfigError: A file cannot be read.
        """
        try:
            ctx = ssl.create_default_context(cafile=self.ca_file)
            if self.cert_file:
                ctx.load_cert_chain(self.cert_file, self.key_file)
        except (OSError, ssl.SSLError) as exc:
            raise MqttConfigError(f"TLS: cannot load {exc.filename or 'certificate'}: "
                                  f"{exc.strerror or exc}") from None
        if self.insecure:
            ctx.check_hostname = False
        return ctx


def _default_client_id() -> str:
    return f"sporing-{socket.gethostname()}"[:64]


@dataclass(frozen=True, slots=True)
class MqttSettings:
    """How to reach the broker.

    Attributes:
        host: Broker host name or address.
        port: Broker port (1883, 8883 for TLS).
        username: User name, if the broker requires one.
        password: Password (never shown in ``repr``).
        tls: TLS settings; None for plain TCP.
        client_id: Fixed client id: the broker keys the persistent session on it, so it must
            be stable across restarts and unique per process.
        protocol: ``"3.1.1"`` or ``"5"``.
        keepalive: Keep-alive interval in seconds.
        clean_session: False for a persistent session (``clean_start`` in MQTT 5).
        session_expiry_s: MQTT 5: how long the broker keeps the session after a disconnect.
        qos: Subscription QoS (1: at least once).
        timeout_s: Timeout of connect, subscribe and publish calls.
    """

    host: str = "127.0.0.1"
    port: int = 1883
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    tls: TlsSettings | None = None
    client_id: str = field(default_factory=_default_client_id)
    protocol: Literal["3.1.1", "5"] = "5"
    keepalive: int = 30
    clean_session: bool = False
    session_expiry_s: int = 86_400
    qos: int = 1
    timeout_s: float = 10.0

    def __post_init__(self) -> None:
        if self.protocol not in ("3.1.1", "5"):
            raise MqttConfigError(f"protocol must be '3.1.1' or '5', got {self.protocol!r}")
        if not 0 < self.port < 65536:
            raise MqttConfigError(f"port {self.port} is out of range")
        if self.qos not in (0, 1, 2):
            raise MqttConfigError(f"qos must be 0, 1 or 2, got {self.qos!r}")
        if not self.clean_session and not self.client_id:
            raise MqttConfigError("a persistent session (clean_session=False) needs a fixed "
                                  "client_id")
        if self.keepalive <= 0 or self.session_expiry_s < 0:
            raise MqttConfigError("keepalive must be > 0 and session_expiry_s >= 0")

    @classmethod
    def from_url(cls, url: str, **overrides: Any) -> MqttSettings:
        """Settings from ``mqtt://[user[:password]@]host[:port][?options]`` (``mqtts://`` for
        TLS). Query options: ``client_id``, ``protocol`` (``3.1.1``/``5``), ``keepalive``,
        ``clean`` (0/1), ``session_expiry``, ``qos``, ``ca``, ``cert``, ``key``,
        ``insecure`` (0/1). Keyword ``overrides`` win over the URL.

        Raises:
            MqttConfigError: Naming the part of the URL at fault.
        """
        parts = urlsplit(url)
        scheme = parts.scheme.lower()
        if scheme not in ("mqtt", "mqtts", "tcp", "ssl"):
            raise MqttConfigError(f"MQTT URL {url!r}: scheme must be mqtt:// or mqtts://")
        secure = scheme in ("mqtts", "ssl")
        try:
            port = parts.port
        except ValueError:
            raise MqttConfigError(f"MQTT URL {url!r}: bad port") from None
        if not parts.hostname:
            raise MqttConfigError(f"MQTT URL {url!r}: missing host")
        q = {k: v[-1] for k, v in parse_qs(parts.query, keep_blank_values=True).items()}
        known = {"client_id", "protocol", "keepalive", "clean", "session_expiry", "qos", "ca",
                 "cert", "key", "insecure"}
        unknown = sorted(set(q) - known)
        if unknown:
            raise MqttConfigError(f"MQTT URL {url!r}: unknown option(s) {', '.join(unknown)}")

        def integer(name: str, default: int) -> int:
            if name not in q:
                return default
            try:
                return int(q[name])
            except ValueError:
                raise MqttConfigError(f"MQTT URL option {name}={q[name]!r} is not an "
                                      "integer") from None

        def flag(name: str) -> bool:
            return q.get(name, "0").lower() in ("1", "true", "yes")

        tls = None
        if secure or any(k in q for k in ("ca", "cert", "key", "insecure")):
            tls = TlsSettings(ca_file=q.get("ca") or None, cert_file=q.get("cert") or None,
                              key_file=q.get("key") or None, insecure=flag("insecure"))
        kw: dict[str, Any] = {
            "host": parts.hostname,
            "port": port or (8883 if tls else 1883),
            "username": unquote(parts.username) if parts.username else None,
            "password": unquote(parts.password) if parts.password else None,
            "tls": tls,
            "keepalive": integer("keepalive", 30),
            "clean_session": flag("clean"),
            "session_expiry_s": integer("session_expiry", 86_400),
            "qos": integer("qos", 1),
        }
        if "client_id" in q:
            kw["client_id"] = q["client_id"]
        if "protocol" in q:
            proto = q["protocol"].replace("v", "").replace("311", "3.1.1")
            if proto == "5.0":
                proto = "5"
            kw["protocol"] = proto
        kw.update(overrides)
        return cls(**kw)

    def with_client_id(self, client_id: str) -> MqttSettings:
        """A copy with another client id (one per worker process)."""
        return replace(self, client_id=client_id)

    @property
    def url(self) -> str:
        """The broker URL without credentials (for logs)."""
        return f"{'mqtts' if self.tls else 'mqtt'}://{self.host}:{self.port}"


@dataclass(frozen=True, slots=True)
class Backoff:
    """Exponential backoff with full jitter: attempt ``n`` waits ``uniform(0, min(cap,
    base * 2**n))`` seconds (AWS architecture blog, "Exponential Backoff And Jitter").

    Attributes:
        base_s: The ceiling of the first wait.
        cap_s: The largest ceiling.
    """

    base_s: float = 0.5
    cap_s: float = 30.0

    def __post_init__(self) -> None:
        if not (0 < self.base_s <= self.cap_s):
            raise ValueError(f"need 0 < base_s <= cap_s, got {self.base_s}, {self.cap_s}")

    def ceiling(self, attempt: int) -> float:
        """The largest wait of attempt ``attempt`` (0-based)."""
        return min(self.cap_s, self.base_s * 2.0 ** min(max(attempt, 0), 64))

    def delay(self, attempt: int, rng: random.Random | None = None) -> float:
        """A random wait in ``[0, ceiling(attempt)]``."""
        return (rng or random).uniform(0.0, self.ceiling(attempt))


def make_client(settings: MqttSettings) -> aiomqtt.Client:
    """A new (not yet connected) aiomqtt client for ``settings``, with the persistent-session
    flags and, for MQTT 5, the session expiry interval."""
    v5 = settings.protocol == "5"
    props = None
    if v5:
        props = Properties(PacketTypes.CONNECT)  # type: ignore[no-untyped-call]
        props.SessionExpiryInterval = 0 if settings.clean_session else settings.session_expiry_s
    client = aiomqtt.Client(
        settings.host, settings.port,
        username=settings.username, password=settings.password,
        identifier=settings.client_id,
        protocol=aiomqtt.ProtocolVersion.V5 if v5 else aiomqtt.ProtocolVersion.V311,
        clean_session=None if v5 else settings.clean_session,
        clean_start=settings.clean_session if v5 else 3,
        keepalive=settings.keepalive,
        timeout=settings.timeout_s,
        properties=props,
        tls_context=settings.tls.context() if settings.tls else None,
        tls_insecure=settings.tls.insecure if settings.tls else None,
        logger=logging.getLogger("sporing.mqtt.client"),
    )
    # A parser worker publishes one message per shard of a batch at once (up to
    # ShardPublisher's shards); aiomqtt's default warns above 10 pending publishes.
    client.pending_calls_threshold = 1000
    return client


def pending_messages(client: aiomqtt.Client) -> list[aiomqtt.Message]:
    """Take the messages already received (and acknowledged) but not yet iterated.

    After the connection drops, aiomqtt's queue may still hold messages paho has acknowledged
    to the broker; they must be processed, or they are lost.
    """
    out = []
    queue = client._queue  # aiomqtt < 3 keeps received messages here
    while not queue.empty():
        out.append(queue.get_nowait())
    return out


Session = Callable[[aiomqtt.Client], Awaitable[None]]


async def run_session(
    settings: MqttSettings, session: Session, *, stop: asyncio.Event,
    backoff: Backoff | None = None,
    on_disconnect: Callable[[aiomqtt.Client], Awaitable[None]] | None = None,
    rng: random.Random | None = None,
) -> int:
    """Connect and run ``session(client)``; reconnect with backoff when the connection drops.

    ``session`` returns normally to end the loop (e.g. once ``stop`` is set) and raises
    :class:`aiomqtt.MqttError` when the connection drops. ``on_disconnect(client)`` runs after
    every connection (dropped or closed), e.g. to process :func:`pending_messages`.

    Returns:
        How many times the client reconnected after a drop.
    """
    backoff = backoff or Backoff()
    attempt = 0
    reconnects = 0
    ever_connected = False
    while not stop.is_set():
        client = make_client(settings)
        connected = False
        try:
            async with client:
                connected = True
                if ever_connected:
                    reconnects += 1
                    _log.info("reconnected to %s as %s", settings.url, settings.client_id)
                ever_connected = True
                attempt = 0
                await session(client)
            return reconnects
        except aiomqtt.MqttError as exc:
            what = "connection lost" if connected else "cannot connect"
            wait = backoff.delay(attempt, rng)
            attempt += 1
            _log.warning("MQTT %s (%s: %s); retrying in %.2f s", what, settings.url, exc, wait)
        finally:
            if connected and on_disconnect is not None:
                await on_disconnect(client)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), timeout=wait)
    return reconnects
