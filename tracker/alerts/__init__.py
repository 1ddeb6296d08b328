"""Par levels and alerts: rules over the live pipeline, the alert lifecycle in the store, and
delivery to MQTT and webhooks (see ``docs/alerts.md``).

* :mod:`tracker.alerts.rules`: the rule kinds and the ``[alerts]`` configuration;
* :mod:`tracker.alerts.engine` (with :mod:`tracker.alerts.conditions`): tick-by-tick
  evaluation into raised/resolved transitions, with hold times against flapping;
* :mod:`tracker.alerts.lifecycle` and :mod:`tracker.alerts.store`: raised → acknowledged →
  resolved with who and when, and the delivery outbox;
* :mod:`tracker.alerts.delivery`: MQTT and signed webhooks with retry;
* :mod:`tracker.alerts.runner`: the wiring into a Sporing process.
"""

from tracker.alerts.delivery import Dispatcher, sign, verify_signature
from tracker.alerts.engine import AlertEngine, Transition
from tracker.alerts.lifecycle import (
    Alert,
    AlertEvent,
    AlertNotFoundError,
    AlertState,
    AlertStateError,
    OutboxItem,
)
from tracker.alerts.rules import (
    AlertConfigError,
    AlertsConfig,
    AssetSelector,
    GatewayOfflineRule,
    GeofenceRule,
    LowBatteryRule,
    MissingRule,
    ParLevelRule,
    RestrictedAreaRule,
    Rule,
    Webhook,
    check_against_site,
    parse_config,
)
from tracker.alerts.runner import AlertRunner, AssetRegistry
from tracker.alerts.store import AlertStore

__all__ = [
    "Alert",
    "AlertConfigError",
    "AlertEngine",
    "AlertEvent",
    "AlertNotFoundError",
    "AlertRunner",
    "AlertState",
    "AlertStateError",
    "AlertStore",
    "AlertsConfig",
    "AssetRegistry",
    "AssetSelector",
    "Dispatcher",
    "GatewayOfflineRule",
    "GeofenceRule",
    "LowBatteryRule",
    "MissingRule",
    "OutboxItem",
    "ParLevelRule",
    "RestrictedAreaRule",
    "Rule",
    "Transition",
    "Webhook",
    "check_against_site",
    "parse_config",
    "sign",
    "verify_signature",
]
