"""The live operations map: a Folium page served by aiohttp, updating itself.

The page (:func:`live_map`) polls one GeoJSON endpoint per layer with folium's
Realtime plugin (leaflet-realtime), ``remove_missing=True`` so stale tracks and
closed events vanish, and ``closewatch.updateFeature`` so a moved track's marker
moves, rotates and gets its new popup and label without the operator losing
zoom or pan. A status endpoint feeds the counts and the stale-feed warning.

Endpoints: ``/`` the page, ``/assets/<package>/<file>`` the offline scripts and
style sheets, ``/api/{tracks,trails,events,zones}`` GeoJSON (RFC 7946),
``/api/status`` JSON.

Safety: bound to 127.0.0.1 unless told otherwise; any other address needs a
token (``map.token``), accepted as ``Authorization: Bearer <token>``, as
``?token=<token>`` on the page (which then sets an HttpOnly cookie and drops the
token from the address bar) or as that cookie. Every response carries a
Content-Security-Policy that lets the page load and fetch from this server only.
"""

from __future__ import annotations

import asyncio
import hmac
import ipaddress
import json
import logging
import threading
from typing import Any, Awaitable, Callable, Mapping, Sequence

import folium
import folium.plugins
from aiohttp import web
from branca.element import MacroElement
from folium.template import Template
from folium.utilities import JsCode
from shapely.geometry.base import BaseGeometry

from config.records import Zone
from config.settings import MapSettings
from maps.assets import AssetStore
from maps.errors import MapServerError
from maps.live import LAYERS, SituationStore
from maps.page import PageSetup, add_outlines, base_map, bounds_of, write_page

__all__ = ["LiveMapServer", "live_map", "serve_live_map"]

log = logging.getLogger(__name__)

TOKEN_COOKIE = "closewatch_map_token"
CSP = (
    "default-src 'none'; script-src 'self' 'unsafe-inline'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; font-src 'self' data:; connect-src 'self'; base-uri 'none'; "
    "form-action 'none'; frame-ancestors 'none'"
)
_SECURITY_HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}
_LAYER_NAMES = {"zones": "Zones", "trails": "Track trails", "tracks": "Tracks", "events": "Open events"}


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


class _LiveSetup(MacroElement):
    """Calls ``closewatch.setupLive``: panel (counts, filters, selection) and the
    stale-feed warning, wired to the Realtime layers."""

    _template = Template(
        """
        {% macro script(this, kwargs) %}
        closewatch.setupLive({{ this._parent.get_name() }}, Object.assign({{ this.options|tojson }}, {
            realtimes: [{% for rt in this.realtimes %}{{ rt.get_name() }}{% if not loop.last %}, {% endif %}{% endfor %}]
        }));
        {% endmacro %}
        """
    )

    def __init__(self, options: Mapping[str, Any], realtimes: Sequence[folium.plugins.Realtime]) -> None:
        super().__init__()
        self._name = "LiveSetup"
        self.options = dict(options)
        self.realtimes = list(realtimes)


def live_map(
    *,
    refresh_s: float = 2.0,
    zones: Sequence[Zone] = (),
    outlines: BaseGeometry | Mapping[str, Any] | None = None,
    tile_url: str | None = None,
    title: str = "closewatch live map",
    api_prefix: str = "/api",
) -> folium.Map:
    """The live page: layers polled from ``api_prefix`` every ``refresh_s``."""
    pts = []
    for z in zones:
        minx, miny, maxx, maxy = z.geometry.bounds
        pts += [(minx, miny), (maxx, maxy)]
    bounds = bounds_of(pts)
    m = base_map(bounds, tile_url=tile_url, title=title)
    add_outlines(m, outlines)
    interval_ms = int(refresh_s * 1000)
    realtimes = []
    for layer in ("zones", "trails", "tracks", "events"):
        group = folium.FeatureGroup(name=_LAYER_NAMES[layer]).add_to(m)
        rt = folium.plugins.Realtime(
            f"{api_prefix}/{layer}",
            interval=interval_ms if layer != "zones" else max(interval_ms, 15_000),
            get_feature_id=JsCode("function (f) { return f.properties.id; }"),
            update_feature=JsCode("closewatch.updateFeature"),
            remove_missing=True,
            point_to_layer=JsCode("closewatch.pointToLayer"),
            on_each_feature=JsCode("closewatch.onEachFeature"),
            style=JsCode("closewatch.style"),
        )
        rt.control = False  # the group is the switchable layer
        rt.add_to(group)
        realtimes.append(rt)
    folium.LayerControl(collapsed=True, position="topright").add_to(m)
    PageSetup(bounds, {"title": title, "tiles": bool(tile_url),
                       "zoneKinds": sorted({z.kind for z in zones}) or None}).add_to(m)
    _LiveSetup({"statusUrl": f"{api_prefix}/status", "intervalMs": interval_ms}, realtimes).add_to(m)
    return m


Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


