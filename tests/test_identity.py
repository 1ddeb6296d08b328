"""MAC, iBeacon and Eddystone identities, and advertisement decoding."""

from __future__ import annotations

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gateway.errors import PayloadError
from gateway.identity import (
    IBeacon,
    decode_advertisement,
    eddystone_tag,
    ibeacon_tag,
    is_mac,
    normalize_mac,
    normalize_uuid,
)
from tests.conftest import shared_path


@pytest.mark.parametrize("text", ["AA:BB:CC:DD:EE:0F", "aa-bb-cc-dd-ee-0f", "AABBCCDDEE0F",
                                  "aabbccddee0f", " aa:bb:cc:dd:ee:0f ", "aabb.ccdd.ee0f"])
def test_mac_spellings(text: str) -> None:
    assert normalize_mac(text) == "aabbccddee0f" and is_mac(text)


@pytest.mark.parametrize("text", ["F3:52:85", "aa:bb:cc:dd:ee", "aa:bb-cc:dd:ee:ff",
                                  "gg:bb:cc:dd:ee:ff", "aabbccddeeff00", ""])
def test_bad_mac(text: str) -> None:
    with pytest.raises(PayloadError) as ei:
        normalize_mac(text, field="id")
    assert ei.value.reason == "bad_identity" and "'id'" in ei.value.detail
    with pytest.raises(PayloadError) as ei:
        normalize_mac(12)
    assert ei.value.reason == "wrong_type"


@given(st.binary(min_size=6, max_size=6), st.sampled_from([":", "-", ""]), st.booleans())
def test_mac_roundtrip(raw: bytes, sep: str, upper: bool) -> None:
    text = sep.join(f"{b:02x}" for b in raw)
    assert normalize_mac(text.upper() if upper else text) == raw.hex()


def test_ibeacon() -> None:
    tag = ibeacon_tag("E2C56DB5-DFFB-48D2-B060-D0F5A71096E0", 10002, "5208")
    assert tag == "ibeacon:e2c56db5dffb48d2b060d0f5a71096e0:10002:5208"
    assert normalize_uuid("FDA50693A4E24FB1AFCFC6EB07647825") == "fda50693a4e24fb1afcfc6eb07647825"
    for bad in [("xyz", 1, 2), ("e2c56db5dffb48d2b060d0f5a71096e0", 70000, 1),
                ("e2c56db5dffb48d2b060d0f5a71096e0", -1, 1)]:
        with pytest.raises(PayloadError) as ei:
            IBeacon.of(*bad)
        assert ei.value.reason == "bad_identity"
    with pytest.raises(PayloadError):
        IBeacon.of("e2c56db5dffb48d2b060d0f5a71096e0", 1.5, 1)


def test_eddystone() -> None:
    assert eddystone_tag("0xEDD1EBEAC04E5DEFA017", "0BDB87539B67") == \
        "eddystone:edd1ebeac04e5defa017:0bdb87539b67"
    with pytest.raises(PayloadError):
        eddystone_tag("abc", "0bdb87539b67")
    # a full UID advertisement: flags, 16-bit service list, service data 0xFEAA frame 0x00
    adv = ("020106" "0303AAFE" "1716AAFE00E7" "EDD1EBEAC04E5DEFA017" "0BDB87539B67" "0000")
    rec = decode_advertisement(adv)
    assert rec.eddystone is not None and rec.eddystone.tx_power_0m == -25
    assert rec.eddystone.tag == "eddystone:edd1ebeac04e5defa017:0bdb87539b67"


def test_decode_advertisement_ibeacon_and_ruuvi() -> None:
    rec = decode_advertisement("0201061AFF4C000215B9A5D27D56CC4E3AAB511F2153BCB9670001452ED6")
    assert rec.ibeacon == IBeacon("b9a5d27d56cc4e3aab511f2153bcb967", 1, 17710, -42)
    rec = decode_advertisement("0201061BFF99040515AE4C6DC6D7000CFFF803F4ADB6AD697FF41F0C28CBD6")
    assert rec.ruuvi_mac == "f41f0c28cbd6" and rec.ibeacon is None
    rec = decode_advertisement("0201060C096D625F53496E394B50444A")
    assert rec.name == "mb_SIn9KPDJ"
    for bad in ("0201061AFF4C", "abc", "zz"):
        with pytest.raises(PayloadError) as ei:
            decode_advertisement(bad)
        assert ei.value.reason == "bad_value"


def test_theengs_decoder_ibeacon_vectors() -> None:
    vectors = json.loads(shared_path("fixtures", "gateway-payloads", "vectors",
                                     "theengs-decoder-mfg-vectors.json").read_text())
    checked = 0
    for v in vectors:
        exp = v["expected"]
        if exp.get("model_id") != "IBEACON":
            continue
        rec = decode_advertisement(v["input"]["manufacturerdata"])
        assert rec.ibeacon is not None
        assert (rec.ibeacon.uuid, rec.ibeacon.major, rec.ibeacon.minor) == (
            exp["uuid"], exp["major"], exp["minor"])
        if "txpower" in exp:
            assert rec.ibeacon.measured_power == exp["txpower"]
        checked += 1
    assert checked >= 2


@given(st.text(max_size=80))
def test_decode_never_crashes(text: str) -> None:
    try:
        decode_advertisement(text)
    except PayloadError as exc:
        assert exc.reason == "bad_value"
