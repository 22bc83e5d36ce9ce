"""ingest: bytes from the feeds an operations centre has, to TrackUpdates and Notices.

Public API::

    open_feed(feed, sides, *, stop=None, kafka=None) -> Iterator[TrackUpdate | Notice | DeadLetter]
    open_feeds(feeds, sides, stop=None, *, kafka=None) -> Iterator[(feed_name, item)]
    AisDecoder(feed_name, affiliation).decode(lines)        # AIS NMEA (pyais)
    Sbs1Decoder, AircraftJsonDecoder, ModeSDecoder, CotDecoder,
    ExerciseGeoJsonDecoder, NotamDecoder, TracksJsonlDecoder, TracksCsvDecoder
    ingest.ais.encode_nmea(fields, t_s, timestamp="tag")   # AIS lines for generators
    ingest.stats.snapshot()                                # counts per feed and reason

See docs/feeds.md for the formats, the time rules and the dead-letter reasons.
"""

from ingest import stats
from ingest.aircraft_json import AircraftJsonDecoder
from ingest.ais import AisDecoder, ShipStatic, encode_nmea
from ingest.cot import CotDecoder
from ingest.errors import FeedConfigError, IngestError, TransportError
from ingest.exercise import ExerciseGeoJsonDecoder, NotamDecoder
from ingest.feeds import DECODERS, Decoder, FeedItem, make_clock, make_decoder, open_feed, open_feeds
from ingest.modes import ModeSDecoder
from ingest.sbs1 import Sbs1Decoder
from ingest.stats import FeedStats
from ingest.tracks import TracksCsvDecoder, TracksJsonlDecoder

__all__ = [
    "DECODERS",
    "AircraftJsonDecoder",
    "AisDecoder",
    "CotDecoder",
    "Decoder",
    "ExerciseGeoJsonDecoder",
    "FeedConfigError",
    "FeedItem",
    "FeedStats",
    "IngestError",
    "ModeSDecoder",
    "NotamDecoder",
    "Sbs1Decoder",
    "ShipStatic",
    "TracksCsvDecoder",
    "TracksJsonlDecoder",
    "TransportError",
    "encode_nmea",
    "make_clock",
    "make_decoder",
    "open_feed",
    "open_feeds",
    "stats",
]