class LiveMapServer:
    """Serves the live map of ``store`` from a background thread.

    ``port=0`` picks a free port (tests); :attr:`url` is where to point a browser.
    Use as a context manager or call :meth:`start`/:meth:`stop`.
    """

    def __init__(
        self,
        store: SituationStore,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        token: str | None = None,
        refresh_s: float = 2.0,
        zones: Sequence[Zone] = (),
        outlines: BaseGeometry | Mapping[str, Any] | None = None,
        tile_url: str | None = None,
        title: str = "closewatch live map",
        assets: AssetStore | None = None,
    ) -> None:
        if not is_loopback(host) and not token:
            raise MapServerError(f"map server on {host!r} (not loopback) needs a token: set map.token")
        self.store = store
        self.host = host
        self.port = port
        self.token = token
        self.assets = assets or AssetStore()
        self.page = write_page(
            live_map(refresh_s=refresh_s, zones=zones, outlines=outlines, tile_url=tile_url, title=title),
            None,
            mode="served",
            store=self.assets,
        ).encode()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._runner: web.AppRunner | None = None
        self._thread: threading.Thread | None = None

    # ----------------------------------------------------------- HTTP

    def _authorised(self, request: web.Request) -> bool:
        if not self.token:
            return True
        given = [
            request.headers.get("Authorization", "").removeprefix("Bearer ").strip(),
            request.cookies.get(TOKEN_COOKIE, ""),
            request.query.get("token", ""),
        ]
        return any(g and hmac.compare_digest(g.encode(), self.token.encode()) for g in given)

    @web.middleware
    async def _guard(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        if not self._authorised(request):
            resp: web.StreamResponse = web.Response(status=401, text="closewatch map: token required\n")
        else:
            try:
                resp = await handler(request)
            except web.HTTPException as e:
                e.headers.update(_SECURITY_HEADERS)
                raise
        resp.headers.update(_SECURITY_HEADERS)
        return resp

    async def _page(self, request: web.Request) -> web.StreamResponse:
        if self.token and "token" in request.query:
            # keep the token out of the address bar and history: cookie, then redirect
            resp = web.Response(status=303, headers={"Location": "/"})
            resp.set_cookie(TOKEN_COOKIE, self.token, httponly=True, samesite="Strict", path="/")
            return resp
        return web.Response(body=self.page, content_type="text/html", charset="utf-8",
                            headers={"Cache-Control": "no-store"})

    async def _asset(self, request: web.Request) -> web.StreamResponse:
        path = self.assets.resolve_url_path(request.match_info["path"])
        if path is None:
            raise web.HTTPNotFound()
        return web.FileResponse(path, headers={"Cache-Control": "max-age=3600"})

    async def _layer(self, request: web.Request) -> web.StreamResponse:
        layer = request.match_info["layer"]
        if layer == "status":
            body = json.dumps(self.store.status()).encode()
            return web.Response(body=body, content_type="application/json", headers={"Cache-Control": "no-store"})
        if layer not in LAYERS:
            raise web.HTTPNotFound()
        return web.Response(body=self.store.layer_json(layer), content_type="application/geo+json",
                            headers={"Cache-Control": "no-store"})

    def _app(self) -> web.Application:
        app = web.Application(middlewares=[self._guard])
        app.router.add_get("/", self._page)
        app.router.add_get("/assets/{path:.+}", self._asset)
        app.router.add_get("/api/{layer}", self._layer)
        return app

    # ----------------------------------------------------------- lifecycle

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}/"

    def start(self) -> "LiveMapServer":
        if self._thread is not None:
            raise MapServerError("map server already started")
        loop = asyncio.new_event_loop()
        ready = threading.Event()
        failure: list[BaseException] = []

        async def startup() -> None:
            runner = web.AppRunner(self._app(), access_log=None)
            await runner.setup()
            site = web.TCPSite(runner, self.host, self.port, reuse_address=True)
            await site.start()
            self._runner = runner
            self.port = int(runner.addresses[0][1])

        def run() -> None:
            asyncio.set_event_loop(loop)
            try:
                loop.run_until_complete(startup())
            except BaseException as e:  # reported to start()
                failure.append(e)
                ready.set()
                loop.close()
                return
            ready.set()
            loop.run_forever()
            loop.close()

        self._loop = loop
        self._thread = threading.Thread(target=run, name="closewatch-map-server", daemon=True)
        self._thread.start()
        ready.wait(30)
        if failure:
            self._thread.join()
            self._thread = None
            raise MapServerError(f"map server could not listen on {self.host}:{self.port}: {failure[0]}") from failure[0]
        log.info("live map at %s", self.url)
        return self

    def stop(self) -> None:
        if self._thread is None or self._loop is None:
            return
        loop = self._loop
        if self._runner is not None:
            asyncio.run_coroutine_threadsafe(self._runner.cleanup(), loop).result(10)
        loop.call_soon_threadsafe(loop.stop)
        self._thread.join(10)
        self._thread = None
        self._runner = None

    def __enter__(self) -> "LiveMapServer":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def serve_live_map(
    store: SituationStore,
    settings: MapSettings,
    *,
    zones: Sequence[Zone] = (),
    outlines: BaseGeometry | Mapping[str, Any] | None = None,
    assets: AssetStore | None = None,
    port: int | None = None,
) -> LiveMapServer:
    """Start the live map for a running pipeline (``closewatch run``) with the
    ``[map]`` settings; the caller stops it (``server.stop()``)."""
    return LiveMapServer(
        store,
        host=settings.host,
        port=settings.port if port is None else port,
        token=settings.token,
        refresh_s=settings.refresh_s,
        zones=zones,
        outlines=outlines,
        tile_url=settings.tile_url,
        assets=assets,
    ).start()

