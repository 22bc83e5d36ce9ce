"""maps: Folium pages for operators and analysts, fully offline.

* :mod:`maps.assets` - Leaflet and the plugins, fetched from the npm registry at
  install time into the cache, served or inlined by closewatch itself;
* :mod:`maps.render` - the static situation map (one self-contained HTML file);
* :mod:`maps.features` - tracks, zones and events as GeoJSON (RFC 7946) features.

``maps`` imports ``config``, the event contract of ``alerts`` (``alerts.codec``) and
the types of ``proximity``, never ``ingest``: events arrive in one shape, the value of
the Kafka events topic (the GeoJSON Feature of :func:`alerts.codec.event_to_feature`),
whether they come from Kafka, a JSON Lines file or the pipeline itself.
"""

from maps.errors import AssetsError, MapInputError, MapServerError, MapsError

__all__ = ["AssetsError", "MapInputError", "MapServerError", "MapsError"]
