"""The event/track/dead-letter values and headers: GeoJSON, canonical JSON, schemas, CloudEvents."""

from __future__ import annotations

import base64
import dataclasses
import json
import math

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from jsonschema import Draft202012Validator
from spoil import DELETE, spoilt

from alerts import CodecError
from alerts.consumer import EventFilter, format_event_line
from alerts.codec import (
    cloudevents_headers,
    context_headers,
    deadletter_headers,
    decode_event,
    encode_deadletter,
    encode_event,
    encode_events,
    encode_track,
    encode_tracks,
    event_from_feature,
    event_to_feature,
    iso_utc,
    load_schema,
    track_headers,
)
from config.records import TrackUpdate, position_quality
from proximity.events import Subject

T0_S = 1_714_564_800.0  # 2024-05-01T12:00:00Z, as in conftest.py


@pytest.mark.parametrize("name", ["event", "context", "track", "deadletter", "feed_health"])
def test_committed_schemas_are_valid_draft_2020_12(name):
    schema = load_schema(f"{name}.v1.json")
    Draft202012Validator.check_schema(schema)
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"


def test_iso_utc_has_milliseconds_and_z():
    assert iso_utc(1_714_564_800.0) == "2024-05-01T12:00:00.000Z"
    assert iso_utc(1_714_564_800.1234) == "2024-05-01T12:00:00.123Z"
    with pytest.raises(CodecError):
        iso_utc(math.nan)


def test_one_subject_is_a_point(event_factory, subject_factory):
    ev = event_factory(kind="zone_entry", subjects=(subject_factory(lon=28.1, lat=59.4),), metrics={"distance_m": 1.0})
    assert event_to_feature(ev)["geometry"] == {"type": "Point", "coordinates": [28.1, 59.4]}


def test_two_subjects_are_the_segment_between_them(event_factory):
    geom = event_to_feature(event_factory())["geometry"]
    assert geom == {"type": "LineString", "coordinates": [[27.50, 59.90], [27.52, 59.91]]}


def test_predicted_cpa_positions_give_the_segment_at_cpa(event_factory):
    metrics = {"cpa_m": 300.0, "tcpa_s": 120.0, "cpa_a_lon_deg": 27.6, "cpa_a_lat_deg": 59.95,
               "cpa_b_lon_deg": 27.61, "cpa_b_lat_deg": 59.952}
    feature = event_to_feature(event_factory(kind="predicted_close_approach", metrics=metrics))
    assert feature["geometry"]["coordinates"] == [[27.6, 59.95], [27.61, 59.952]]
    assert feature["properties"]["metrics"]["cpa_a_lon_deg"] == 27.6


def test_segment_across_the_antimeridian_is_split(event_factory, subject_factory, validators):
    # Bering Strait: 179.9 E to 179.9 W (RFC 7946 section 3.1.9)
    subs = (subject_factory("ais:273000001", lon=179.9, lat=65.0), subject_factory("ais:366000001", "nato", -179.9, 65.2))
    feature = event_to_feature(event_factory(subjects=subs))
    geom = feature["geometry"]
    assert geom["type"] == "MultiLineString"
    (a, x1), (x2, b) = geom["coordinates"]
    assert a == [179.9, 65.0] and b == [-179.9, 65.2]
    assert x1[0] == 180.0 and x2[0] == -180.0 and x1[1] == x2[1] == pytest.approx(65.1)
    validators["event"].validate(feature)


def test_three_subjects_are_a_multipoint(event_factory, subject_factory):
    subs = tuple(subject_factory(f"ais:27300000{i}", lon=27.0 + i, lat=59.0) for i in range(3))
    assert event_to_feature(event_factory(subjects=subs))["geometry"]["type"] == "MultiPoint"


def test_properties_carry_every_event_field(event_factory):
    ev = event_factory(seq=3, state="update", zone_id="ee-ru-10km", zone_name="EE/RU border 10 km",
                       integrity_suspect=True, close_reason=None)
    p = event_to_feature(ev)["properties"]
    for name in ("event_id", "kind", "state", "seq", "t_s", "severity", "summary", "zone_id", "zone_name",
                 "integrity_suspect", "close_reason", "detected_s"):
        assert p[name] == getattr(ev, name), name
    assert p["time"] == "2024-05-01T12:00:03.000Z"
    assert p["detected_at"] == "2024-05-01T12:00:01.500Z"
    assert p["schema_version"] == "1.6"
    assert p["subjects"][0]["callsign"] == "UBAA" and p["subjects"][1]["course_deg"] == 181.0
    assert p["subjects"][0]["time"] == "2024-05-01T12:00:00.000Z"


