"""What every closewatch map page shares: the base map, GeoJSON layers drawn by
closewatch's own script, the page setup, and writing the page offline.

The base map has no tiles by default (air-gapped operations centres): the sea
is the page background and country outlines come from the zone catalogue. A
tile URL (``map.tile_url``, e.g. a tile server inside the operations centre)
adds a tile layer.
"""

from __future__ import annotations

import html
import logging
import re
from pathlib import Path
from typing import Any, Iterable, Literal, Mapping, Sequence

import folium
from branca.element import Element, Figure, MacroElement
from folium.template import Template
from folium.utilities import JsCode
from shapely.geometry.base import BaseGeometry

from maps.assets import AssetStore, localise
from maps.errors import AssetsError
from maps.features import feature_collection, outline_features

__all__ = [
    "DEFAULT_BOUNDS",
    "PageSetup",
    "add_outlines",
    "base_map",
    "bounds_of",
    "geojson_layer",
    "write_page",
]

log = logging.getLogger(__name__)

MAX_ZOOM = 14
MIN_ZOOM = 3
# south, west, north, east: the Baltic and the Barents Sea, where closewatch starts.
DEFAULT_BOUNDS = ((53.0, 9.0), (71.0, 36.0))


def bounds_of(points: Iterable[tuple[float, float]]) -> tuple[tuple[float, float], tuple[float, float]] | None:
    """``((south, west), (north, east))`` of ``(lon, lat)`` points, padded a little."""
    lons, lats = [], []
    for lon, lat in points:
        lons.append(lon)
        lats.append(lat)
    if not lons:
        return None
    pad_lat = max(0.05, (max(lats) - min(lats)) * 0.08)
    pad_lon = max(0.08, (max(lons) - min(lons)) * 0.08)
    return ((min(lats) - pad_lat, min(lons) - pad_lon), (max(lats) + pad_lat, max(lons) + pad_lon))


def base_map(
    bounds: tuple[tuple[float, float], tuple[float, float]] | None,
    *,
    tile_url: str | None = None,
    tile_attribution: str | None = None,
    title: str = "closewatch",
) -> folium.Map:
    """A map with no CDN tiles; ``maxZoom`` is set so plugins that need it work."""
    (south, west), (north, east) = bounds or DEFAULT_BOUNDS
    zoom_limits: dict[str, Any] = {"maxZoom": MAX_ZOOM, "minZoom": MIN_ZOOM}  # Leaflet map options
    m = folium.Map(
        location=[(south + north) / 2, (west + east) / 2],
        zoom_start=6,
        tiles=None,
        control_scale=True,
        **zoom_limits,
    )
    if tile_url:
        folium.TileLayer(
            tiles=tile_url,
            attr=html.escape(tile_attribution or "map tiles"),
            name="Tiles",
            max_zoom=MAX_ZOOM,
            overlay=False,
            control=False,
        ).add_to(m)
    root = m.get_root()
    assert isinstance(root, Figure)
    root.title = html.escape(title)
    # no favicon request (a 404 on the server, a needless fetch anywhere)
    root.header.add_child(Element('<link rel="icon" href="data:,">'), name="closewatch_no_favicon")
    return m


def geojson_layer(
    data: Mapping[str, Any], name: str, *, show: bool = True, control: bool = True
) -> folium.GeoJson:
    """A GeoJSON layer styled and filled by ``closewatch-map.js`` (popups via
    ``textContent``: feed strings are never parsed as HTML)."""
    return folium.GeoJson(
        data,
        name=name,
        show=show,
        control=control,
        on_each_feature=JsCode("closewatch.onEachFeature"),
        style=JsCode("closewatch.style"),
        point_to_layer=JsCode("closewatch.pointToLayer"),
    )


def add_outlines(m: folium.Map, outlines: BaseGeometry | Mapping[str, Any] | None) -> None:
    """Country outlines as the base of a map without tiles (not switchable)."""
    feats = outline_features(outlines)
    if feats:
        geojson_layer(feature_collection(feats), "Country outlines", control=False).add_to(m)


class PageSetup(MacroElement):
    """Calls ``closewatch.setupMap`` once the map exists: fits ``bounds``
    (``((south, west), (north, east))``) without animation, so the page is ready as
    soon as its script has run, and adds the title, legend and label zoom."""

    _template = Template(
        """
        {% macro script(this, kwargs) %}
        closewatch.setupMap({{ this._parent.get_name() }}, {{ this.options|tojson }});
        {% endmacro %}
        """
    )

    def __init__(
        self, bounds: tuple[tuple[float, float], tuple[float, float]] | None, options: Mapping[str, Any]
    ) -> None:
        super().__init__()
        self._name = "PageSetup"
        (south, west), (north, east) = bounds or DEFAULT_BOUNDS
        self.options = {"bounds": [[south, west], [north, east]], **options}


# A reference that would make the browser fetch something from another host.
_REMOTE_REF = re.compile(
    r"""(?:<script[^>]*\ssrc|<link[^>]*\shref|<img[^>]*\ssrc|<iframe[^>]*\ssrc)\s*=\s*["']?(?:https?:)?//"""
    r"""|url\(\s*["']?(?:https?:)?//|@import\s+["']?(?:https?:)?//""",
    re.IGNORECASE,
)


def check_offline(page: str, what: str) -> None:
    """Fail if the HTML still loads anything from another host."""
    m = _REMOTE_REF.search(page)
    if m:
        start = max(0, m.start() - 80)
        raise AssetsError(f"{what} would load a remote resource: ...{page[start:m.end() + 80]}...")


def write_page(
    m: folium.Map,
    path: str | Path | None,
    *,
    mode: Literal["inline", "served"],
    store: AssetStore | None = None,
    extra_assets: Sequence[str] = ("closewatch-map.css", "closewatch-map.js"),
    url_prefix: str = "/assets",
) -> str:
    """Localise the assets, render, check nothing is remote, write ``path``
    (when given) and return the HTML."""
    root = m.get_root()
    assert isinstance(root, Figure)
    localise(root, store or AssetStore(), mode=mode, extra=tuple(extra_assets), url_prefix=url_prefix)
    page = root.render()
    check_offline(page, str(path or "page"))
    if path is not None:
        p = Path(path)
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(page, encoding="utf-8")
        log.info("wrote %s (%.0f kB)", p, len(page.encode()) / 1024)
    return page
