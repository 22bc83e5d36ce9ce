"""Notified or not (proximity.notification): the Vienna Document's lead and thresholds."""

from __future__ import annotations

import pytest

from proximity.notification import NOTIFY_THRESHOLD, VIENNA_LEAD_S, notification_of, reaches

DAY = 86_400.0
START = 1_773_100_000.0


def _props(**kw: object) -> dict[str, object]:
    return {"format": "exercise-geojson", "notification": "notified", "country": "RU", "side": "russia", **kw}


def test_a_zone_no_notice_made_has_no_notification() -> None:
    assert notification_of("border:EE-RU:10km", {"source": "catalogue"}, None) is None


@pytest.mark.parametrize(
    ("issued_days_before", "declared", "status"),
    [
        (60.0, {"troops": 12_000}, "notified"),  # in time, above the threshold
        (42.0, {"troops": 12_000}, "notified"),  # exactly 42 days: in time
        (41.5, {"troops": 12_000}, "late"),
        (10.0, {"battle_tanks": 250}, "late"),  # one category at its threshold is enough
        (10.0, {"troops": 8_999, "acv": 499}, "notified"),  # below every threshold: no 42 days owed
        (10.0, {}, "late"),  # size not declared: it may reach the threshold
        (0.0, {"troops": 500}, "snap_exercise"),  # issued as it started
        (-0.5, {}, "snap_exercise"),  # issued after it started
    ],
)
def test_status_from_lead_and_declared_forces(issued_days_before: float, declared: dict[str, int], status: str) -> None:
    props = _props(issued_s=START - issued_days_before * DAY, declared=declared)
    note = notification_of("exercise:x", props, START)
    assert note is not None and note["status"] == status
    assert note["notice_id"] == "exercise:x" and note["issuer"] == "RU"
    assert note["lead_s"] == pytest.approx(issued_days_before * DAY)
    if declared:
        assert note["notifiable"] == reaches(declared, NOTIFY_THRESHOLD)


def test_observation_threshold_and_a_settable_lead() -> None:
    props = _props(issued_s=START - 20 * DAY, declared={"troops": 13_000})
    note = notification_of("exercise:big", props, START)
    assert note is not None and (note["status"], note["notifiable"], note["observable"]) == ("late", True, True)
    # a shorter lead agreed between the parties: 20 days in advance is in time
    assert notification_of("exercise:big", props, START, lead_s=14 * DAY)["status"] == "notified"  # type: ignore[index]
    assert VIENNA_LEAD_S == 42 * DAY


def test_snap_and_unnotified_words_of_the_feed() -> None:
    snap = notification_of("exercise:s", _props(notification="snap"), START)
    assert snap == {"status": "snap_exercise", "notice_id": "exercise:s", "issuer": "RU"}
    seen = notification_of("exercise:u", _props(notification="unnotified", declared={"troops": 20_000}), START)
    assert seen == {"status": "unnotified", "activity_id": "exercise:u", "issuer": "RU", "notifiable": True,
                    "observable": True}


def test_a_notam_is_notified_whatever_its_lead() -> None:
    props = {"format": "notam", "country": "FI", "side": "nato", "issued_s": START - 2 * DAY}
    note = notification_of("notam:A1234/26", props, START)
    assert note is not None and note["status"] == "notified" and note["issuer"] == "FI"
