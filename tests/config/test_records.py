import dataclasses

import pytest
from shapely.geometry import LineString, Point, box

from config.records import (DeadLetter, PositionQuality, RecordError, TrackUpdate, Zone, position_quality, quality_from_mapping,
                            track_updates_from_columns)


def _update(**kw):
    base = dict(track_id="ais:273123456", source="f", t_s=1.7e9, lat_deg=59.9, lon_deg=26.5, domain="sea")
    base.update(kw)
    return TrackUpdate(**base)


def test_track_update_is_frozen_and_slotted():
    u = _update(speed_mps=7.2)
    with pytest.raises(dataclasses.FrozenInstanceError):
        u.lat_deg = 1.0  # type: ignore[misc]
    assert not hasattr(u, "__dict__")


@pytest.mark.parametrize(
    "kw, message",
    [
        ({"lat_deg": 91.0}, "lat_deg=91.0"),
        ({"lon_deg": 181.0}, "lon_deg=181.0"),
        ({"domain": "space"}, "domain 'space'"),
        ({"side": "blue"}, "side 'blue'"),
        ({"track_id": "273123456"}, "not namespaced"),
        ({"t_s": float("nan")}, "finite"),
        ({"heading_deg": 511.0}, "heading_deg=511.0"),
        ({"speed_mps": -1.0}, "speed_mps=-1.0"),
    ],
)
def test_track_update_rejects_out_of_domain_values(kw, message):
    with pytest.raises(RecordError, match=message):
        _update(**kw)


def test_velocity_heading_prefers_course_over_ground():
    assert _update(course_deg=90.0, heading_deg=100.0).velocity_heading_deg == 90.0
    assert _update(heading_deg=100.0).velocity_heading_deg == 100.0
    assert _update().velocity_heading_deg is None


def test_zone_validation_and_active_window():
    z = Zone("z1", "Zone", "exercise", box(27, 57, 28, 58), active_from_s=100.0, active_until_s=200.0)
    assert not z.is_active(99.0) and z.is_active(150.0) and not z.is_active(201.0)
    with pytest.raises(RecordError, match="need an area"):
        Zone("z2", "Line", "custom", LineString([(0, 0), (1, 1)]))
    with pytest.raises(RecordError, match="empty"):
        Zone("z3", "Empty", "custom", Point(0, 0).buffer(0))
    with pytest.raises(RecordError, match="ends before it starts"):
        Zone("z4", "Backwards", "exercise", box(0, 0, 1, 1), active_from_s=2.0, active_until_s=1.0)
    with pytest.raises(RecordError, match="kind 'moat'"):
        Zone("z5", "Moat", "moat", box(0, 0, 1, 1))  # type: ignore[arg-type]


def test_dead_letter_needs_a_reason():
    assert DeadLetter("ais", 3, b"!AIVDM,bad", "checksum").position == 3
    with pytest.raises(RecordError, match="ais:3 has no reason"):
        DeadLetter("ais", 3, b"x", "")


def test_track_update_is_built_with_keywords_only():
    with pytest.raises(TypeError):
        TrackUpdate("ais:273123456", "f", 1.7e9, 59.9, 26.5, "sea")  # type: ignore[misc]


def test_altitude_reference():
    u = _update(domain="air", alt_m=9000.0, alt_ref="baro", alt_geom_m=9120.0)
    assert (u.alt_m, u.alt_ref, u.alt_geom_m) == (9000.0, "baro", 9120.0)
    assert _update(alt_m=300.0).alt_ref is None  # a generic feed need not say
    with pytest.raises(RecordError, match="alt_ref 'qnh'"):
        _update(alt_m=300.0, alt_ref="qnh")
    with pytest.raises(RecordError, match="alt_ref 'geom' needs an alt_m"):
        _update(alt_ref="geom", alt_geom_m=300.0)
    with pytest.raises(RecordError, match="alt_geom_m=50000.0"):
        _update(alt_geom_m=50_000.0)
    with pytest.raises(RecordError, match="alt_m=nan"):
        _update(alt_m=float("nan"))


def _notice(area=None, **kw):
    from config.records import CircleArea, Notice

    base = dict(notice_id="exercise:a", kind="exercise", name="A", source="f",
                area=area or CircleArea(lon_deg=28.4, lat_deg=57.85, radius_m=15_000.0))
    base.update(kw)
    return Notice(**base)


