"""The gateway package's exceptions: one root, :class:`GatewayError`, with precise subclasses.

A :class:`PayloadError` carries a short, stable ``reason`` code that is safe to use as a metrics
label (a small closed set, see :data:`REASONS`) and a human ``detail`` naming the field and, for
batch payloads, the element index at fault.
"""

from __future__ import annotations

__all__ = ["REASONS", "GatewayError", "PayloadError", "TopicFilterError"]

#: Every reason code a :class:`PayloadError` may carry (a closed set: safe as a metrics label).
REASONS: frozenset[str] = frozenset({
    "too_large",        # payload over the size limit (checked before decoding)
    "invalid_utf8",     # text format with bytes that are not UTF-8
    "invalid_json",     # not JSON (syntax error, NaN literal, integer out of range, ...)
    "truncated",        # JSON or text that ends early (cut-off array or object)
    "wrong_type",       # a field or the whole payload has the wrong JSON type
    "missing_field",    # a required field is absent
    "bad_value",        # a field has the right type but an impossible value
    "absurd_rssi",      # RSSI outside the canonical plausible bounds
    "bad_range",        # UWB range negative or beyond the canonical maximum
    "bad_identity",     # a MAC, UUID or other identity that cannot be normalised
    "bad_time",         # an unparseable or impossible timestamp
    "unknown_gateway",  # the gateway the payload came from cannot be determined
    "unsupported",      # a valid message of a kind this adapter does not handle
})


class GatewayError(Exception):
    """Root of every error raised by the :mod:`gateway` package."""


class PayloadError(GatewayError):
    """A payload (or one element of a batch payload) cannot be turned into readings.

    Attributes:
        reason: A short stable code from :data:`REASONS` (use it as a metrics label).
        detail: What was wrong and where, e.g. ``"element 3: field 'rssi' = 42 dBm ..."``.
    """

    def __init__(self, reason: str, detail: str) -> None:
        if reason not in REASONS:
            raise ValueError(f"unknown PayloadError reason {reason!r}")
        super().__init__(f"{reason}: {detail}")
        self.reason = reason
        self.detail = detail

    def at(self, where: str) -> PayloadError:
        """A copy whose detail is prefixed with a location (e.g. ``"element 3"``)."""
        return PayloadError(self.reason, f"{where}: {self.detail}")

    def __reduce__(self) -> tuple[type[PayloadError], tuple[str, str]]:
        return (PayloadError, (self.reason, self.detail))

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, PayloadError):
            return NotImplemented
        return (self.reason, self.detail) == (other.reason, other.detail)

    def __hash__(self) -> int:
        return hash((self.reason, self.detail))


class TopicFilterError(GatewayError, ValueError):
    """An MQTT topic filter in the configuration is malformed (misplaced ``#`` or ``+``)."""