def test_schema_1_2_who_where_and_which_rule_round_trip(event_factory, subject_factory, validators):
    from dataclasses import replace

    subs = (replace(subject_factory("ais:211000001", side="nato"), category="civil", stationary=True, in_port=True),
            replace(subject_factory("ais:273000001"), category="military", suspect=True))
    ev = replace(event_factory(subjects=subs, integrity_suspect=True), rule="military@1/close-military-civil",
                 integrity_reasons=("jump", "spoofing"))
    feature = event_to_feature(ev)
    validators["event"].validate(feature)
    p = feature["properties"]
    assert p["rule"] == "military@1/close-military-civil" and p["integrity_reasons"] == ["jump", "spoofing"]
    assert p["suppressed"] is None
    assert [(s["category"], s["stationary"], s["in_port"]) for s in p["subjects"]] == [
        ("civil", True, True), ("military", False, False)]
    assert event_from_feature(feature) == ev
    # a 1.2 value (without these members) still reads, with their defaults
    older = json.loads(json.dumps(feature))
    for k in ("rule", "integrity_reasons", "suppressed"):
        del older["properties"][k]
    for s in older["properties"]["subjects"]:
        for k in ("category", "stationary", "in_port"):
            del s[k]
    older["properties"]["schema_version"] = "1.2"
    validators["event"].validate(older)
    back = event_from_feature(older)
    assert back.rule is None and back.integrity_reasons == () and back.subjects[1].category == "unknown"
    # a context event says why it was not raised
    ctx = replace(ev, suppressed="in_port", rule=None)
    assert event_to_feature(ctx)["properties"]["suppressed"] == "in_port"
    assert "NOT-RAISED:in_port" in format_event_line(event_to_feature(ctx))
    line = format_event_line(feature)
    assert "[nato,civil,in-port,stationary]" in line and "[russia,military]" in line
    assert "INTEGRITY-SUSPECT(jump,spoofing)" in line and "rule=military@1/close-military-civil" in line


def test_subject_report_time_is_carried_beside_the_position_time(event_factory, subject_factory, validators):
    # a close approach's subjects are dead-reckoned from their reports to the event time
    a = subject_factory("ais:273123456", t_s=T0_S + 5.0, report_t_s=T0_S + 1.0)
    b = subject_factory("ais:230123456", "nato", t_s=T0_S + 5.0, report_t_s=T0_S + 5.0)
    feature = json.loads(encode_event(event_factory(subjects=(a, b), t_s=T0_S + 5.0)))
    validators["event"].validate(feature)
    subjects = feature["properties"]["subjects"]
    assert [(s["t_s"], s["report_t_s"]) for s in subjects] == [(T0_S + 5.0, T0_S + 1.0), (T0_S + 5.0, T0_S + 5.0)]


