"""Map the gateway ids vendors publish (MACs, ESPresense room names, OpenMQTTGateway names) to
the gateway ids of the floor plan.

Resolution of a vendor id, in order:

1. the id itself when the floor plan has a gateway of that id (identity);
2. the alias table from the configuration, e.g. ``{"kitchen": "gw-a1-003",
   "AC:23:3F:C0:A1:B2": "gw-a3-014"}``; alias keys and vendor ids are normalised the same way
   (a MAC in any spelling → 12 lowercase hex digits, other names case-folded);
3. otherwise the gateway is unknown (None): the ingest layer counts ``unknown_gateway``.

Without a floor plan (:meth:`GatewayMap.identity`) every id passes through unchanged.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING

from gateway.errors import GatewayError
from gateway.identity import is_mac, normalize_mac

if TYPE_CHECKING:
    from floorplans.model import Site

__all__ = ["GatewayMap", "GatewayMapError", "normalize_gateway_key"]

_CACHE_MAX = 65_536


class GatewayMapError(GatewayError, ValueError):
    """The alias table is inconsistent (the message names the alias at fault)."""


def normalize_gateway_key(vendor_id: str) -> str:
    """The lookup key of a vendor gateway id: 12 hex digits for a MAC, else the stripped,
    case-folded text."""
    t = vendor_id.strip()
    if is_mac(t):
        return normalize_mac(t)
    return t.casefold()


class GatewayMap:
    """Vendor gateway id → floor-plan gateway id (see the module docstring).

    Args:
        known: The floor-plan gateway ids.
        aliases: Vendor id → floor-plan id.
        passthrough: Return unknown ids unchanged instead of None (no floor plan loaded).

    Raises:
        GatewayMapError: An alias targets an id the floor plan does not have, or two aliases
            that normalise to the same key target different gateways.
    """

    def __init__(self, known: Iterable[str] = (), aliases: Mapping[str, str] | None = None,
                 *, passthrough: bool = False) -> None:
        self._known = frozenset(known)
        self._passthrough = passthrough
        self._aliases: dict[str, str] = {}
        for vendor, target in (aliases or {}).items():
            if not isinstance(vendor, str) or not isinstance(target, str) or not vendor.strip():
                raise GatewayMapError(f"gateway alias {vendor!r} -> {target!r}: both must be "
                                      "non-empty strings")
            if self._known and target not in self._known:
                raise GatewayMapError(f"gateway alias {vendor!r} -> {target!r}: the floor plan "
                                      f"has no gateway {target!r}")
            key = normalize_gateway_key(vendor)
            prev = self._aliases.get(key)
            if prev is not None and prev != target:
                raise GatewayMapError(f"gateway alias {vendor!r}: key {key!r} already maps to "
                                      f"{prev!r}, not {target!r}")
            self._aliases[key] = target
        self._cache: dict[str, str | None] = {}

    @classmethod
    def identity(cls) -> GatewayMap:
        """A map that passes every id through (no floor plan)."""
        return cls(passthrough=True)

    @classmethod
    def from_site(cls, site: Site, aliases: Mapping[str, str] | None = None) -> GatewayMap:
        """A map for the gateways of a floor plan."""
        return cls((g.id for g in site.gateways), aliases)

    @property
    def known(self) -> frozenset[str]:
        """The floor-plan gateway ids."""
        return self._known

    def resolve(self, vendor_id: str) -> str | None:
        """The floor-plan id of ``vendor_id``, or None when it is unknown."""
        hit = self._cache.get(vendor_id, "")
        if hit != "":
            return hit
        if vendor_id in self._known:
            out: str | None = vendor_id
        else:
            out = self._aliases.get(normalize_gateway_key(vendor_id))
            if out is None and self._passthrough:
                out = vendor_id
        if len(self._cache) >= _CACHE_MAX:
            self._cache.clear()
        self._cache[vendor_id] = out
        return out

    def guess_from_topic(self, topic: str) -> str | None:
        """The first topic level that resolves to a known gateway (to label a rejected
        message whose payload named none), or None."""
        for level in topic.split("/"):
            if not level:
                continue
            if level in self._known:
                return level
            target = self._aliases.get(normalize_gateway_key(level))
            if target is not None:
                return target
        return None