def test_notice_keeps_the_area_as_given():
    from config.records import CircleArea, PolygonArea

    n = _notice(margin_m=500.0, declared={"troops": 3_500, "battle_tanks": 40}, issuer_country="RU",
                issuer_side="russia", issued_s=1.7e9)
    assert n.area == CircleArea(lon_deg=28.4, lat_deg=57.85, radius_m=15_000.0)
    assert (n.margin_m, n.sides, n.domains, n.severity) == (500.0, ("nato", "russia", "other", "unknown"),
                                                            ("air", "sea", "land"), "warning")
    assert n.declared["battle_tanks"] == 40
    p = PolygonArea(geometry=box(20, 55, 21, 56), edges="geodesic")
    assert _notice(p).area.edges == "geodesic"
    with pytest.raises(dataclasses.FrozenInstanceError):
        n.margin_m = 0.0  # type: ignore[misc]


@pytest.mark.parametrize(
    "make, message",
    [
        (lambda: _notice(notice_id="a"), "not namespaced"),
        (lambda: _notice(kind="rumour"), "kind 'rumour'"),
        (lambda: _notice(margin_m=-1.0), "margin_m=-1.0"),
        (lambda: _notice(margin_m=200_000.0), "margin_m=200000.0"),
        (lambda: _notice(sides=("blue",)), "side 'blue'"),
        (lambda: _notice(sides=()), "concerns no side"),
        (lambda: _notice(severity="loud"), "severity 'loud'"),
        (lambda: _notice(active_from_s=2.0, active_until_s=1.0), "ends before it starts"),
        (lambda: _notice(issuer_country="Russia"), "issuer_country 'Russia'"),
        (lambda: _notice(declared={"troops": -1}), "declared 'troops'"),
        (lambda: _notice(declared={"troops": True}), "declared 'troops'"),
        (lambda: _notice(area=Point(1, 2)), "area is a Point"),
        (lambda: _notice(name="N" * 201), "name has 201 characters"),
        (lambda: _notice(notice_id="exercise:" + "x" * 200), "notice_id has 209 characters"),
        (lambda: _notice(_circle(30.0, 60.0, 900_000.0), margin_m=100_000.0 + 1), "margin_m"),
        (lambda: _notice(_circle(30.0, 60.0, 950_000.0), margin_m=90_000.0), "radius plus margin"),
        (lambda: _circle(30.0, 60.0, 0.0), "radius_m=0.0"),
        (lambda: _circle(30.0, 91.0, 10.0), "lat_deg=91.0"),
        (lambda: _polygon(LineString([(0, 0), (1, 1)])), "need a polygon"),
        (lambda: _polygon(box(0, 0, 1, 1), edges="rhumb"), "edges 'rhumb'"),
        (lambda: _polygon(box(170, 0, 190, 1)), "not lon/lat"),
    ],
)
def test_notice_rejects_out_of_domain_values(make, message):
    with pytest.raises(RecordError, match=message):
        make()


def test_notices_at_the_antimeridian_and_the_poles_are_records():
    """proximity.geometry builds them (tests/robustness/test_geometry_extremes.py)."""
    assert _notice(_circle(179.95, 10.0, 10_000.0)).area.lon_deg == 179.95
    assert _notice(_circle(0.0, 89.0, 200_000.0)).area.radius_m == 200_000.0
    assert _notice(_polygon(box(179.5, 0, 180, 1)), margin_m=50_000.0).margin_m == 50_000.0


def _circle(lon, lat, r):
    from config.records import CircleArea

    return CircleArea(lon_deg=lon, lat_deg=lat, radius_m=r)


def _polygon(g, **kw):
    from config.records import PolygonArea

    return PolygonArea(geometry=g, **kw)


def test_track_update_init_matches_its_fields():
    """TrackUpdate's hand-written __init__ (speed) takes exactly the fields, keyword-only, with their defaults."""
    import inspect

    params = list(inspect.signature(TrackUpdate.__init__).parameters.values())[1:]
    assert [(p.name, p.kind, p.default) for p in params] == [
        (f.name, inspect.Parameter.KEYWORD_ONLY, inspect.Parameter.empty if f.default is dataclasses.MISSING else f.default)
        for f in dataclasses.fields(TrackUpdate)
    ]
    given = dict(track_id="ext:a", source="s", t_s=1.7e9, lat_deg=1.0, lon_deg=2.0, domain="air", side="nato",
                 alt_m=3.0, alt_ref="geom", alt_geom_m=4.0, speed_mps=5.0, course_deg=6.0, heading_deg=7.0,
                 vrate_mps=8.0, country="FI", callsign="C", name="N", type_code="70", receiver="r", raw_ref="s:1",
                 category="civil", category_source="ais_type_70", nav_status=5, on_ground=False,
                 quality=PositionQuality(accuracy_high=True, raim=False))
    assert set(given) == {f.name for f in dataclasses.fields(TrackUpdate)}
    u = TrackUpdate(**given)
    assert {f.name: getattr(u, f.name) for f in dataclasses.fields(u)} == given  # every field from its own keyword
    # the written-out constructor by position (the archive's reader): the same parameters, each to its field
    from config.records import _unchecked

    assert list(inspect.signature(_unchecked).parameters) == list(given)
    by_rows = track_updates_from_columns([[v] for v in given.values()])
    assert by_rows == [u] and {f.name: getattr(by_rows[0], f.name) for f in dataclasses.fields(u)} == given
    assert dataclasses.replace(u, lat_deg=60.0).lat_deg == 60.0 and u.lat_deg == 1.0