def test_encoding_is_canonical_and_stable_but_for_detection_time(event_factory):
    a = encode_event(event_factory(detected_s=1_714_564_801.0))
    b = encode_event(event_factory(detected_s=1_714_564_999.0))
    assert a == encode_event(event_factory(detected_s=1_714_564_801.0))
    assert a != b
    da, db = json.loads(a), json.loads(b)
    for d in (da, db):
        d["properties"].pop("detected_s")
        d["properties"].pop("detected_at")
    assert da == db
    assert a == json.dumps(json.loads(a), sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()
    assert b" " not in a.replace(b"two ships of opposite sides within 1 NM", b"")


def test_non_finite_subject_position_is_a_codec_error(event_factory, subject_factory):
    ev = event_factory(subjects=(subject_factory(lon=math.nan),))
    with pytest.raises(CodecError, match="event close_approach-0123456789abcdef seq 0"):
        encode_event(ev)


def test_decode_event_round_trip_and_rejections(event_factory):
    ev = event_factory()
    assert decode_event(encode_event(ev)) == event_to_feature(ev)
    with pytest.raises(CodecError, match="not UTF-8 JSON"):
        decode_event(b"\xff{")
    v2 = json.loads(encode_event(ev))
    v2["properties"]["schema_version"] = "2.0"
    with pytest.raises(CodecError, match="schema_version '2.0'"):
        decode_event(json.dumps(v2).encode())
    with pytest.raises(CodecError, match="expected an object"):
        decode_event(b"[1]")


def test_encoded_values_validate_and_use_exactly_the_schema_members(
    event_factory, track_factory, deadletter_factory, validators
):
    checks = [
        ("event", json.loads(encode_event(event_factory())), None),
        ("track", json.loads(encode_track(track_factory(3))), None),
        ("deadletter", json.loads(encode_deadletter(deadletter_factory())), None),
    ]
    for name, value, _ in checks:
        validators[name].validate(value)
        schema = load_schema(f"{name}.v1.json")
        if name == "event":
            members = schema["$defs"]["EventProperties"]["properties"]
            # every member but truncated (written only when a text was cut), cells (only on
            # area-level kinds) and notification (only about an area a notice made)
            assert set(value["properties"]) == set(members) - {"truncated", "cells", "notification"}
            subject_members = schema["$defs"]["Subject"]["properties"]
            assert all(set(s) == set(subject_members) for s in value["properties"]["subjects"])
        elif name == "track":
            # every member the producer writes is documented; those of 1.0 are required,
            # the ones a minor version added are optional (values of 1.1 still validate)
            assert set(value) == set(schema["properties"])
            assert set(schema["required"]) < set(value)
            assert value["schema_version"] == "1.2"
        else:
            # the schema documents every member the producer writes, no more, no fewer; members
            # added in a minor version are optional (values of 1.1 on the topic still validate)
            since_1_3 = {"stage", "raw_bytes", "detail", "file"} if name == "deadletter" else set()
            assert set(value) == set(schema["properties"]) == set(schema["required"]) | since_1_3


def test_an_oversized_text_is_cut_and_named_and_the_value_stays_small(event_factory, subject_factory, validators):
    from alerts.codec import MAX_EVENT_TEXT_CHARS

    huge = "X" * 600_000  # a 600 kB callsign
    ev = event_factory(subjects=(subject_factory(callsign=huge, name="ship"),), summary=f"{huge} entered zone",
                       zone_name="z")
    value = encode_event(ev)
    assert len(value) < 10 * MAX_EVENT_TEXT_CHARS
    p = json.loads(value)["properties"]
    validators["event"].validate(json.loads(value))
    assert p["truncated"] == ["subjects[0].callsign", "summary"]
    assert len(p["subjects"][0]["callsign"]) == MAX_EVENT_TEXT_CHARS and p["subjects"][0]["callsign"].endswith("…")
    assert p["subjects"][0]["name"] == "ship"
    assert event_from_feature(json.loads(value)).subjects[0].callsign == p["subjects"][0]["callsign"]
    assert value == encode_events([ev])[0][0]  # the batch encoder writes the same bytes


def test_a_dead_letter_keeps_at_most_64_kib_of_its_input_and_says_how_long_it_was(deadletter_factory, validators):
    from alerts.codec import MAX_DEADLETTER_RAW_BYTES
    from config.records import DeadLetter

    letter = DeadLetter("f", 7, b"\xff" * 1_000_000, "oversized input", stage="decode")
    value = json.loads(encode_deadletter(letter))
    validators["deadletter"].validate(value)
    assert value["raw_bytes"] == 1_000_000 and value["stage"] == "decode"
    assert len(base64.b64decode(value["raw_base64"])) == MAX_DEADLETTER_RAW_BYTES


def test_feed_health_values_validate_and_carry_their_type(validators):
    from alerts.codec import FEED_HEALTH_CE_TYPE, encode_feed_health, feed_health_headers
    from config.records import FeedHealth

    h = FeedHealth("ais", "restarting", 1_714_564_800.5, 1_714_564_790.0, "connection refused", 2)
    value = json.loads(encode_feed_health(h))
    validators["feed_health"].validate(value)
    schema = load_schema("feed_health.v1.json")
    assert set(value) == set(schema["properties"]) == set(schema["required"])
    headers = dict(feed_health_headers(h))
    assert headers["ce_type"] == FEED_HEALTH_CE_TYPE.encode() and headers["ce_subject"] == b"ais"


def test_every_event_kind_and_state_validates(event_factory, subject_factory, validators):
    from proximity.events import EVENT_KINDS, EVENT_STATES

    for kind in EVENT_KINDS:
        for state in EVENT_STATES:
            ev = event_factory(kind=kind, state=state, subjects=(subject_factory(),), detected_s=None,
                               close_reason="separated" if state == "closed" else None)
            validators["event"].validate(json.loads(encode_event(ev)))


def test_cloudevents_binary_mode_headers(event_factory):
    ev = event_factory(seq=7, kind="predicted_close_approach")
    headers = dict(cloudevents_headers(ev))
    assert headers["ce_specversion"] == b"1.0"
    assert headers["ce_id"] == b"close_approach-0123456789abcdef:7"
    assert headers["ce_source"] == b"urn:closewatch"
    assert headers["ce_type"] == b"org.closewatch.event.predicted_close_approach.v1"
    assert headers["ce_time"] == b"2024-05-01T12:00:07.000Z"
    assert headers["content-type"] == b"application/geo+json"
    assert all(isinstance(v, bytes) for v in headers.values())


def test_context_events_validate_against_their_schema_and_carry_their_own_type(event_factory, validators):
    from dataclasses import replace

    ev = replace(event_factory(seq=2), suppressed="in_port")
    value = json.loads(encode_event(ev))
    validators["context"].validate(value)
    validators["event"].validate(value)  # a context value is an event value
    headers = dict(context_headers(ev))
    assert headers["ce_type"] == b"org.closewatch.context.close_approach.v1"
    assert {k: v for k, v in headers.items() if k != "ce_type"} == {
        k: v for k, v in cloudevents_headers(ev) if k != "ce_type"}
    assert encode_events([ev], ce_type=lambda kind: f"org.closewatch.context.{kind}.v1") == [
        (encode_event(ev), context_headers(ev))]
    # an event that was raised (suppressed null), or one whose event part is wrong, is no context value
    raised = json.loads(encode_event(event_factory()))
    with pytest.raises(Exception, match="suppressed|None is not of type"):
        validators["context"].validate(raised)
    del value["properties"]["seq"]
    assert not validators["context"].is_valid(value)


def test_track_and_deadletter_headers(track_factory, deadletter_factory):
    th = dict(track_headers(track_factory(1)))
    assert th["ce_type"] == b"org.closewatch.track.v1" and th["content-type"] == b"application/json"
    assert th["ce_id"] == b"icao:4b1a01@1714564801000"
    dh = dict(deadletter_headers(deadletter_factory(4)))
    assert dh["ce_id"] == b"ais-dma:5" and dh["ce_type"] == b"org.closewatch.deadletter.v1"


def test_dead_letter_keeps_exact_bytes_and_a_printable_form(deadletter_factory, validators):
    raw = b"\x00\xffbad \xe2\x82\xac line\n"
    value = json.loads(encode_deadletter(deadletter_factory(raw=raw)))
    validators["deadletter"].validate(value)
    assert base64.b64decode(value["raw_base64"]) == raw
    assert value["raw_text"] == "\x00\\xffbad \u20ac line\n"
    assert value["received_at"] == "2024-05-01T12:00:00.000Z"


def test_track_value_fields(track_factory):
    value = json.loads(encode_track(track_factory(2, heading_deg=None)))
    assert value["track_id"] == "icao:4b1a02" and value["time"] == "2024-05-01T12:00:02.000Z"
    assert value["heading_deg"] is None and value["alt_m"] == 9000.0


def test_track_value_carries_who_context_and_quality(track_factory, validators):
    from alerts.codec import TRACK_SCHEMA_VERSION

    u = track_factory(3, alt_ref="baro", alt_geom_m=9120.0, category="military",
                      category_source="icao_military_block:US", on_ground=False,
                      quality=position_quality(adsb_version=2, nic=8, nac_p=10, nac_v=2, sil=3, gva=2,
                                               gnss_ok_before_s=T0_S - 60.0))
    value = json.loads(encode_track(u))
    validators["track"].validate(value)
    assert value["schema_version"] == TRACK_SCHEMA_VERSION == "1.2"
    assert (value["category"], value["category_source"]) == ("military", "icao_military_block:US")
    assert (value["alt_ref"], value["alt_geom_m"], value["on_ground"], value["nav_status"]) == ("baro", 9120.0, False, None)
    assert value["quality"] == {"accuracy_high": None, "raim": None, "adsb_version": 2, "nic": 8, "nac_p": 10, "nac_v": 2,
                                "sil": 3, "gva": 2, "nuc_p": None, "gnss_ok_before_s": T0_S - 60.0}
    ship = track_factory(4, track_id="ais:211211450", domain="sea", category="military", category_source="ais_type_35",
                         nav_status=5, quality=position_quality(accuracy_high=True, raim=False))
    value = json.loads(encode_track(ship))
    validators["track"].validate(value)
    assert (value["nav_status"], value["quality"]["accuracy_high"], value["quality"]["raim"]) == (5, True, False)
    assert json.loads(encode_track(track_factory(5)))["quality"] is None
    # A value of schema 1.1 (before these members) still validates against the schema.
    older = {k: v for k, v in value.items() if k in load_schema("track.v1.json")["required"]}
    validators["track"].validate({**older, "schema_version": "1.1"})
    # The generic track format and the maps read the value back, fields and all (config lists aside).
    from ingest.tracks import TracksJsonlDecoder
    from maps.features import track_update

    (back,) = TracksJsonlDecoder("again").decode([encode_track(u)])
    assert (back.category, back.category_source, back.quality) == ("military", "icao_military_block:US", u.quality)
    assert track_update(json.loads(encode_track(u))) == dataclasses.replace(u, source=u.source)


# -- batch encoding of tracks: the same bytes as one by one -----------------------------------

_text = st.one_of(st.none(), st.text(max_size=12))
_small = st.one_of(st.none(), st.floats(min_value=-1e-3, max_value=1e-3, allow_nan=False),
                   st.floats(min_value=0, max_value=1000, allow_nan=False))
_tracks = st.builds(
    TrackUpdate,
    track_id=st.from_regex(r"(ais|icao|cot|ext):[0-9a-z]{1,9}", fullmatch=True),
    source=st.sampled_from(["ais-dma", "sbs", "e-2"]),
    # epoch times with sub-millisecond fractions, the 1970 and 9999 edges included
    t_s=st.one_of(st.floats(min_value=0, max_value=253_402_300_799.999), st.integers(0, 2**31).map(float),
                  st.integers(1_714_564_800_000, 1_714_564_900_000).map(lambda ms: ms / 1000 + 0.0005)),
    lat_deg=st.floats(min_value=-90, max_value=90),
    lon_deg=st.floats(min_value=-180, max_value=180),
    domain=st.sampled_from(["air", "sea", "land"]),
    side=st.sampled_from(["nato", "russia", "other", "unknown"]),
    alt_m=st.one_of(st.none(), st.floats(min_value=-500, max_value=40_000)),
    speed_mps=st.one_of(st.none(), st.floats(min_value=0, max_value=1500)),
    course_deg=st.one_of(st.none(), st.floats(min_value=0, max_value=360)),
    vrate_mps=_small,
    callsign=_text,
    name=_text,
    type_code=_text,
    alt_geom_m=st.one_of(st.none(), st.floats(min_value=-500, max_value=40_000)),
    category=st.sampled_from(["military", "state", "civil", "unknown"]),
    category_source=st.one_of(st.none(), st.text(min_size=1, max_size=20)),
    nav_status=st.one_of(st.none(), st.integers(0, 14)),
    on_ground=st.one_of(st.none(), st.booleans()),
    quality=st.builds(
        position_quality,
        accuracy_high=st.one_of(st.none(), st.booleans()),
        raim=st.one_of(st.none(), st.booleans()),
        adsb_version=st.one_of(st.none(), st.integers(0, 7)),
        nic=st.one_of(st.none(), st.integers(0, 11)),
        nac_p=st.one_of(st.none(), st.integers(0, 11)),
        sil=st.one_of(st.none(), st.integers(0, 3)),
        gnss_ok_before_s=st.one_of(st.none(), st.floats(min_value=0, max_value=4e9)),
    ),
)


@settings(max_examples=300, deadline=None)
@given(st.lists(_tracks, min_size=1, max_size=20))
def test_batch_encoding_gives_the_bytes_of_one_by_one(tracks):
    assert encode_tracks(tracks, "urn:test") == [(encode_track(t), track_headers(t, "urn:test")) for t in tracks]


@pytest.mark.parametrize("speed", [1e-05, 0.00004, 10.00001, 120.000012, 3.5e-07, 0.0, 1e-4])
@pytest.mark.parametrize("name", [None, "plane-1", "0.00001", "1e-05"])
def test_batch_encoding_of_small_numbers_and_lookalike_text(track_factory, speed, name):
    """Where pydantic-core writes a number unlike Python (below 1e-4) the batch takes the slow
    path; text that only looks like such a number, or a number like 10.00001, does not matter."""
    tracks = [track_factory(0, name=name), track_factory(1, speed_mps=speed, name=name), track_factory(2)]
    assert encode_tracks(tracks) == [(encode_track(t), track_headers(t)) for t in tracks]


def test_batch_encoding_refuses_what_one_by_one_refuses(track_factory):
    bad = track_factory(1, name="\ud800")  # a lone surrogate: valid text for the record, not UTF-8
    with pytest.raises(CodecError, match="not encodable"):
        encode_tracks([track_factory(0), bad])
    with pytest.raises(CodecError, match="not encodable"):
        encode_track(bad)


_subjects = st.lists(st.builds(
    Subject,
    track_id=st.from_regex(r"(ais|icao|cot):[0-9a-z]{1,9}", fullmatch=True),
    side=st.sampled_from(["nato", "russia", "other", "unknown"]),
    domain=st.sampled_from(["air", "sea", "land"]),
    t_s=st.floats(min_value=0, max_value=2e9),
    lat_deg=st.floats(min_value=-90, max_value=90),
    lon_deg=st.floats(min_value=-180, max_value=180),
    alt_m=_small, speed_mps=_small, course_deg=_small, callsign=_text, name=_text, type_code=_text, country=_text,
    suspect=st.booleans(), report_t_s=st.one_of(st.none(), st.floats(min_value=0, max_value=2e9)),
), min_size=1, max_size=3)


_metrics = st.dictionaries(st.text(min_size=1, max_size=8), st.floats(allow_nan=False, allow_infinity=False),
                           max_size=6)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.tuples(_subjects, _metrics, st.text(max_size=30), st.one_of(st.none(), st.floats(0, 2e9))),
                min_size=1, max_size=8))
