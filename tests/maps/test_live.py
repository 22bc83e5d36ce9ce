"""SituationStore: what the live map shows, fed by the pipeline or the topics."""

from __future__ import annotations

import json
import threading
from dataclasses import asdict, replace
from typing import Any

import pytest

from maps.errors import MapInputError
from maps.features import track_update
from maps.live import SituationStore


def _fed(situation: Any, **kw: Any) -> SituationStore:
    store = SituationStore(situation.zones, **kw)
    for ups in situation.tracks.values():
        store.apply_tracks(ups)
    store.apply_events(situation.events)
    return store


def test_snapshot_has_last_positions_trails_events_and_active_zones(situation: Any) -> None:
    store = _fed(situation, trail_points=4)
    snap = store.snapshot()
    tracks = {f["properties"]["id"]: f for f in snap.layers["tracks"]["features"]}
    assert set(tracks) == set(situation.tracks)
    last = situation.tracks["icao:4b1a2c"][-1]
    assert tracks["icao:4b1a2c"]["geometry"]["coordinates"] == [last.lon_deg, last.lat_deg]
    assert all(len(f["geometry"]["coordinates"]) == 4 for f in snap.layers["trails"]["features"])
    assert {f["properties"]["id"] for f in snap.layers["events"]["features"]} >= {
        situation.event_id("predicted_close_approach"), situation.event_id("zone_entry")}
    zone_ids = {f["properties"]["id"] for f in snap.layers["zones"]["features"]}
    assert "zone:ex-active" in zone_ids and "zone:ex-expired" not in zone_ids
    assert snap.data_time_s == situation.t0_s
    status = store.status()
    assert (status["tracks"], status["open_events"]) == (5, 3)  # zone entry, bomber sortie, prediction


def test_older_reports_and_revisions_do_not_win(situation: Any, engagement: Any) -> None:
    store = _fed(situation)
    old = situation.tracks["icao:4b1a2c"][0]
    assert store.apply_tracks([old]) == 0
    opened, closed = engagement.revisions("predicted_close_approach")
    store.apply_events([closed])
    assert store.status()["open_events"] == 2  # the zone entry and the bomber sortie
    store.apply_events([opened])  # late, older than the close
    assert store.status()["open_events"] == 2


def test_expire_uses_the_stale_time_of_each_domain(situation: Any) -> None:
    store = _fed(situation, stale_after_s={"air": 120.0, "sea": 900.0, "land": 600.0})
    gone = store.expire(situation.t0_s + 121.0)
    assert sorted(gone) == ["icao:45ac2d", "icao:4b1a2c"]
    assert store.status()["tracks"] == 3
    assert sorted(store.expire(situation.t0_s + 601.0)) == ["cot:abc-1"]


def test_feed_staleness_is_wall_clock(situation: Any) -> None:
    now = [100.0]
    store = SituationStore(feed_stale_after_s=30.0, clock=lambda: now[0])
    assert store.status()["feed_stale"] is True  # nothing yet
    store.apply_tracks(situation.tracks["ais:230000001"])
    now[0] += 29.0
    assert store.status()["feed_stale"] is False
    now[0] += 2.0
    assert store.status()["feed_stale"] is True and store.status()["feed_age_s"] == pytest.approx(31.0)


def test_topic_dicts_are_accepted(situation: Any) -> None:
    store = SituationStore()
    u = situation.tracks["ais:273123456"][-1]
    msg = {"type": "Feature", "geometry": {"type": "Point", "coordinates": [u.lon_deg, u.lat_deg]},
           "properties": {k: v for k, v in asdict(u).items() if k not in ("lat_deg", "lon_deg")}}
    assert store.apply_tracks([msg, asdict(situation.tracks["cot:abc-1"][-1])]) == 2
    assert store.snapshot().layers["tracks"]["features"][0]["properties"]["label"] == situation.injection
    assert track_update(msg) == u
    with pytest.raises(MapInputError, match="ais:9"):
        track_update({"track_id": "ais:9", "source": "x", "t_s": 1.0, "lat_deg": 95.0, "lon_deg": 0.0,
                      "domain": "sea"})
    assert store.apply_events([{"event_id": "x"}]) == 0  # logged, not drawn, the store goes on


def test_layer_json_is_encoded_once_per_version(situation: Any) -> None:
    store = _fed(situation)
    a = store.layer_json("tracks")
    assert store.layer_json("tracks") is a
    store.apply_tracks([replace(situation.tracks["cot:abc-1"][-1], t_s=situation.t0_s + 1)])
    b = store.layer_json("tracks")
    assert b is not a and json.loads(b)["type"] == "FeatureCollection"
    with pytest.raises(KeyError):
        store.layer_json("secrets")


def test_concurrent_feeding_and_reading_stay_consistent(situation: Any) -> None:
    store = SituationStore()
    base = situation.tracks["icao:45ac2d"][-1]
    errors: list[BaseException] = []

    def feed() -> None:
        for i in range(400):
            store.apply_tracks([replace(base, track_id=f"icao:{i:06x}", t_s=base.t_s + i)])

    def read() -> None:
        try:
            for _ in range(100):
                fc = json.loads(store.layer_json("tracks"))
                ids = [f["properties"]["id"] for f in fc["features"]]
                assert len(ids) == len(set(ids))
                store.status()
        except BaseException as e:  # noqa: BLE001 - reported below
            errors.append(e)

    threads = [threading.Thread(target=feed)] + [threading.Thread(target=read) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert store.status()["tracks"] == 400