def test_track_updates_from_columns_is_the_constructor_by_position():
    """The archive's reader builds records from their values in field order: the same record, the same checks."""
    names = [f.name for f in dataclasses.fields(TrackUpdate)]
    u = _update(side="nato", alt_m=900.0, alt_ref="baro", speed_mps=7.2, callsign="X", nav_status=0,
                quality=position_quality(accuracy_high=True))
    values = [getattr(u, n) for n in names]
    [made] = track_updates_from_columns([[v] for v in values])
    assert made == u and type(made) is TrackUpdate
    assert [getattr(made, n) for n in names] == values
    for field_name, bad, message in (("lat_deg", 91.0, "lat_deg=91.0"), ("track_id", "273123456", "not namespaced"),
                                      ("alt_ref", "sea", "alt_ref 'sea'")):
        wrong = list(values)
        wrong[names.index(field_name)] = bad
        with pytest.raises(RecordError, match=message):
            track_updates_from_columns([[v] for v in wrong])
    with pytest.raises(ValueError):  # one value short: not silently the default
        track_updates_from_columns([[v] for v in values[:-1]])
    columns = [[v, v] for v in values]
    columns[names.index("lat_deg")][1] = 91.0
    with pytest.raises(RecordError, match="lat_deg=91.0"):  # checked unless told the columns were
        track_updates_from_columns(columns)
    assert [x.lat_deg for x in track_updates_from_columns(columns, checked=False)] == [u.lat_deg, 91.0]
    with pytest.raises(ValueError):
        track_updates_from_columns(columns[:-1])


def test_category_context_and_quality_are_validated():
    u = _update(category="military", category_source="ais_type_35", nav_status=5,
                quality=position_quality(accuracy_high=True, raim=False))
    assert (u.category, u.nav_status, u.quality.accuracy_high, u.quality.nic) == ("military", 5, True, None)
    for kw, message in [
        ({"category": "navy"}, "category 'navy'"),
        ({"category_source": ""}, "category_source ''"),
        ({"nav_status": 15}, "nav_status=15 is not a code 0..14"),
        ({"nav_status": True}, "nav_status=True"),
        ({"on_ground": 1}, "on_ground=1 is not a boolean"),
        ({"quality": {"nic": 8}}, "quality is a dict"),
    ]:
        with pytest.raises(RecordError, match=message):
            _update(**kw)


def test_position_quality_codes_and_shared_instances():
    q = position_quality(adsb_version=2, nic=8, nac_p=10, sil=3, gva=2)
    assert q is position_quality(adsb_version=2, nic=8, nac_p=10, sil=3, gva=2)  # one instance per set of values
    assert position_quality() is None and quality_from_mapping(None) is None
    assert quality_from_mapping({"nic": 8, "nac_p": 10, "sil": 3, "gva": 2, "adsb_version": 2, "raim": None}) is q
    for kw, message in [
        ({"nic": 12}, "nic=12 is not a code 0..11"),
        ({"nac_p": -1}, "nac_p=-1"),
        ({"nac_v": 5}, "nac_v=5"),
        ({"sil": 4}, "sil=4"),
        ({"gva": 4}, "gva=4"),
        ({"nuc_p": 10}, "nuc_p=10"),
        ({"adsb_version": 8}, "adsb_version=8"),
        ({"nic": 8.0}, "nic=8.0"),
        ({"nic": True}, "nic=True"),
        ({"raim": 1}, "raim=1 is not a boolean"),
        ({"gnss_ok_before_s": float("inf")}, "gnss_ok_before_s=inf"),
    ]:
        with pytest.raises(RecordError, match=message):
            position_quality(**kw)
    with pytest.raises(RecordError, match="is not an object"):
        quality_from_mapping([8])  # type: ignore[arg-type]
    with pytest.raises(RecordError, match="nic"):
        quality_from_mapping({"nic": [8]})
