"""The archive: exact round trips, GeoParquet 1.1 that other readers open, hours, durability, retention."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path

import duckdb
import geopandas
import numpy as np
import pyarrow.parquet as pq
import pytest
import shapely
from shapely.geometry import Polygon

from closewatch.archive import Archive, ArchiveError, ArchiveFileError, ArchiveSink, ArchiveWriteError
from closewatch.archive.schema import (deadletters_table, events_from_table, letters_from_table, point_wkb,
                                       tracks_from_table, tracks_table, zones_from_table, zones_table)
from closewatch.archive.store import hour_key, locate_archive
from closewatch.sinks import JsonlSink, OutputExistsError
from config.records import DeadLetter, PositionQuality, TrackUpdate, Zone, position_quality
from config.settings import ArchiveSettings, Settings
from proximity.events import Event, Subject

T = 1_773_140_100.25  # 2026-03-10T10:55:00.25Z


def _updates(n: int = 500, t0: float = T, step_s: float = 1.5) -> list[TrackUpdate]:
    out = []
    for i in range(n):
        out.append(TrackUpdate(
            track_id=f"ais:2300000{i % 7}", source="ais", t_s=t0 + i * step_s, lat_deg=59.5 + i * 1e-4,
            lon_deg=24.0 + (i % 7) * 0.1, domain="sea", side="nato" if i % 2 else "russia",
            speed_mps=5.25 if i % 3 else None, course_deg=90.0 if i % 3 else None, heading_deg=None,
            alt_m=None, country="FI" if i % 5 else None, name="PATROL" if i % 4 else None, type_code="35",
            receiver="rx1", raw_ref=f"ais:{i + 1}",
            category="military" if i % 2 else "civil", category_source="ais_type_35" if i % 2 else None,
            nav_status=(0, 1, 5, None, 14)[i % 5], quality=_QUALITIES[i % len(_QUALITIES)],
        ))
    out.append(TrackUpdate(track_id="icao:4b1a2c", source="sbs1", t_s=t0 + 10.125, lat_deg=59.9, lon_deg=25.1,
                           domain="air", side="russia", alt_m=8500.0, alt_ref="baro", alt_geom_m=8620.5,
                           vrate_mps=-2.5, callsign="RFF7051", type_code="IL20", category="military",
                           category_source="callsign_prefix:RFF", on_ground=False,
                           quality=position_quality(adsb_version=2, nic=8, nac_p=9, nac_v=1, sil=3, gva=2,
                                                    gnss_ok_before_s=T - 0.5)))
    out.append(TrackUpdate(track_id="icao:4b1a2d", source="adsb", t_s=t0 + 11.0, lat_deg=59.8, lon_deg=25.0,
                           domain="air", side="unknown", on_ground=True, quality=position_quality(nuc_p=0)))
    return out


# None, AIS flags (False is a value, not None), and a PositionQuality of no values: a null struct
# and a struct of nulls are different rows
_QUALITIES = (None, position_quality(accuracy_high=True, raim=False), position_quality(accuracy_high=False),
              PositionQuality())


def _event(seq: int = 0, t_s: float = T + 30.0) -> Event:
    a = Subject("ais:230000001", "nato", "sea", t_s, 59.95, 24.5, speed_mps=6.0, course_deg=90.0, name="FIN",
                report_t_s=t_s - 2.0)
    b = Subject("ais:230000002", "russia", "sea", t_s, 59.951, 24.51, speed_mps=7.5, course_deg=270.0)
    return Event("close_approach-0123456789abcdef", "close_approach", "open" if seq == 0 else "update", seq, t_s,
                 "warning", (a, b), "two ships 780 m apart", metrics={"distance_m": 780.25, "threshold_m": 1852.0},
                 detected_s=1_780_000_000.5)


def _zone() -> Zone:
    return Zone("exercise:test-1", "Test exercise", "exercise", Polygon([(27, 57.5), (28, 57.5), (28, 58), (27, 58)]),
                0.0, ("russia", "nato"), ("air", "land"), "warning", T, T + 3600.0, {"feed": "ex", "declared": {"troops": 9000}})


def _sink(tmp_path: Path, **kw: object) -> ArchiveSink:
    return ArchiveSink(ArchiveSettings(path=str(tmp_path / "archive"), **kw), run_settings=Settings())  # type: ignore[arg-type]


def test_round_trips_are_exact(tmp_path: Path) -> None:
    sink = _sink(tmp_path)
    ups = _updates()
    sink.publish_zones([])  # the catalogue (none here)
    sink.publish_tracks(ups[:200])
    sink.publish_zones([_zone()])
    sink.publish_tracks(ups[200:])
    sink.publish_events([_event(0), _event(1, T + 60.0)])
    letter = DeadLetter("ais", 17, b"!AIVDM,\xff\x00broken", "bad checksum", received_s=None,
                        detail="*5C, computed *5D", file="day-2.nmea")
    refused = DeadLetter("ais", 18, b'{"track_id": "ais:1"}', "engine: no", received_s=T, stage="engine")
    sink.publish_deadletters([letter, refused])
    sink.close()
    archive = Archive(tmp_path / "archive")
    back_ups = tracks_from_table(archive.read("tracks"))
    assert back_ups == ups
    # exact to the type: an int code stays an int, a flag a bool, a quality of no values is no None
    assert [(type(u.nav_status), type(u.on_ground), u.quality is None) for u in back_ups] == \
        [(type(u.nav_status), type(u.on_ground), u.quality is None) for u in ups]
    assert {type(q.gnss_ok_before_s) for q in (u.quality for u in back_ups) if q is not None} == {float, type(None)}
    assert {(type(u.t_s), type(u.lat_deg)) for u in back_ups} == {(float, float)}
    assert {type(u.alt_m) for u in back_ups} == {type(u.alt_m) for u in ups}
    # each distinct text is one object (the engine hashes an identity once)
    assert len({id(u.track_id) for u in back_ups}) == len({u.track_id for u in ups})
    assert len({id(u.source) for u in back_ups}) == len({u.source for u in ups})
    schema = archive.read("tracks").schema
    assert (str(schema.field("nav_status").type), str(schema.field("on_ground").type)) == ("int8", "bool")
    assert schema.field("quality").type.field("nic").type == "int8"
    assert events_from_table(archive.read("events")) == [_event(0), _event(1, T + 60.0)]
    assert letters_from_table(archive.read("deadletters")) == [letter, refused]
    zones = archive.read("zones")
    assert zones.column("arrival").to_pylist() == [200] and zones.column("origin").to_pylist() == ["feed"]
    back = zones_from_table(zones)[0]
    z = _zone()
    assert (back.zone_id, back.kind, back.sides, back.domains, back.active_from_s, back.active_until_s) == \
        (z.zone_id, z.kind, z.sides, z.domains, z.active_from_s, z.active_until_s)
    assert back.geometry.equals_exact(z.geometry, 0.0) and back.properties == z.properties
    # the notified zone's data time is the archive's data time when it came: the last track's before it
    assert zones.column("notified_t_s").to_pylist() == [max(u.t_s for u in ups[:200])]


def test_point_wkb_is_shapely_wkb() -> None:
    lon, lat = np.array([24.5, -179.999, 0.0]), np.array([59.25, -89.5, 0.0])
    assert point_wkb(lon, lat).to_pylist() == list(shapely.to_wkb(shapely.points(lon, lat)))


def test_files_are_geoparquet_1_1_that_others_read(tmp_path: Path) -> None:
    sink = _sink(tmp_path)
    sink.publish_tracks(_updates())
    sink.publish_events([_event()])
    sink.close()
    root = tmp_path / "archive"
    part = next((root / "tracks").rglob("*.parquet"))
    meta = pq.read_metadata(part)
    geo = json.loads(meta.metadata[b"geo"])
    col = geo["columns"]["geometry"]
    assert geo["version"] == "1.1.0" and geo["primary_column"] == "geometry"
    assert col["encoding"] == "WKB" and col["geometry_types"] == ["Point"]
    assert col["crs"]["id"] == {"authority": "OGC", "code": "CRS84"}
    assert col["covering"] == {"bbox": {k: ["bbox", k] for k in ("xmin", "ymin", "xmax", "ymax")}}
    schema = pq.read_schema(part)
    bbox = schema.field("bbox").type
    assert [bbox.field(i).name for i in range(4)] == ["xmin", "ymin", "xmax", "ymax"]
    assert all(str(bbox.field(i).type) == "double" for i in range(4))
    assert all(meta.row_group(0).column(i).compression == "ZSTD" for i in range(meta.num_columns))
    assert col["bbox"][0] <= 24.0 and col["bbox"][2] >= 24.6
    # geopandas reads the hour folders and filters by the covering column
    frame = geopandas.read_parquet(root / "tracks", bbox=(24.05, 59.0, 24.15, 60.0))
    assert len(frame) > 0 and set(frame["lon_deg"].round(6)) == {24.1}
    assert frame.crs.to_string() == "OGC:CRS84"
    # the DuckDB query of docs/archive.md
    con = duckdb.connect()
    n, hours = con.execute(
        f"SELECT count(*), count(DISTINCT hour) FROM read_parquet('{root}/tracks/*/*.parquet', hive_partitioning = true)"
        " WHERE bbox.xmin BETWEEN 24.05 AND 24.15 AND bbox.ymin BETWEEN 59.0 AND 60.0").fetchone()
    assert n == len(frame) and hours >= 1
    assert con.execute(f"SELECT track_id FROM read_parquet('{root}/tracks/*/*.parquet') WHERE quality.nic = 8"
                       " AND NOT on_ground").fetchall() == [("icao:4b1a2c",)]
    events = geopandas.read_parquet(root / "events")
    assert list(events["event_id"]) == [_event().event_id] and events.geometry.iloc[0].geom_type == "LineString"


def test_rows_go_to_their_utc_hour(tmp_path: Path) -> None:
    sink = _sink(tmp_path)
    ups = _updates(2000, t0=T, step_s=1.5)  # 10:55 to 11:45: across 11:00
    sink.publish_tracks(ups)
    sink.close()
    archive = Archive(tmp_path / "archive")
    hours = archive.hours("tracks")
    assert [hour_key(h) for h in hours] == ["2026-03-10T10", "2026-03-10T11"]
    for h in hours:
        t = archive.read("tracks", files=archive.part_files("tracks", [h])).column("t_s").to_numpy()
        assert (np.floor(t / 3600) == h).all()
    window = archive.read("tracks", T + 200.0, T + 400.0)
    assert window.column("t_s").to_pylist() == [u.t_s for u in ups if T + 200.0 <= u.t_s < T + 400.0]


def test_each_sync_is_durable_and_close_merges_the_parts(tmp_path: Path) -> None:
    sink = _sink(tmp_path)
    ups = _updates(298, t0=T - 1800.0)  # 300 updates within one hour
    for i in range(0, 300, 50):
        sink.publish_tracks(ups[i:i + 50])
        sink.sync()
        assert len(Archive(tmp_path / "archive").read("tracks")) == i + 50
    assert len(list((tmp_path / "archive" / "tracks").rglob("part-*.parquet"))) == 6
    sink.close()
    parts = list((tmp_path / "archive" / "tracks").rglob("*"))
    assert [p.name.startswith("part-") for p in parts if p.is_file()] == [True]
    assert tracks_from_table(Archive(tmp_path / "archive").read("tracks")) == ups


def test_a_crash_between_merge_and_delete_reads_each_row_once(tmp_path: Path) -> None:
    sink = _sink(tmp_path)
    ups = _updates(100)
    sink.publish_tracks(ups[:50])
    sink.sync()
    sink.publish_tracks(ups[50:])
    sink.sync()
    archive = Archive(tmp_path / "archive")
    before = sorted((tmp_path / "archive" / "tracks").rglob("part-*.parquet"))
    table = archive.read("tracks")
    archive.write_part("tracks", table, sink.run_id, int(T // 3600))  # merged, then "crash": small parts stay
    assert tracks_from_table(archive.read("tracks")) == ups
    sink.close()
    assert all(not p.exists() for p in before)


def test_merging_an_hours_parts_holds_one_part_in_memory_and_covers_them_all(tmp_path: Path, monkeypatch) -> None:
    """Parts of one hour written apart (each its own bounding box), merged: the rows of every part,
    the ``geo`` bounding box of their union, and while writing, pyarrow's memory pool never held
    more than about one part (an hour of a busy run is millions of rows)."""
    import pyarrow as pa

    archive = Archive(tmp_path / "archive")
    hour = int(T // 3600)
    ups = [replace(u, lon_deg=u.lon_deg + k, track_id=f"{u.track_id}-{k}")
           for k in range(8) for u in _updates(2_000, step_s=0.1)]
    chunks = [ups[i:i + len(ups) // 8] for i in range(0, len(ups), len(ups) // 8)]
    for i, chunk in enumerate(chunks):
        archive.write_part("tracks", tracks_table(chunk, "run-1", i * len(chunk)), "run-1", hour)
    whole = archive.read("tracks")
    part_bytes = max(pq.read_table(p).nbytes for p in archive.part_files("tracks"))
    held: list[int] = []
    write = pq.ParquetWriter.write_table

    def measured(self, table, *args, **kw):  # type: ignore[no-untyped-def]
        held.append(pa.total_allocated_bytes())
        return write(self, table, *args, **kw)

    monkeypatch.setattr(pq.ParquetWriter, "write_table", measured)
    base = pa.total_allocated_bytes()
    merged = archive.compact("tracks", "run-1", hour)
    assert merged is not None and [p.name for p in archive.part_files("tracks")] == [merged.name]
    assert len(held) == 8 and max(held) - base < 2 * part_bytes < whole.nbytes / 3
    assert tracks_from_table(archive.read("tracks")) == tracks_from_table(whole)  # read sorts by arrival
    geo = json.loads(pq.read_schema(merged).metadata[b"geo"])["columns"]["geometry"]
    lon, lat = whole.column("lon_deg").to_numpy(), whole.column("lat_deg").to_numpy()
    assert geo["bbox"] == [lon.min(), lat.min(), lon.max(), lat.max()] and geo["geometry_types"] == ["Point"]


_KILLED_WRITER = """
import sys, time
sys.path[:0] = {paths!r}
from test_archive import _updates
from closewatch.archive import ArchiveSink
from config.settings import ArchiveSettings
sink = ArchiveSink(ArchiveSettings(path={root!r}, flush_interval_s=0.01, part_rows=50))
ups = _updates(400)
sink.publish_tracks(ups[:200])
sink.sync()
print("synced", flush=True)
for i in range(200, 400, 10):
    sink.publish_tracks(ups[i:i + 10])