def test_batch_encoding_of_events_gives_the_bytes_of_one_by_one(event_factory, drawn):
    events = [event_factory(f"close_approach-{i:016x}", i, subjects=subjects, metrics=metrics, summary=summary,
                            detected_s=detected)
              for i, (subjects, metrics, summary, detected) in enumerate(drawn)]
    assert encode_events(events, "urn:test") == [(encode_event(e), cloudevents_headers(e, "urn:test"))
                                                 for e in events]


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(_subjects, _metrics, st.sampled_from(["open", "update", "closed"]), st.integers(0, 10_000),
       st.one_of(st.none(), st.text(max_size=10)), st.one_of(st.none(), st.floats(0, 2e9)), st.booleans())
def test_the_value_gives_back_the_event(event_factory, subjects, metrics, state, seq, zone, detected, suspect):
    """event_from_feature inverts event_to_feature, also through the canonical bytes."""
    ev = event_factory(f"zone_entry-{seq:016x}", seq, kind="zone_entry", state=state, subjects=tuple(subjects),
                       metrics=metrics, zone_id=zone, zone_name=zone, detected_s=detected,
                       integrity_suspect=suspect, close_reason="left" if state == "closed" else None)
    assert event_from_feature(event_to_feature(ev)) == ev
    assert event_from_feature(decode_event(encode_event(ev))) == ev


