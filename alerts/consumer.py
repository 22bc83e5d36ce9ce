"""Reading closewatch events back: a small helper for subscribers, filters and a line format for people.

>>> from alerts.consumer import subscribe                       # doctest: +SKIP
>>> for ev in subscribe("127.0.0.1:9092", from_beginning=True):   # doctest: +SKIP
...     print(ev.event_id, ev.seq, ev.properties["kind"])

Deduplicate on ``(event_id, seq)``: delivery is at least once, and a revision
delivered twice is byte-identical but for ``detected_at``/``detected_s``.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any, Iterator, Mapping, Sequence

from config.settings import KafkaSettings
from config.times import TimeFormatError, format_utc, parse_utc

from alerts import codec
from alerts.errors import AlertsError, CodecError, KafkaUnreachableError

__all__ = ["EventFilter", "ReceivedEvent", "format_event_line", "parse_bbox", "parse_since", "subscribe"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ReceivedEvent:
    """One event revision as read from the topic: the decoded GeoJSON Feature plus where it was."""

    feature: dict[str, Any]
    key: bytes | None
    headers: dict[str, bytes]
    topic: str
    partition: int
    offset: int
    timestamp_ms: int | None

    @property
    def properties(self) -> dict[str, Any]:
        props: dict[str, Any] = self.feature["properties"]
        return props

    @property
    def event_id(self) -> str:
        return str(self.properties["event_id"])

    @property
    def seq(self) -> int:
        return int(self.properties["seq"])

    @property
    def dedup_key(self) -> tuple[str, int]:
        return (self.event_id, self.seq)


def parse_bbox(text: str) -> tuple[float, float, float, float]:
    """``minlon,minlat,maxlon,maxlat`` in degrees (``minlon > maxlon`` crosses the antimeridian)."""
    try:
        parts = [float(p) for p in text.split(",")]
    except ValueError as e:
        raise AlertsError(f"bbox {text!r}: not four numbers minlon,minlat,maxlon,maxlat") from e
    if len(parts) != 4:
        raise AlertsError(f"bbox {text!r}: need four numbers minlon,minlat,maxlon,maxlat, got {len(parts)}")
    minlon, minlat, maxlon, maxlat = parts
    if not (-180 <= minlon <= 180 and -180 <= maxlon <= 180 and -90 <= minlat <= maxlat <= 90):
        raise AlertsError(f"bbox {text!r}: out of range (lon -180..180, lat -90..90, minlat <= maxlat)")
    return (minlon, minlat, maxlon, maxlat)


def parse_since(text: str) -> float:
    """An ISO 8601 time (``2024-05-01T12:00:00Z``) as epoch seconds; as documented for
    ``closewatch tail --since``, a time without a zone means UTC."""
    try:
        return parse_utc(text, "--since", naive="utc")
    except TimeFormatError as e:
        raise AlertsError(f"{e} (e.g. 2024-05-01T12:00:00Z)") from e


def _positions(geometry: Mapping[str, Any]) -> list[tuple[float, float]]:
    gtype = geometry.get("type")
    coords = geometry.get("coordinates", [])
    if gtype == "Point":
        return [(coords[0], coords[1])]
    if gtype in ("LineString", "MultiPoint"):
        return [(c[0], c[1]) for c in coords]
    if gtype == "MultiLineString":
        return [(c[0], c[1]) for line in coords for c in line]
    if gtype == "MultiPolygon":  # an area (gnss_interference, schema 1.5): the corners of its cells
        return [(c[0], c[1]) for poly in coords for ring in poly for c in ring]
    return []


def _in_bbox(lon: float, lat: float, bbox: tuple[float, float, float, float]) -> bool:
    minlon, minlat, maxlon, maxlat = bbox
    if not minlat <= lat <= maxlat:
        return False
    if minlon <= maxlon:
        return minlon <= lon <= maxlon
    return lon >= minlon or lon <= maxlon  # the box crosses the antimeridian


@dataclass(frozen=True)
class EventFilter:
    """Which events to keep; every given criterion must hold (an empty filter keeps all).

    ``sides``: any subject on one of these sides. ``bbox``: any position of the
    geometry or of a subject inside it. ``since_s``: event data time at or after.
    """

    kinds: frozenset[str] = field(default_factory=frozenset)
    severities: frozenset[str] = field(default_factory=frozenset)
    sides: frozenset[str] = field(default_factory=frozenset)
    bbox: tuple[float, float, float, float] | None = None
    since_s: float | None = None

    def matches(self, feature: Mapping[str, Any]) -> bool:
        p = feature.get("properties") or {}
        if self.kinds and p.get("kind") not in self.kinds:
            return False
        if self.severities and p.get("severity") not in self.severities:
            return False
        subjects = p.get("subjects") or []
        if self.sides and not any(s.get("side") in self.sides for s in subjects):
            return False
        if self.since_s is not None and not (isinstance(p.get("t_s"), (int, float)) and p["t_s"] >= self.since_s):
            return False
        if self.bbox is not None:
            points = _positions(feature.get("geometry") or {})
            points += [(s["lon_deg"], s["lat_deg"]) for s in subjects if "lon_deg" in s and "lat_deg" in s]
            if not any(_in_bbox(lon, lat, self.bbox) for lon, lat in points):
                return False
        return True


_COUNTS = frozenset(("escorts", "interceptors", "passes", "gave_way", "neighbours_heard"))  # metrics that count
_BEARINGS = frozenset(("pass_bearing_deg", "turn_deg"))  # angles, not coordinates: whole degrees


def _fmt_metric(name: str, value: float) -> str:
    if name.endswith("_t_s") and isinstance(value, (int, float)):
        # a time (UTC epoch seconds) as the time of day, to the tenth of a second: min_t=12:00:02.7Z
        try:
            return f"{name[:-2]}={format_utc(value, 'milliseconds')[11:21]}Z"
        except TimeFormatError:
            return f"{name}={value}"
    if name in _BEARINGS:
        return f"{name[:-4]}={value:+.0f}" if name == "turn_deg" else f"{name[:-4]}={value:03.0f}"
    if name.endswith("_deg"):
        return f"{name}={value:.5f}"
    if name.endswith("_m"):
        # One unit per magnitude, the name without its unit suffix: distance=945m, distance=8.87km.
        return f"{name[:-2]}={value / 1000:.2f}km" if abs(value) >= 1000 else f"{name[:-2]}={value:.0f}m"
    if name.endswith("_s"):
        return f"{name}={value:.0f}"
    if name in _COUNTS:
        return f"{name}={value:.0f}"
    return f"{name}={value:.1f}" if isinstance(value, float) else f"{name}={value}"


_KEY_METRICS = ("distance_m", "min_distance_m", "min_t_s", "cpa_m", "tcpa_s", "vertical_sep_m", "eta_s",
                "join_distance_m", "closest_m", "duration_s", "escorts", "interceptors", "min_slant_range_m",
                "height_at_min_m", "pass_bearing_deg", "passes", "cpa_before_m", "turn_deg", "gave_way",
                "silence_s", "neighbours_heard", "zone_distance_m", "jump_m")


def _area_text(m: Mapping[str, Any], n_cells: int) -> str:
    """``area=26559km2/18cells degraded=144/189(76%) growth=+1200km2``: an area-level event."""
    text = f"area={m.get('area_km2', 0.0):.0f}km2/{n_cells}cells"
    if "aircraft" in m:
        text += f" degraded={m.get('degraded_aircraft', 0.0):.0f}/{m['aircraft']:.0f}({m.get('share', 0.0):.0%})"
    if m.get("growth_km2"):
        text += f" growth={m['growth_km2']:+.0f}km2"
    if "centre_lat_deg" in m and "centre_lon_deg" in m:
        text += f" centre={m['centre_lat_deg']:.3f},{m['centre_lon_deg']:.3f}"
    return text


def format_event_line(feature: Mapping[str, Any]) -> str:
    """One readable line per revision: time, kind, state, seq, severity, subjects (side, category,
    stationary or in port), key metrics, zone, integrity (with its reasons), the rule that raised it."""
    p = feature.get("properties") or {}
    subjects = []
    for s in p.get("subjects") or []:
        label = s.get("callsign") or s.get("name")
        who = [str(s.get("side"))]
        if s.get("category") not in (None, "unknown"):
            who.append(str(s["category"]))
        if s.get("in_port"):
            who.append("in-port")
        if s.get("stationary"):
            who.append("stationary")
        tag = f"{s.get('track_id')}[{','.join(who)}]"
        subjects.append(f"{tag}({label})" if label else tag)
    metrics = p.get("metrics") or {}
    shown = [_fmt_metric(k, metrics[k]) for k in _KEY_METRICS if k in metrics]
    if p.get("cells"):  # an area (gnss_interference): its extent and who saw it
        shown.insert(0, _area_text(metrics, len(p["cells"])))
    parts = [
        str(p.get("time", "?")),
        f"{p.get('kind', '?'):<24}",
        f"{p.get('state', '?'):<6}",
        f"#{p.get('seq', '?')}",
        f"{str(p.get('severity', '?')).upper():<8}",
        " <-> ".join(subjects),
    ]
    if shown:
        parts.append(" ".join(shown))
    if p.get("zone_name") or p.get("zone_id"):
        parts.append(f"zone={p.get('zone_name') or p.get('zone_id')}")
    note = p.get("notification")
    if isinstance(note, dict):  # since 1.6: an exercise or NOTAM area, notified or not
        parts.append(f"notice={str(note.get('status', '?')).upper()}({note.get('notice_id') or note.get('activity_id', '?')})")
    if p.get("integrity_suspect"):
        reasons = p.get("integrity_reasons") or []
        parts.append("INTEGRITY-SUSPECT" + (f"({','.join(map(str, reasons))})" if reasons else ""))
    if p.get("close_reason"):
        parts.append(f"closed:{p['close_reason']}")
    if p.get("suppressed"):
        parts.append(f"NOT-RAISED:{p['suppressed']}")
    if p.get("rule"):
        parts.append(f"rule={p['rule']}")
    parts.append(f"id={p.get('event_id', '?')}")
    return "  ".join(parts)


def subscribe(
    bootstrap_servers: str | Sequence[str] | KafkaSettings,
    topic: str | None = None,
    *,
    group_id: str | None = None,
    from_beginning: bool = False,
    timeout_s: float | None = None,
    event_filter: EventFilter | None = None,
    skip_invalid: bool = True,
    consumer_overrides: Mapping[str, Any] | None = None,
) -> Iterator[ReceivedEvent]:
    """Yield the events of ``topic`` (default: the settings' events topic, else ``closewatch.events.v1``).

    ``bootstrap_servers`` is ``"host:port[,host:port]"`` or a :class:`KafkaSettings`
    (then TLS/SASL come from it). ``group_id=None`` reads without committing
    offsets; with a group id offsets are committed automatically (classic
    consumer group protocol). ``timeout_s``: stop after that long without a
    message (``None``: follow forever). Values that do not decode are logged and
    skipped (``skip_invalid=False``: raise :class:`CodecError`).
    """
    from kafka import KafkaConsumer
    from kafka.errors import KafkaTimeoutError

    from alerts.producer import client_security_config, unreachable_error

    if isinstance(bootstrap_servers, KafkaSettings):
        cfg = client_security_config(bootstrap_servers)
        topic = topic or bootstrap_servers.events_topic
    else:
        servers = bootstrap_servers.split(",") if isinstance(bootstrap_servers, str) else list(bootstrap_servers)
        cfg = {"bootstrap_servers": [s.strip() for s in servers if s.strip()]}
    topic = topic or "closewatch.events.v1"
    cfg.update(
        group_id=group_id,
        auto_offset_reset="earliest" if from_beginning else "latest",
        enable_auto_commit=group_id is not None,
        client_id="closewatch-subscriber",
    )
    if timeout_s is not None:
        cfg["consumer_timeout_ms"] = int(timeout_s * 1000)
        cfg["bootstrap_timeout_ms"] = int(min(timeout_s, 30.0) * 1000)
    cfg.update(consumer_overrides or {})
    try:
        consumer = KafkaConsumer(topic, **cfg)
    except KafkaTimeoutError as e:
        if isinstance(bootstrap_servers, KafkaSettings):
            raise unreachable_error(bootstrap_servers, e) from e
        raise KafkaUnreachableError(f"Kafka at {cfg['bootstrap_servers']} unreachable: {e}") from e
    try:
        for msg in consumer:
            try:
                feature = codec.decode_event(msg.value)
            except CodecError as e:
                if not skip_invalid:
                    raise CodecError(f"{msg.topic}[{msg.partition}]@{msg.offset}: {e}") from e
                log.warning("%s[%d]@%d skipped: %s", msg.topic, msg.partition, msg.offset, e)
                continue
            if event_filter is not None and not event_filter.matches(feature):
                continue
            yield ReceivedEvent(
                feature=feature,
                key=msg.key,
                headers={k: v for k, v in (msg.headers or [])},
                topic=msg.topic,
                partition=msg.partition,
                offset=msg.offset,
                timestamp_ms=msg.timestamp,
            )
    finally:
        consumer.close()
