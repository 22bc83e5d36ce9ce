"""The event families: one module per kind of event, each a ``Family`` (``proximity.families.base``).

``FAMILIES`` lists them in the order the engine runs them: at one tick, and for
one report, the events of a family earlier in the list come first. A family
that looks at another's incidents when it runs (a prediction skips a pair
whose close approach is open) comes after it. Their kinds are registered here,
in that order (``proximity.events.EVENT_KINDS``).
"""

from __future__ import annotations

from ..events import register_kind
from .ais_gap import AisGap
from .base import Context, Family
from .bomber_sortie import BomberSortie
from .close_approach import CloseApproach
from .exercise_near_border import ExerciseNearBorder
from .gnss_interference import GnssInterference
from .predicted_close_approach import PredictedCloseApproach
from .predicted_zone_entry import PredictedZoneEntry
from .shadowing import Intercept, Shadowing
from .track_integrity import TrackIntegrity
from .unsafe_air_intercept import UnsafeAirIntercept
from .unsafe_manoeuvre import UnsafeManoeuvre
from .zone_entry import ZoneEntry

__all__ = ["FAMILIES", "Context", "Family"]

FAMILIES: tuple[type[Family], ...] = (
    ExerciseNearBorder,
    TrackIntegrity,
    GnssInterference,
    ZoneEntry,
    CloseApproach,
    PredictedCloseApproach,
    PredictedZoneEntry,
    Shadowing,
    Intercept,
    BomberSortie,
    UnsafeAirIntercept,
    UnsafeManoeuvre,
    AisGap,
)

for _family in FAMILIES:
    register_kind(_family.spec.kind_spec())
