"""Bad input never crashes an adapter: a PayloadError with a reason and a detail, or a result."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gateway.adapters import (
    ADAPTERS,
    DEFAULT_TOPIC_MAP,
    ParseOptions,
    ParseResult,
    match_adapter,
    parse_message,
    topic_matches,
    validate_filter,
    validate_topic_map,
)
from gateway.errors import REASONS, PayloadError, TopicFilterError

NOW = 1_700_000_000.0
ESP = "espresense/devices/tag1/kitchen"
GOOD_ESP = b'{"id":"tag1","rssi":-70,"rssi@1m":-59}'


def reason(fmt: str, topic: str, payload: bytes, **kw: object) -> PayloadError:
    with pytest.raises(PayloadError) as ei:
        ADAPTERS[fmt](topic, payload, NOW, **kw)  # type: ignore[arg-type]
    assert ei.value.reason in REASONS and ei.value.detail
    return ei.value


def test_invalid_json_utf8_truncated_empty() -> None:
    assert reason("espresense", ESP, b"{not json").reason == "invalid_json"
    assert reason("espresense", ESP, b'{"rssi": -70, "id": "\xff\xfe"}').reason == "invalid_utf8"
    assert reason("minew", "/gw/ac233fc00000/status",
                  b'[{"mac":"AC233FC03641","rssi":-60},{"mac":"AC23').reason == "truncated"
    assert reason("espresense", ESP, b"").reason == "invalid_json"
    assert reason("canonical", "sporing/readings/x", b"NaN").reason == "invalid_json"


def test_wrong_types_and_missing_fields_name_the_field() -> None:
    e = reason("espresense", ESP, b'{"id":"tag1","rssi":"-70"}')
    assert e.reason == "wrong_type" and "'rssi'" in e.detail
    e = reason("espresense", ESP, b'{"id":"tag1"}')
    assert e.reason == "missing_field" and "'rssi'" in e.detail
    assert reason("espresense", ESP, b"[1,2]").reason == "wrong_type"
    assert reason("minew", "/gw/ac233fc00000/status", b'"x"').reason == "wrong_type"
    e = reason("ruuvi", "ruuvi/zz/yy", b'{"gw_mac":"not-a-mac","rssi":-50}')
    assert e.reason == "bad_identity" and "gw_mac" in e.detail


@pytest.mark.parametrize("rssi", [42, -200, 21])
def test_absurd_rssi(rssi: int) -> None:
    e = reason("espresense", ESP, b'{"id":"tag1","rssi":%d}' % rssi)
    assert e.reason == "absurd_rssi" and str(rssi) in e.detail


def test_too_large_is_checked_before_decoding() -> None:
    big = b"[" + b" " * 2_000_000 + b"]"
    assert reason("canonical", "sporing/readings/x", big).reason == "too_large"
    e = reason("espresense", ESP, GOOD_ESP, options=ParseOptions(max_bytes=10))
    assert e.reason == "too_large" and "10" in e.detail


def test_bad_received_at() -> None:
    with pytest.raises(PayloadError) as ei:
        ADAPTERS["espresense"](ESP, GOOD_ESP, float("nan"))
    assert ei.value.reason == "bad_time"


def test_canonical_single_and_batch() -> None:
    one = b'{"ts":1700000000.5,"gateway":"gw-1","tag":"c3000025ef6a","rssi":-71}'
    (rd,) = ADAPTERS["canonical"]("sporing/readings/a", one, NOW + 1).readings
    assert (rd.ts, rd.gateway, rd.tag, rd.rssi) == (1700000000.5, "gw-1", "c3000025ef6a", -71.0)
    batch = (b'[{"ts":1700000000,"gateway":"a","tag":"t","range_m":3.5},'
             b'{"ts":1700000000,"gateway":"a","tag":"t","rssi":-71,"range_m":2},'
             b'{"ts":1700000000,"gateway":"a","tag":"t","range_m":900}]')
    r = ADAPTERS["canonical"]("sporing/readings/a", batch, NOW)
    assert [x.range_m for x in r.readings] == [3.5]
    assert [(e.reason, e.detail[:9]) for e in r.errors] == [("bad_value", "element 1"),
                                                           ("bad_range", "element 2")]


def test_topic_filters() -> None:
    assert topic_matches("home/+/BTtoMQTT/#", "home/gw/BTtoMQTT/AABB")
    assert topic_matches("home/+/BTtoMQTT/#", "home/gw/BTtoMQTT")  # '#' includes the parent
    assert not topic_matches("home/+/BTtoMQTT/#", "home/gw/x/BTtoMQTT/AABB")
    assert topic_matches("tags", "tags") and not topic_matches("tags", "tags/x")
    assert topic_matches("+/+", "/x") and not topic_matches("+", "a/b")
    assert not topic_matches("#", "$SYS/broker") and topic_matches("$SYS/#", "$SYS/broker")
    assert topic_matches("/gw/+/status", "/gw/AC233FC03641/status")
    for bad in ("", "a/#/b", "a/b#", "a+/b"):
        with pytest.raises(TopicFilterError):
            validate_filter(bad)
    with pytest.raises(TopicFilterError, match="unknown format"):
        validate_topic_map([("x/#", "nope")])
    assert validate_topic_map(DEFAULT_TOPIC_MAP) == DEFAULT_TOPIC_MAP


def test_match_adapter_first_match_wins_and_parse_message() -> None:
    patterns = [("espresense/devices/special/#", "canonical"), ("espresense/#", "espresense")]
    found = match_adapter("espresense/devices/special/x", patterns)
    assert found is not None and found[0] == "canonical"
    assert match_adapter("nothing/here") is None
    r = parse_message(ESP, GOOD_ESP, NOW)
    assert r.readings[0].gateway == "kitchen"
    with pytest.raises(PayloadError) as ei:
        parse_message("nothing/here", GOOD_ESP, NOW)
    assert ei.value.reason == "unsupported"


TOPICS = {
    "canonical": "sporing/readings/a", "espresense": ESP,
    "openmqttgateway": "home/gw/BTtoMQTT/AABBCCDDEEFF", "theengs": "home/presence/gw",
    "minew": "/gw/AC233FC03641/status", "ruuvi": "ruuvi/C8:25:2D:8E:9C:2C/F4:1F:0C:28:CB:D6",
    "pozyx": "tags", "dwm1001": "dwm/node/0f07/uplink/location",
    "cassia": "up/CC:1B:E0:E2:8F:2C/scan", "moko": "mokosmart/x", "kontakt": "k",
    "sewio": "s", "ingics": "i",
}

# JSON-ish fragments so that Hypothesis reaches past the decoder often.
_json = st.recursive(
    st.none() | st.booleans() | st.integers(-300, 2**40) | st.floats(allow_nan=False)
    | st.sampled_from(["AA:BB:CC:DD:EE:FF", "Gateway", "iBeacon", "2021-01-01T00:00:00Z",
                       "online", "", "$GPRP"]),
    lambda kids: st.lists(kids, max_size=4) | st.dictionaries(
        st.sampled_from(["id", "mac", "rssi", "type", "gw_mac", "ts", "data", "tagId",
                         "position", "x", "y", "an0", "dist", "body", "datastreams", "msg_id",
                         "device_info", "value", "timestamp", "uuid", "major", "minor",
                         "gateway", "action", "tags", "anchorData", "coordinates"]),
        kids, max_size=6),
    max_leaves=12)


def _check(fmt: str, topic: str, payload: bytes) -> None:
    try:
        r = ADAPTERS[fmt](topic, payload, NOW)
    except PayloadError as exc:
        assert exc.reason in REASONS
        return
    assert isinstance(r, ParseResult)
    assert len(r.readings) == len(r.device_ts)
    assert all(e.reason in REASONS for e in r.errors)


@settings(max_examples=150, deadline=None)
@given(fmt=st.sampled_from(sorted(ADAPTERS)), payload=st.binary(max_size=200),
       topic=st.text(max_size=40))
def test_arbitrary_bytes_and_topics(fmt: str, payload: bytes, topic: str) -> None:
    _check(fmt, topic, payload)
    _check(fmt, TOPICS[fmt], payload)


@settings(max_examples=300, deadline=None)
@given(fmt=st.sampled_from(sorted(ADAPTERS)), doc=_json, topic=st.text(max_size=30))
def test_arbitrary_json_documents(fmt: str, doc: object, topic: str) -> None:
    import orjson
    payload = orjson.dumps(doc)
    _check(fmt, TOPICS[fmt], payload)
    _check(fmt, topic, payload)
    _check(fmt, TOPICS[fmt], b"[" + payload + b"]")


_FIELD_VALUES = st.one_of(
    st.none(), st.booleans(), st.integers(-2**40, 2**40), st.text(max_size=4),
    st.floats(allow_nan=False), st.sampled_from([-71, -71.5, 1_700_000_000, 12.0, 0, 21, -127]),
)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.one_of(
    st.dictionaries(st.sampled_from(["ts", "gateway", "tag", "rssi", "range_m", "tx_power",
                                     "extra"]), _FIELD_VALUES, max_size=7),
    st.builds(lambda ts, r, t, p: {"ts": ts, "gateway": "gw-1", "tag": t, "rssi": r,
                                   **({} if p == "absent" else {"tx_power": p})},
              st.one_of(st.integers(1_600_000_000, 1_800_000_000),
                        st.floats(1.6e9, 1.8e9)),
              st.one_of(st.integers(-130, 30), st.floats(-130, 30)), st.text(max_size=3),
              st.one_of(st.just("absent"), st.none(), st.integers(-80, -40), st.floats(),
                        st.booleans(), st.text(max_size=2))),
    _FIELD_VALUES), max_size=6))
def test_canonical_fast_path_agrees_with_the_validating_path(elements: list[object]) -> None:
    import orjson

    from gateway.adapters import _common as c
    from gateway.adapters import canonical

    payload = orjson.dumps(elements)  # (infinities become null on the way)
    got = ADAPTERS["canonical"]("sporing/readings/a", payload, NOW)
    ref = c.ResultBuilder(NOW, ParseOptions())
    ref.each(orjson.loads(payload), lambda _i, el: canonical._checked(ref, el))
    want = ref.build()
    assert got.readings == want.readings
    assert got.device_ts == want.device_ts
    assert [(e.reason, e.detail) for e in got.errors] == [(e.reason, e.detail)
                                                         for e in want.errors]


_GOOD_BLE = st.builds(
    lambda ts, gw, tag, r, p: {"ts": ts, "gateway": gw, "tag": tag, "rssi": r,
                               **({} if p == "absent" else {"tx_power": p})},
    st.one_of(st.integers(1_600_000_000, 1_800_000_000), st.floats(1.6e9, 1.8e9),
              st.floats(NOW - 5, NOW + 5)),
    st.sampled_from(["gw-1", "gw-2", "gw-3"]), st.text(min_size=1, max_size=3),
    st.one_of(st.integers(-130, 20), st.floats(-130, 20)),
    st.one_of(st.just("absent"), st.none(), st.integers(-130, 30), st.floats(-200, 30),
              st.just(0)))


@settings(max_examples=200, deadline=None)
@given(st.lists(_GOOD_BLE, min_size=1, max_size=40))
def test_canonical_array_column_path_agrees_with_the_validating_path(
        elements: list[dict[str, object]]) -> None:
    """Arrays of well-formed BLE readings take the column-wise path; it gives exactly what
    the per-element validating path gives (times, ids, tx power filtering, order)."""
    import orjson

    from gateway.adapters import _common as c
    from gateway.adapters import canonical

    payload = orjson.dumps(elements)
    fast = canonical._well_formed_ble(orjson.loads(payload), NOW, ParseOptions())
    assert fast is not None
    got = ADAPTERS["canonical"]("sporing/readings/a", payload, NOW)
    ref = c.ResultBuilder(NOW, ParseOptions())
    ref.each(orjson.loads(payload), lambda _i, el: canonical._checked(ref, el))
    want = ref.build()
    assert got.readings == want.readings == fast.readings
    assert got.device_ts == want.device_ts
    assert got.gateways == want.gateways and not got.errors


def test_one_bad_element_sends_the_whole_array_through_the_validating_path() -> None:
    import orjson

    good = {"ts": NOW, "gateway": "gw-1", "tag": "a", "rssi": -60}
    doc = [good, {**good, "rssi": 42}, {**good, "tag": "b"}, {**good, "rssi": True}]
    r = ADAPTERS["canonical"]("sporing/readings/a", orjson.dumps(doc), NOW)
    assert [x.tag for x in r.readings] == ["a", "b"]
    assert [(e.reason, e.detail.split(":")[0]) for e in r.errors] == [
        ("absurd_rssi", "element 1"), ("wrong_type", "element 3")]
