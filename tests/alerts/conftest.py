"""Sample events, tracks and dead letters for the alerts tests."""

from __future__ import annotations

from typing import Any, Callable

import pytest
from jsonschema import Draft202012Validator

from alerts.codec import load_schema
from config.records import DeadLetter, TrackUpdate
from proximity.events import Event, Subject

T0_S = 1_714_564_800.0  # 2024-05-01T12:00:00Z


def subject(track_id: str = "ais:273123456", side: str = "russia", lon: float = 27.50, lat: float = 59.90,
            **kw: Any) -> Subject:
    return Subject(track_id=track_id, side=side, domain=kw.pop("domain", "sea"), t_s=kw.pop("t_s", T0_S),
                   lat_deg=lat, lon_deg=lon, **kw)


def make_event(
    event_id: str = "close_approach-0123456789abcdef",
    seq: int = 0,
    *,
    kind: str = "close_approach",
    state: str = "open",
    severity: str = "warning",
    subjects: tuple[Subject, ...] | None = None,
    metrics: dict[str, float] | None = None,
    t_s: float | None = None,
    detected_s: float | None = 1_714_564_801.5,
    **kw: Any,
) -> Event:
    if subjects is None:
        subjects = (
            subject("ais:273123456", "russia", 27.50, 59.90, callsign="UBAA", name="VOLNA"),
            subject("ais:230123456", "nato", 27.52, 59.91, name="TURVA", speed_mps=6.2, course_deg=181.0),
        )
    return Event(
        event_id=event_id,
        kind=kind,  # type: ignore[arg-type]
        state=state,  # type: ignore[arg-type]
        seq=seq,
        t_s=T0_S + seq if t_s is None else t_s,
        severity=severity,  # type: ignore[arg-type]
        subjects=subjects,
        summary=kw.pop("summary", "two ships of opposite sides within 1 NM"),
        metrics={"distance_m": 1234.5, "cpa_m": 400.0, "tcpa_s": 300.0} if metrics is None else metrics,
        detected_s=detected_s,
        **kw,
    )


def make_track(i: int = 0, **kw: Any) -> TrackUpdate:
    base: dict[str, Any] = dict(track_id=f"icao:4b1a{i:02x}", source="sbs", t_s=T0_S + i, lat_deg=54.5 + i * 0.01,
                                lon_deg=20.1, domain="air", side="nato", alt_m=9000.0, speed_mps=230.0,
                                course_deg=90.0, callsign=f"NATO{i:02d}", type_code="E3TF", raw_ref=f"sbs:{i + 1}")
    base.update(kw)
    return TrackUpdate(**base)


def make_deadletter(i: int = 0, raw: bytes = b"!AIVDM,1,1,,A,garbage*00\r\n") -> DeadLetter:
    return DeadLetter(feed="ais-dma", position=i + 1, raw=raw, reason="bad checksum", received_s=T0_S + i)


SCHEMAS = ("event", "context", "track", "deadletter", "feed_health")


def schema_validators() -> dict[str, Draft202012Validator]:
    """A validator of each committed schema; ``context`` refers to ``event`` by its ``$id``."""
    from referencing import Registry, Resource

    schemas = {name: load_schema(f"{name}.v1.json") for name in SCHEMAS}
    registry: Registry = Registry().with_resources(
        (s["$id"], Resource.from_contents(s)) for s in schemas.values())  # type: ignore[arg-type]
    return {name: Draft202012Validator(s, registry=registry) for name, s in schemas.items()}


@pytest.fixture(scope="session")
def validators() -> dict[str, Draft202012Validator]:
    return schema_validators()


@pytest.fixture
def event_factory() -> Callable[..., Event]:
    return make_event


@pytest.fixture
def track_factory() -> Callable[..., TrackUpdate]:
    return make_track


@pytest.fixture
def deadletter_factory() -> Callable[..., DeadLetter]:
    return make_deadletter


@pytest.fixture
def subject_factory() -> Callable[..., Subject]:
    return subject
