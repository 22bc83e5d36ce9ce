"""Zone-level events (an exercise near the border) have no subject: their place is zone to border."""

import jsonschema
import pytest

from alerts.codec import decode_event, encode_event, event_geometry, load_schema
from alerts.errors import CodecError
from proximity.events import Event, Subject

METRICS = {
    "distance_to_border_m": 20685.3,
    "limit_m": 50000.0,
    "zone_lon_deg": 28.1476,
    "zone_lat_deg": 57.8554,
    "border_lon_deg": 27.7993,
    "border_lat_deg": 57.8611,
}


def _event(**kw):
    base = dict(event_id="exercise_near_border-1", kind="exercise_near_border", state="open", seq=0,
                t_s=1_773_137_400.0, severity="warning", subjects=(), summary="exercise 20.7 km from the border",
                zone_id="exercise:pskov-snap-1", metrics=METRICS)
    base.update(kw)
    return Event(**base)


def test_exercise_near_border_is_the_segment_from_zone_to_border_and_validates():
    e = _event()
    assert event_geometry(e) == {"type": "LineString", "coordinates": [[28.1476, 57.8554], [27.7993, 57.8611]]}
    feature = decode_event(encode_event(e))
    jsonschema.validate(feature, load_schema("event.v1.json"))
    assert feature["properties"]["subjects"] == []


def test_zone_touching_the_border_is_a_point():
    touching = {**METRICS, "distance_to_border_m": 0.0, "zone_lon_deg": 27.7993, "zone_lat_deg": 57.8611}
    assert event_geometry(_event(metrics=touching)) == {"type": "Point", "coordinates": [27.7993, 57.8611]}


def test_only_zone_level_kinds_may_have_no_subject():
    schema = load_schema("event.v1.json")
    feature = decode_event(encode_event(_event()))
    feature["properties"]["kind"] = "close_approach"
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(feature, schema)
    with pytest.raises(CodecError, match="no subject and no zone/border position"):
        event_geometry(_event(metrics={"distance_to_border_m": 1.0}))
    s = Subject("ais:1", "russia", "sea", 0.0, 59.9, 26.0)
    assert event_geometry(_event(kind="zone_entry", subjects=(s,)))["type"] == "Point"
