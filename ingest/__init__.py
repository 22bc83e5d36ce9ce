"""ingest: bytes from the feeds an operations centre has, to TrackUpdates.

Public API::

    open_feed(feed, sides, *, stop=None) -> Iterator[TrackUpdate | Zone | DeadLetter]
    AisDecoder(feed_name, affiliation).decode(lines)   # AIS NMEA (pyais)
    Sbs1Decoder(feed_name, affiliation).decode(lines)  # SBS-1 BaseStation CSV
    ingest.stats.snapshot()                            # counts per feed and reason

See docs/feeds.md for the formats, the time rules and the dead-letter reasons.
"""

from ingest import stats
from ingest.ais import AisDecoder, ShipStatic
from ingest.errors import FeedConfigError, IngestError, TransportError
from ingest.feeds import Decoder, FeedItem, make_clock, make_decoder, open_feed
from ingest.sbs1 import Sbs1Decoder
from ingest.stats import FeedStats

__all__ = [
    "AisDecoder",
    "Decoder",
    "FeedConfigError",
    "FeedItem",
    "FeedStats",
    "IngestError",
    "Sbs1Decoder",
    "ShipStatic",
    "TransportError",
    "make_clock",
    "make_decoder",
    "open_feed",
    "stats",
]
