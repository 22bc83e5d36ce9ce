"""maps: Folium pages for operators and analysts, fully offline.

* :mod:`maps.assets` - Leaflet and the plugins, fetched from the npm registry at
  install time into the cache, served or inlined by closewatch itself;
* :mod:`maps.render` - the static situation map (one self-contained HTML file);
* :mod:`maps.features` - tracks, zones and events as GeoJSON (RFC 7946) features.

``maps`` imports only ``config`` and ``proximity`` (types), never ``alerts`` or
``ingest``: events arrive as :class:`proximity.events.Event` objects or as the
decoded GeoJSON dicts of the Kafka event topic.
"""

from maps.errors import AssetsError, MapInputError, MapServerError, MapsError

__all__ = ["AssetsError", "MapInputError", "MapServerError", "MapsError"]