def test_zone_level_event_without_subjects_gives_back_the_event(event_factory):
    metrics = {"distance_to_border_m": 20685.3, "zone_lon_deg": 28.1476, "zone_lat_deg": 57.8554,
               "border_lon_deg": 27.7993, "border_lat_deg": 57.8611}
    ev = event_factory("exercise_near_border-1", kind="exercise_near_border", subjects=(), metrics=metrics,
                       zone_id="exercise:pskov-snap-1")
    assert event_from_feature(event_to_feature(ev)) == ev


@pytest.mark.parametrize(
    ("path", "value", "match"),
    [
        ("type", "FeatureCollection", "not a GeoJSON Feature"),
        ("properties", None, "without properties"),
        ("properties.event_id", DELETE, "without event_id"),
        ("properties.schema_version", "2.0", r"schema_version '2\.0' is not 1\.x"),
        ("properties.kind", "teleport", "kind 'teleport'"),
        ("properties.state", "gone", "state 'gone'"),
        ("properties.severity", "loud", "severity='loud' is not one of info, warning, critical"),
        ("properties.seq", 1.5, "seq=1.5 is not an integer"),
        ("properties.t_s", "2024-05-01T12:00:00Z", r"t_s='2024.*' is not a number"),
        ("properties.t_s", True, "t_s=True is not a number"),
        ("properties.summary", DELETE, "no summary"),
        ("properties.metrics", {"distance_m": "far"}, r"metrics: distance_m='far' is not a number"),
        ("properties.subjects", [], "needs at least one subject"),
        ("properties.subjects.0.lat_deg", DELETE, r"subject 0 \(ais:273123456\) has no position"),
        ("properties.subjects.1.track_id", "", "subject 1 has no track_id"),
        ("properties.subjects.0.side", "blue", "side='blue' is not one of"),
    ],
)
def test_a_value_that_is_not_an_event_is_named(event_factory, path, value, match):
    feature = spoilt(event_to_feature(event_factory()), {path: value})
    with pytest.raises(CodecError, match=match):
        event_from_feature(feature)


