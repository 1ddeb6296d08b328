"""Tag and gateway identities: MAC addresses, iBeacon and Eddystone-UID ids, and the BLE
advertisement records they are read from.

Canonical forms (what :attr:`gateway.canonical.Reading.tag` holds):

* a MAC address: 12 lowercase hex digits, ``"c3000025ef6a"``;
* an iBeacon: ``"ibeacon:<uuid as 32 lowercase hex>:<major>:<minor>"``;
* an Eddystone UID: ``"eddystone:<namespace 20 hex>:<instance 12 hex>"``.

Every function raises :class:`gateway.errors.PayloadError` with reason ``bad_identity`` on input
it cannot normalise.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from gateway.errors import PayloadError

__all__ = [
    "AdvRecord",
    "EddystoneUid",
    "IBeacon",
    "decode_advertisement",
    "eddystone_tag",
    "ibeacon_tag",
    "is_mac",
    "normalize_mac",
    "normalize_uuid",
]

_HEX = frozenset("0123456789abcdef")
_MAC_SEPARATED = re.compile(r"^[0-9a-f]{2}([:\-.]?)(?:[0-9a-f]{2}\1){4}[0-9a-f]{2}$")
_MAC_DOTTED = re.compile(r"^[0-9a-f]{4}\.[0-9a-f]{4}\.[0-9a-f]{4}$")


def _clip(text: str, n: int = 60) -> str:
    return text if len(text) <= n else text[:n] + "..."


def is_mac(text: str) -> bool:
    """Whether ``text`` is a MAC address in one of the accepted spellings."""
    t = text.strip().lower()
    return bool(_MAC_SEPARATED.match(t) or _MAC_DOTTED.match(t))


def normalize_mac(text: object, *, field: str = "mac") -> str:
    """Normalise a MAC address to 12 lowercase hex digits.

    Accepts ``AA:BB:CC:DD:EE:FF``, ``aa-bb-cc-dd-ee-ff``, ``aabbccddeeff``, ``aabb.ccdd.eeff``
    (upper or lower case; one separator style throughout).

    Args:
        text: The address (anything else than a string is rejected).
        field: The field name for the error message.

    Raises:
        PayloadError: ``bad_identity`` when it is not a 48-bit MAC address.
    """
    if not isinstance(text, str):
        raise PayloadError("wrong_type",
                           f"field {field!r} must be a string, got {type(text).__name__}")
    t = text.strip().lower()
    if not (_MAC_SEPARATED.match(t) or _MAC_DOTTED.match(t)):
        raise PayloadError("bad_identity",
                           f"field {field!r} = {_clip(text)!r} is not a 48-bit MAC address")
    return "".join(c for c in t if c in _HEX)


def normalize_uuid(text: object, *, field: str = "uuid") -> str:
    """Normalise a 128-bit UUID (with or without dashes, any case) to 32 lowercase hex digits.

    Raises:
        PayloadError: ``bad_identity`` when it is not a 128-bit UUID.
    """
    if not isinstance(text, str):
        raise PayloadError("wrong_type",
                           f"field {field!r} must be a string, got {type(text).__name__}")
    t = text.strip().lower()
    if t.count("-") not in (0, 4):
        raise PayloadError("bad_identity", f"field {field!r} = {_clip(text)!r} is not a UUID")
    h = t.replace("-", "")
    if len(h) != 32 or not set(h) <= _HEX:
        raise PayloadError("bad_identity", f"field {field!r} = {_clip(text)!r} is not a UUID")
    return h


def _u16(value: object, field: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        if isinstance(value, str) and value.strip().isdigit():
            value = int(value.strip())
        else:
            raise PayloadError("wrong_type", f"field {field!r} must be an integer 0..65535, "
                                             f"got {type(value).__name__}")
    if not 0 <= value <= 0xFFFF:
        raise PayloadError("bad_identity", f"field {field!r} = {value} is outside 0..65535")
    return value


@dataclass(frozen=True, slots=True)
class IBeacon:
    """An iBeacon identity.

    Attributes:
        uuid: Proximity UUID, 32 lowercase hex digits.
        major: 0..65535.
        minor: 0..65535.
        measured_power: The advertised RSSI at 1 m (dBm), when known.
    """

    uuid: str
    major: int
    minor: int
    measured_power: int | None = None

    @classmethod
    def of(cls, uuid: object, major: object, minor: object,
           measured_power: int | None = None) -> IBeacon:
        """Validate and normalise the parts (raises ``PayloadError`` naming the bad part)."""
        return cls(normalize_uuid(uuid), _u16(major, "major"), _u16(minor, "minor"),
                   measured_power)

    @property
    def tag(self) -> str:
        """The canonical tag string ``ibeacon:<uuid32>:<major>:<minor>``."""
        return f"ibeacon:{self.uuid}:{self.major}:{self.minor}"


def ibeacon_tag(uuid: object, major: object, minor: object) -> str:
    """The canonical tag string of an iBeacon identity (validating every part)."""
    return IBeacon.of(uuid, major, minor).tag


@dataclass(frozen=True, slots=True)
class EddystoneUid:
    """An Eddystone-UID identity: a 10-byte namespace and a 6-byte instance (lowercase hex)."""

    namespace: str
    instance: str
    tx_power_0m: int | None = None

    @property
    def tag(self) -> str:
        """The canonical tag string ``eddystone:<namespace20>:<instance12>``."""
        return f"eddystone:{self.namespace}:{self.instance}"


def eddystone_tag(namespace: str, instance: str) -> str:
    """The canonical tag string of an Eddystone UID (validating both parts)."""
    ns = namespace.strip().lower().removeprefix("0x")
    ins = instance.strip().lower().removeprefix("0x")
    if len(ns) != 20 or not set(ns) <= _HEX:
        raise PayloadError("bad_identity", f"Eddystone namespace {_clip(namespace)!r} is not "
                                           "10 bytes of hex")
    if len(ins) != 12 or not set(ins) <= _HEX:
        raise PayloadError("bad_identity", f"Eddystone instance {_clip(instance)!r} is not "
                                           "6 bytes of hex")
    return EddystoneUid(ns, ins).tag


@dataclass(frozen=True, slots=True)
class AdvRecord:
    """What :func:`decode_advertisement` found in raw advertising data.

    Attributes:
        ibeacon: The iBeacon frame, if any.
        eddystone: The Eddystone-UID frame, if any.
        tx_power_level: The AD type 0x0A TX power level (dBm at the antenna), if any.
        name: The local name (AD types 0x08/0x09), if any.
        ruuvi_mac: The MAC a RuuviTag data-format-5 frame carries, if any (12 hex digits).
    """

    ibeacon: IBeacon | None = None
    eddystone: EddystoneUid | None = None
    tx_power_level: int | None = None
    name: str | None = None
    ruuvi_mac: str | None = None


def _s8(b: int) -> int:
    return b - 256 if b > 127 else b


def decode_advertisement(hex_data: str, *, field: str = "data") -> AdvRecord:
    """Decode the AD structures of raw BLE advertising data given as hex.

    Also accepts bare manufacturer-specific data starting with the company id (``4c000215...``),
    as OpenMQTTGateway publishes it. Unknown AD types are skipped.

    Raises:
        PayloadError: ``bad_value`` when the hex is malformed or an AD structure overruns
            the data.
    """
    h = hex_data.strip()
    if len(h) % 2:
        raise PayloadError("bad_value", f"field {field!r} has an odd number of hex digits")
    try:
        raw = bytes.fromhex(h)
    except ValueError:
        raise PayloadError("bad_value", f"field {field!r} is not hex") from None
    if len(raw) >= 4 and raw[0:2] == b"\x4c\x00" and raw[2] in (0x02, 0x10, 0x12):
        return _with_manufacturer(AdvRecord(), raw)
    rec = AdvRecord()
    i = 0
    while i < len(raw):
        length = raw[i]
        if length == 0:
            break
        if i + 1 + length > len(raw):
            raise PayloadError("bad_value", f"field {field!r}: AD structure at byte {i} "
                                            f"(length {length}) overruns the {len(raw)} bytes")
        ad_type = raw[i + 1]
        body = raw[i + 2:i + 1 + length]
        if ad_type == 0xFF:
            rec = _with_manufacturer(rec, body)
        elif ad_type == 0x16 and len(body) >= 20 and body[0:3] == b"\xaa\xfe\x00":
            rec = AdvRecord(rec.ibeacon, EddystoneUid(body[4:14].hex(), body[14:20].hex(),
                                                      _s8(body[3])),
                            rec.tx_power_level, rec.name, rec.ruuvi_mac)
        elif ad_type == 0x0A and len(body) == 1:
            rec = AdvRecord(rec.ibeacon, rec.eddystone, _s8(body[0]), rec.name, rec.ruuvi_mac)
        elif ad_type in (0x08, 0x09):
            rec = AdvRecord(rec.ibeacon, rec.eddystone, rec.tx_power_level,
                            body.decode("utf-8", "replace"), rec.ruuvi_mac)
        i += 1 + length
    return rec


def _with_manufacturer(rec: AdvRecord, body: bytes) -> AdvRecord:
    if len(body) >= 25 and body[0:4] == b"\x4c\x00\x02\x15":
        beacon = IBeacon(body[4:20].hex(), int.from_bytes(body[20:22], "big"),
                         int.from_bytes(body[22:24], "big"), _s8(body[24]))
        return AdvRecord(beacon, rec.eddystone, rec.tx_power_level, rec.name, rec.ruuvi_mac)
    if len(body) >= 26 and body[0:3] == b"\x99\x04\x05":
        return AdvRecord(rec.ibeacon, rec.eddystone, rec.tx_power_level, rec.name,
                         body[20:26].hex())
    return rec
