"""`closewatch tail` filters and the line format for people (no broker needed)."""

from __future__ import annotations

import pytest

from alerts import AlertsError
from alerts.codec import event_to_feature
from alerts.consumer import EventFilter, format_event_line, parse_bbox, parse_since


def test_empty_filter_keeps_everything(event_factory):
    assert EventFilter().matches(event_to_feature(event_factory()))


def test_kind_severity_side(event_factory, subject_factory):
    f = event_to_feature(event_factory(kind="close_approach", severity="critical"))
    assert EventFilter(kinds=frozenset({"close_approach", "zone_entry"})).matches(f)
    assert not EventFilter(kinds=frozenset({"zone_entry"})).matches(f)
    assert EventFilter(severities=frozenset({"critical"})).matches(f)
    assert not EventFilter(severities=frozenset({"info", "warning"})).matches(f)
    assert EventFilter(sides=frozenset({"nato"})).matches(f)  # the second subject
    assert not EventFilter(sides=frozenset({"other"})).matches(f)
    only_russia = event_to_feature(event_factory(subjects=(subject_factory(side="russia"),)))
    assert not EventFilter(sides=frozenset({"nato"})).matches(only_russia)


def test_bbox_and_antimeridian_bbox(event_factory, subject_factory):
    f = event_to_feature(event_factory())  # around 27.5E 59.9N
    assert EventFilter(bbox=parse_bbox("27,59,28,60")).matches(f)
    assert not EventFilter(bbox=parse_bbox("20,54,21,55")).matches(f)
    bering = event_to_feature(event_factory(subjects=(subject_factory(lon=-179.5, lat=65.5),)))
    across = EventFilter(bbox=parse_bbox("179,65,-179,66"))  # minlon > maxlon: crosses 180
    assert across.matches(bering)
    assert not across.matches(f)


def test_cpa_segment_counts_for_bbox(event_factory):
    metrics = {"cpa_m": 1.0, "cpa_a_lon_deg": 30.0, "cpa_a_lat_deg": 60.0, "cpa_b_lon_deg": 30.01,
               "cpa_b_lat_deg": 60.0}
    f = event_to_feature(event_factory(kind="predicted_close_approach", metrics=metrics))
    assert EventFilter(bbox=parse_bbox("29.9,59.9,30.1,60.1")).matches(f)


def test_since(event_factory):
    f = event_to_feature(event_factory(seq=10))  # 2024-05-01T12:00:10Z
    assert EventFilter(since_s=parse_since("2024-05-01T12:00:10Z")).matches(f)
    assert EventFilter(since_s=parse_since("2024-05-01T12:00:00")).matches(f)  # no zone: UTC
    assert not EventFilter(since_s=parse_since("2024-05-01T12:00:11Z")).matches(f)
    assert EventFilter(since_s=parse_since("2024-05-01T14:00:05+02:00")).matches(f)


@pytest.mark.parametrize("text", ["1,2,3", "a,b,c,d", "0,10,1,5", "0,-91,1,5", "200,0,1,1"])
def test_bad_bbox_is_a_clear_error(text):
    with pytest.raises(AlertsError, match="bbox"):
        parse_bbox(text)


def test_bad_since_is_a_clear_error():
    with pytest.raises(AlertsError, match="ISO 8601"):
        parse_since("yesterday")


def test_line_for_people(event_factory):
    line = format_event_line(event_to_feature(event_factory(seq=2, state="update", severity="critical",
                                                            zone_name="EE/RU 10 km", integrity_suspect=True)))
    assert line.startswith("2024-05-01T12:00:02.000Z  close_approach")
    for part in ("update", "#2", "CRITICAL", "ais:273123456[russia](UBAA)", "ais:230123456[nato](TURVA)",
                 "distance=1.23km", "cpa=400m", "tcpa_s=300", "zone=EE/RU 10 km", "INTEGRITY-SUSPECT",
                 "id=close_approach-0123456789abcdef"):
        assert part in line, part
    assert "\n" not in line


def test_line_shows_the_minimum_of_a_close_approach_and_when(event_factory):
    # the minimum between ticks (schema 1.2): min_t_s as the time of day, to the tenth of a second
    ev = event_factory(seq=1, state="update", metrics={"distance_m": 4_846.2, "min_distance_m": 1_273.07,
                                                         "min_t_s": 1_714_564_800.0 + 2.71, "threshold_m": 9_260.0})
    line = format_event_line(event_to_feature(ev))
    assert "distance=4.85km min_distance=1.27km min_t=12:00:02.7Z" in line


def test_line_of_the_instruments_kinds(event_factory):
    # schema 1.3: a sortie counts its escorts and interceptors; an intercept shows where the fighter joined
    ev = event_factory(kind="bomber_sortie", metrics={"distance_m": 84_210.0, "closest_m": 80_010.0,
                                                      "duration_s": 1_830.0, "escorts": 1.0, "interceptors": 2.0})
    line = format_event_line(event_to_feature(ev))
    assert "bomber_sortie" in line and "distance=84.21km closest=80.01km duration_s=1830 escorts=1 interceptors=2" in line
    ev = event_factory(kind="intercept", metrics={"distance_m": 1_900.0, "join_distance_m": 1_900.0, "duration_s": 0.0})
    assert "distance=1.90km join_distance=1.90km duration_s=0" in format_event_line(event_to_feature(ev))


def test_line_of_an_ais_gap(event_factory):
    # schema 1.5: how long the ship has been silent, how many ships around are still heard, how far
    # from the zone; closed on its reappearance, how far it jumped
    ev = event_factory(kind="ais_gap", state="closed", close_reason="reappeared", metrics={
        "last_lat_deg": 59.5, "last_lon_deg": 26.1, "silence_s": 1_700.0, "neighbours_heard": 2.0,
        "zone_distance_m": 0.0, "reappeared_lat_deg": 59.55, "reappeared_lon_deg": 26.1, "jump_m": 5_570.0})
    line = format_event_line(event_to_feature(ev))
    assert "ais_gap" in line and "silence_s=1700 neighbours_heard=2 zone_distance=0m jump=5.57km" in line
    assert "closed:reappeared" in line


def test_line_of_the_incsea_kinds(event_factory):
    # schema 1.5: a low pass names its closest slant range, height, bearing and passes; a manoeuvre its
    # CPA before, the turn (signed: to port) and who gave way
    ev = event_factory(kind="unsafe_air_intercept_of_ship", metrics={
        "distance_m": 80_720.0, "min_slant_range_m": 250.4, "min_t_s": 1_714_564_800.0 + 599.9,
        "height_at_min_m": 150.0, "pass_bearing_deg": 2.4, "passes": 2.0, "attack_aspect": 1.0})
    line = format_event_line(event_to_feature(ev))
    assert ("distance=80.72km min_t=12:09:59.9Z min_slant_range=250m height_at_min=150m pass_bearing=002 "
            "passes=2") in line
    ev = event_factory(kind="unsafe_manoeuvre_at_sea", metrics={
        "distance_m": 1_490.0, "cpa_m": 245.0, "tcpa_s": 310.0, "cpa_before_m": 1_494.0, "turn_deg": -30.4,
        "gave_way": 2.0})
    line = format_event_line(event_to_feature(ev))
    assert "distance=1.49km cpa=245m tcpa_s=310 cpa_before=1.49km turn=-30 gave_way=2" in line