def test_members_of_a_later_minor_version_are_ignored_and_nullable_ones_may_be_absent(event_factory):
    ev = event_factory()
    feature = spoilt(event_to_feature(ev), {"properties.schema_version": "1.7", "properties.risk_score": 0.3,
                                            "properties.subjects.0.heading_deg": 12.0,
                                            "properties.zone_name": DELETE, "properties.subjects.1.country": DELETE})
    assert event_from_feature(feature) == ev


def test_an_area_event_carries_its_cells_as_a_multipolygon_and_reads_back(event_factory, validators):
    """gnss_interference (schema 1.5): no subjects, its H3 cells in ``cells``, one hexagon each."""
    import h3
    from shapely.geometry import Point, shape

    home = h3.latlng_to_cell(55.0, 20.0, 4)
    cells = (home, sorted(h3.grid_ring(home, 1))[0])
    metrics = {"n_cells": 2.0, "area_km2": 3_500.0, "aircraft": 12.0, "degraded_aircraft": 9.0, "share": 0.75,
               "centre_lat_deg": 55.0, "centre_lon_deg": 20.0, "growth_km2": 1_750.0}
    ev = event_factory(event_id="gnss_interference-0123456789abcdef", kind="gnss_interference", subjects=(),
                       metrics=metrics, cells=cells, severity="warning")
    feature = json.loads(encode_event(ev))
    validators["event"].validate(feature)
    assert feature["properties"]["cells"] == list(cells) and feature["properties"]["schema_version"] == "1.6"
    geom = feature["geometry"]
    assert geom["type"] == "MultiPolygon" and len(geom["coordinates"]) == 2
    for cell, poly in zip(cells, geom["coordinates"]):
        ring = poly[0]
        assert ring[0] == ring[-1] and len(ring) == 7  # a closed hexagon
        lat, lon = h3.cell_to_latlng(cell)
        assert shape({"type": "Polygon", "coordinates": poly}).contains(Point(lon, lat))
        assert shape({"type": "Polygon", "coordinates": poly}).exterior.is_ccw  # RFC 7946 section 3.1.6
    assert event_from_feature(feature) == dataclasses.replace(ev)
    assert EventFilter(bbox=(19.0, 53.0, 22.0, 56.0)).matches(feature)  # closewatch tail --bbox
    assert not EventFilter(bbox=(0.0, 0.0, 1.0, 1.0)).matches(feature)
    line = format_event_line(feature)
    assert "area=3500km2/2cells degraded=9/12(75%) growth=+1750km2" in line
    # a subjectless value of another kind still fails the contract
    bad = json.loads(json.dumps(feature))
    bad["properties"]["kind"] = "close_approach"
    assert not validators["event"].is_valid(bad)
    # a cell that is not an H3 index is refused on encoding
    with pytest.raises(CodecError, match="not an H3 cell"):
        encode_event(dataclasses.replace(ev, cells=("nonsense",)))