time.sleep(60)
"""


def test_kill_9_keeps_every_row_synced_before_it(tmp_path: Path) -> None:
    """After kill -9 the archive reads without error and holds every row published before the last sync."""
    root = tmp_path / "archive"
    code = _KILLED_WRITER.format(paths=[str(Path(__file__).parent), *sys.path], root=str(root))
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE)
    assert proc.stdout is not None
    assert proc.stdout.readline().strip() == b"synced"
    time.sleep(0.3)  # the writer is writing parts of the rest (every 0.01 s, 50 rows)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    rows = tracks_from_table(Archive(root).read("tracks"))  # no error: nothing partial is visible
    ups = _updates(400)
    assert rows[:200] == ups[:200]
    assert rows == ups[:len(rows)]


def test_retention_deletes_whole_hours_by_the_data_clock(tmp_path: Path) -> None:
    sink = _sink(tmp_path, retention_days=1.0)
    sink.publish_tracks(_updates(10, t0=T - 3 * 86400.0))
    sink.publish_tracks(_updates(10, t0=T - 2 * 3600.0))
    sink.publish_tracks(_updates(10, t0=T))
    sink.close()
    hours = [hour_key(h) for h in Archive(tmp_path / "archive").hours("tracks")]
    assert hours == ["2026-03-10T08", "2026-03-10T10"]


def test_a_corrupt_file_is_named_and_the_rest_is_read(tmp_path: Path) -> None:
    sink = _sink(tmp_path)
    sink.publish_tracks(_updates(2000, t0=T, step_s=2.0))
    sink.close()
    archive = Archive(tmp_path / "archive")
    bad = archive.part_files("tracks")[1]
    bad.write_bytes(bad.read_bytes()[:200] + b"\x00" * 64)
    with pytest.raises(ArchiveFileError, match=str(bad)):
        archive.read("tracks")
    errors: list[ArchiveFileError] = []
    rest = archive.read("tracks", errors=errors)
    assert [e.path for e in errors] == [bad]
    good = [f for f in archive.part_files("tracks") if f != bad]
    assert len(good) == 2 and len(rest) == len(archive.read("tracks", files=good)) > 0


def test_a_failing_writer_fails_the_run_loudly(tmp_path: Path) -> None:
    sink = _sink(tmp_path)
    (tmp_path / "archive" / "tracks").write_text("a file where the folder should be")
    sink.publish_tracks(_updates(10))
    with pytest.raises(ArchiveWriteError, match="writer failed"):
        sink.sync()
    with pytest.raises(ArchiveWriteError):
        sink.publish_tracks(_updates(10))


def test_locate_archive_from_the_configuration_or_here(tmp_path: Path) -> None:
    (tmp_path / "elsewhere").mkdir()
    sink = ArchiveSink(ArchiveSettings(path=str(tmp_path / "elsewhere" / "arch")))
    sink.close()
    (tmp_path / "closewatch.toml").write_text(f'[archive]\npath = "{tmp_path / "elsewhere" / "arch"}"\n')
    assert locate_archive(cwd=tmp_path).root == tmp_path / "elsewhere" / "arch"
    with pytest.raises(Exception, match="no archive found"):
        locate_archive(cwd=tmp_path / "elsewhere" / "arch" / "runs")


def test_jsonl_sink_never_adds_to_an_earlier_runs_file(tmp_path: Path) -> None:
    events, letters = tmp_path / "events.jsonl", tmp_path / "dl.jsonl"
    first = JsonlSink(events, letters)
    first.publish_events([_event()])
    first.close()
    with pytest.raises(OutputExistsError, match=f"{events}.*--append"):
        JsonlSink(events, letters)
    again = JsonlSink(events, letters, append=True)
    again.publish_events([_event(1)])
    again.close()
    assert len(events.read_text().splitlines()) == 2


def test_run_refuses_to_append_and_names_the_flag(tmp_path: Path) -> None:
    rec = tmp_path / "t.jsonl"
    rec.write_text(json.dumps({"track_id": "ais:230000001", "t_s": T, "lat_deg": 59.9, "lon_deg": 24.0,
                               "domain": "sea", "side": "nato"}) + "\n")
    cfg = tmp_path / "c.toml"
    cfg.write_text(f'[[feeds]]\nname = "t"\nformat = "tracks-jsonl"\npath = "{rec}"\n[zones]\ncatalogue = "none"\n'
                   f'[sinks]\nevents_jsonl = "{tmp_path / "e.jsonl"}"\ndeadletter_jsonl = "{tmp_path / "d.jsonl"}"\n'
                   f'[archive]\npath = "{tmp_path / "archive"}"\n')
    (tmp_path / "e.jsonl").write_text("{}\n")
    check = subprocess.run([sys.executable, "-m", "closewatch", "config", "check", str(cfg)], capture_output=True,
                           text=True, cwd=tmp_path)
    assert check.returncode == 0 and f"sinks.events_jsonl: {tmp_path / 'e.jsonl'} holds an earlier run's output" \
        in check.stderr and "--append" in check.stderr, check.stderr
    run = [sys.executable, "-m", "closewatch", "run", "-c", str(cfg)]
    refused = subprocess.run(run, capture_output=True, text=True, cwd=tmp_path)
    assert refused.returncode == 2 and "e.jsonl" in refused.stderr and "--append" in refused.stderr
    ok = subprocess.run(run + ["--append"], capture_output=True, text=True, cwd=tmp_path)
    assert ok.returncode == 0, ok.stderr
    assert len(Archive(tmp_path / "archive").read("tracks")) == 1
    assert len(Archive(tmp_path / "archive").runs()) == 1


@pytest.mark.parametrize("field_name, bad, message", [
    ("track_id", "x" * 130, "more than 128"), ("track_id", "273123456", "not namespaced"),
    ("track_id", "AIS:1", "not namespaced"), ("track_id", "ais:", "not namespaced"),
    ("track_id", "ais1:2", "not namespaced"), ("track_id", None, ""), ("t_s", float("inf"), "not a finite"),
    ("t_s", float("nan"), "not a finite"), ("lat_deg", 90.5, "lat_deg"), ("lat_deg", float("nan"), "lat_deg"),
    ("lon_deg", -180.5, "lon_deg"), ("domain", "space", "domain"), ("side", "nobody", "side"),
    ("category", "pirate", "category"), ("speed_mps", -1.0, "speed_mps"), ("speed_mps", float("nan"), "speed_mps"),
    ("course_deg", 360.5, "course_deg"), ("heading_deg", -0.5, "heading_deg"), ("vrate_mps", 1600.0, "vrate_mps"),
    ("alt_m", 40_001.0, "alt_m"), ("alt_geom_m", -501.0, "alt_geom_m"), ("alt_ref", "sea", "alt_ref"),
    ("callsign", "C" * 65, "callsign"), ("name", "N" * 65, "name"), ("type_code", "T" * 65, "type_code"),
    ("country", "F" * 65, "country"), ("receiver", "R" * 65, "receiver"), ("category_source", "", "category_source"),
    ("nav_status", 15, "nav_status"), ("nav_status", -1, "nav_status"),
])
def test_archived_rows_breaking_a_record_rule_are_refused_by_the_constructor(field_name, bad, message):
    """The column-wide check spares the per-record one only when every row passes every rule of
    TrackUpdate: one row breaking any rule sends the rows through the constructor, which names it."""
    import pyarrow as pa

    from closewatch.archive.schema import _rows_valid, tracks_rows

    rows = tracks_rows(_updates(60), "run", 0)
    assert _rows_valid(rows) and tracks_from_table(rows) == _updates(60)
    values = rows.column(field_name).to_pylist()
    values[37] = bad
    broken = rows.set_column(rows.schema.get_field_index(field_name), field_name,
                             pa.array(values, rows.schema.field(field_name).type))
    assert not _rows_valid(broken)
    # the row is named with what is wrong in it (a null as missing), as an archive error: a replay says it
    with pytest.raises(ArchiveError, match=f"breaks the record rules: row 37 .*{message or 'track_id missing'}"):
        tracks_from_table(broken)


def test_an_alt_ref_needs_an_altitude_in_archived_rows_too():
    import pyarrow as pa

    from closewatch.archive.schema import _rows_valid, tracks_rows

    rows = tracks_rows(_updates(3), "run", 0)
    refs = pa.array(["geom", None, None, None, None])  # a valid reference, but the first row has no alt_m
    assert not _rows_valid(rows.set_column(rows.schema.get_field_index("alt_ref"), "alt_ref", refs))
    last = tracks_rows(_updates(3)[-1:], "run", 0)  # alt_m 8500 with alt_ref baro: valid
    assert _rows_valid(last)


def test_rows_are_ordered_by_run_and_arrival_as_sort_by_orders_them() -> None:
    """The reader's numpy ordering is Arrow's stable sort by (run_id, arrival); rows in order stay the same table."""
    import pyarrow as pa

    from closewatch.archive.store import _by_run_and_arrival

    rng = np.random.default_rng(3)
    runs = rng.choice(["run-b", "run-a", "run-c"], 500)
    arrival = rng.integers(0, 60, 500)  # ties: the stable sort keeps their order
    table = pa.table({"run_id": runs, "arrival": arrival, "row": np.arange(500)})
    expected = table.sort_by([("run_id", "ascending"), ("arrival", "ascending")])
    assert _by_run_and_arrival(table).equals(expected)
    assert _by_run_and_arrival(expected) is expected  # in order: not copied
    one_run = pa.table({"run_id": ["r"] * 4, "arrival": [3, 1, 2, 0], "row": [0, 1, 2, 3]})
    assert _by_run_and_arrival(one_run).column("row").to_pylist() == [3, 1, 2, 0]
    with_null = pa.table({"run_id": ["b", None, "a"], "arrival": [1, 2, 3], "row": [0, 1, 2]})
    assert _by_run_and_arrival(with_null).equals(with_null.sort_by([("run_id", "ascending"), ("arrival", "ascending")]))
