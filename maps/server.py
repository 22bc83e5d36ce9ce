"""The live operations map: a Folium page served by aiohttp, updating itself.

The page (:func:`live_map`) polls one GeoJSON endpoint per layer with folium's
Realtime plugin (leaflet-realtime), ``remove_missing=True`` so stale tracks and
closed events vanish, and ``closewatch.updateFeature`` so a moved track's marker
moves, rotates and gets its new popup and label without the operator losing
zoom or pan. A status endpoint feeds the counts and the banner (no connection to
Kafka, feeds restarting or failed, a stale feed).

Endpoints (GET and HEAD only): ``/`` the page, ``/assets/<package>/<file>`` the
offline scripts and style sheets, ``/api/{tracks,trails,events,zones}`` GeoJSON
(RFC 7946), ``/api/status`` JSON.

Safety, for a page that operators open from other machines:

* **Host allow-list** (DNS rebinding): only ``Host`` values naming this server are
  answered: ``127.0.0.1``, ``localhost``, ``[::1]``, the address it listens on, and
  ``[map] allowed_hosts``; any other gets 421 Misdirected Request (RFC 9110 section
  15.5.20), a request with no or several ``Host`` headers 400.
* **Token** (``[map] token``, required off loopback): the Bearer scheme of RFC 6750
  (section 2.1, scheme case-insensitive as RFC 9110 section 11.1 says):
  ``Authorization: Bearer <token>``; or, for a browser, one login at ``/?token=<token>``
  that sets an HttpOnly, SameSite=Strict session cookie (a random value, never the
  token; 12 hours) and redirects to the clean URL. A token anywhere else (a bare
  ``Authorization: <token>``, ``?token=`` on another path) is refused.
* **Headers on every response**, errors and malformed requests included:
  Content-Security-Policy (this server only, no framing), X-Content-Type-Options,
  Referrer-Policy, X-Frame-Options, Cross-Origin-Opener/Resource-Policy,
  Cache-Control ``no-store`` (assets: private, one hour), HSTS over HTTPS.
* **HTTPS** from ``[map] tls_certfile``/``tls_keyfile`` (TLS 1.2 or later).
"""

from __future__ import annotations

import asyncio
import hmac
import json
import logging
import re
import secrets
import ssl
import threading
import time
from collections import OrderedDict
from typing import Any, Awaitable, Callable, Mapping, Sequence

import folium
import folium.plugins
from aiohttp import web
from aiohttp.http_exceptions import HttpProcessingError
from aiohttp.web_protocol import RequestHandler
from branca.element import MacroElement
from folium.template import Template
from folium.utilities import JsCode
from shapely.geometry.base import BaseGeometry

from config.hosts import LOOPBACK_NAMES, canonical_host, is_loopback_host, split_host_port
from config.records import Zone
from config.settings import MapSettings
from config.tlsfiles import TlsFileError, server_context
from maps.assets import AssetStore
from maps.errors import MapServerError
from maps.live import LAYERS, SituationStore
from maps.page import PageSetup, add_outlines, base_map, bounds_of, write_page

__all__ = ["CSP", "SESSION_COOKIE", "LiveMapServer", "live_map", "security_headers", "serve_live_map", "tls_context"]

log = logging.getLogger(__name__)

SESSION_COOKIE = "closewatch_map_session"
SESSION_TTL_S = 12 * 3600.0
MAX_SESSIONS = 1_000  # the oldest login is forgotten first
CSP = (
    "default-src 'none'; script-src 'self' 'unsafe-inline'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; font-src 'self' data:; connect-src 'self'; base-uri 'none'; "
    "form-action 'none'; frame-ancestors 'none'"
)
_LAYER_NAMES = {"zones": "Zones", "trails": "Track trails", "tracks": "Tracks", "events": "Open events"}
# RFC 6750 section 2.1: credentials = "Bearer" 1*SP b64token
_BEARER = re.compile(r"([A-Za-z][A-Za-z0-9!#$%&'*+.^_`|~-]*) +([A-Za-z0-9\-._~+/]+=*)")
_MAX_PATH = 2048


def security_headers(*, tls: bool) -> dict[str, str]:
    """The headers every response of the map server carries."""
    headers = {
        "Content-Security-Policy": CSP,
        "X-Content-Type-Options": "nosniff",
        "Referrer-Policy": "no-referrer",
        "X-Frame-Options": "DENY",
        "Cross-Origin-Opener-Policy": "same-origin",
        "Cross-Origin-Resource-Policy": "same-origin",
        "Server": "closewatch",
    }
    if tls:
        headers["Strict-Transport-Security"] = "max-age=31536000"
    return headers


def tls_context(settings: MapSettings) -> ssl.SSLContext | None:
    """The HTTPS context of ``[map] tls_certfile``/``tls_keyfile`` (None: plain HTTP);
    :class:`~maps.errors.MapServerError` names the file and the reason."""
    if settings.tls_certfile is None or settings.tls_keyfile is None:
        return None
    try:
        return server_context(settings.tls_certfile, settings.tls_keyfile, settings.tls_key_password)
    except TlsFileError as e:
        raise MapServerError(f"map.tls_{e.role}: {e}") from e


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


def _text(status: int, text: str, headers: Mapping[str, str] | None = None) -> web.Response:
    return web.Response(status=status, text=f"closewatch map: {text}\n", headers=headers)


class _Sessions:
    """Browser sessions opened by a ``?token=`` login: random ids, expiring, at most
    :data:`MAX_SESSIONS` (used from the server's event loop only)."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._expiry: OrderedDict[str, float] = OrderedDict()

    def open(self) -> str:
        sid = secrets.token_urlsafe(32)
        self._expiry[sid] = self._clock() + SESSION_TTL_S
        while len(self._expiry) > MAX_SESSIONS:
            self._expiry.popitem(last=False)
        return sid

    def valid(self, sid: str) -> bool:
        until = self._expiry.get(sid)
        if until is None:
            return False
        if until < self._clock():
            del self._expiry[sid]
            return False
        return True


class _SecureRequestHandler(RequestHandler):
    """aiohttp's connection handler, whose own error responses (a request line too long,
    bytes that are not HTTP) carry the security headers too."""

    __slots__ = ("_cw_headers",)

    def __init__(self, manager: web.Server, *, headers: Mapping[str, str], **kwargs: Any) -> None:
        super().__init__(manager, **kwargs)
        self._cw_headers = headers

    def handle_error(self, request: web.BaseRequest, status: int = 500, exc: BaseException | None = None,
                     message: str | None = None) -> web.StreamResponse:
        resp = super().handle_error(request, status, exc, message)
        resp.headers.update(self._cw_headers)
        resp.headers.setdefault("Cache-Control", "no-store")
        return resp

    def log_exception(self, *args: Any, **kwargs: Any) -> None:
        exc = kwargs.get("exc_info")
        if isinstance(exc, HttpProcessingError):  # bytes from the network that are not HTTP: no traceback
            log.warning("map server: malformed request refused: %s", str(exc.message)[:200])
        else:
            super().log_exception(*args, **kwargs)


class _Server(web.Server):
    """A low-level aiohttp server whose connections are :class:`_SecureRequestHandler`."""

    def __init__(self, handler: Callable[[web.BaseRequest], Awaitable[web.StreamResponse]], *,
                 loop: asyncio.AbstractEventLoop, headers: Mapping[str, str], **kwargs: Any) -> None:
        super().__init__(handler, loop=loop, **kwargs)
        self._cw_args = dict(kwargs, loop=loop, headers=headers)

    def __call__(self) -> RequestHandler:
        return _SecureRequestHandler(self, **self._cw_args)


class LiveMapServer:
    """Serves the live map of ``store`` from a background thread.

    ``port=0`` picks a free port (tests); :attr:`url` is where to point a browser.
    ``allowed_hosts``: ``Host`` values answered besides the loopback names and the address
    listened on (``name`` or ``name:port``); ``tls``: an HTTPS context (:func:`tls_context`).
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
        allowed_hosts: Sequence[str] = (),
        tls: ssl.SSLContext | None = None,
    ) -> None:
        if not is_loopback_host(host) and not token:
            raise MapServerError(f"map server on {host!r} (not loopback) needs a token: set map.token")
        if not is_loopback_host(host) and tls is None:
            log.warning("map server on %s without HTTPS: the token and the picture cross the network in clear "
                        "(set map.tls_certfile and map.tls_keyfile)", host)
        self.store = store
        self.host = host
        self.port = port
        self.token = token
        self.tls = tls
        self.assets = assets or AssetStore()
        self._headers = security_headers(tls=tls is not None)
        self._sessions = _Sessions()
        try:
            names = {*LOOPBACK_NAMES, canonical_host(host)} - {"0.0.0.0", "::"}
            self._allowed = [(n, None) for n in names] + [split_host_port(h) for h in allowed_hosts]
        except ValueError as e:
            raise MapServerError(f"map.allowed_hosts: {e}") from e
        self.page = write_page(
            live_map(refresh_s=refresh_s, zones=zones, outlines=outlines, tile_url=tile_url, title=title),
            None,
            mode="served",
            store=self.assets,
        ).encode()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._runner: web.BaseRunner | None = None
        self._thread: threading.Thread | None = None

    # ----------------------------------------------------------- HTTP

    async def _handle(self, request: web.BaseRequest) -> web.StreamResponse:
        """Every request: dispatched, and whatever comes out (an error too) gets the headers."""
        try:
            resp = self._dispatch(request)
        except Exception:  # a bug must not answer without the headers, nor take the server down
            log.exception("map server: %s %s failed", request.method, request.path_qs[:200])
            resp = _text(500, "internal error")
        resp.headers.update(self._headers)
        resp.headers.setdefault("Cache-Control", "no-store")
        return resp

    def _host_allowed(self, request: web.BaseRequest) -> web.Response | None:
        values = request.headers.getall("Host", [])
        if len(values) != 1:
            return _text(400, "one Host header is required")
        try:
            name, port = split_host_port(values[0])
        except ValueError:
            return _text(400, "malformed Host header")
        for allowed_name, allowed_port in self._allowed:
            if name == allowed_name and port in (None, allowed_port or self.port):
                return None
        return _text(421, f"this server does not answer to Host {values[0][:100]!r} (map.allowed_hosts)")

    def _refusal(self, status: int, text: str, error: str | None = None) -> web.Response:
        challenge = 'Bearer realm="closewatch map"' + (f', error="{error}"' if error else "")
        return _text(status, text, {"WWW-Authenticate": challenge})

    def _unauthorised(self, request: web.BaseRequest) -> web.Response | None:
        """None when the request may go on, else the 401/400 to answer (RFC 6750 section 3)."""
        if not self.token:
            return None
        if "token" in request.query:
            return self._refusal(400, "a token in a URL is accepted only as the login at /?token=...",
                                 "invalid_request")
        header = request.headers.get("Authorization")
        if header is not None:
            m = _BEARER.fullmatch(header.strip())
            if m is None or m.group(1).lower() != "bearer":
                return self._refusal(401, "Authorization must be 'Bearer <token>'", "invalid_request")
            if hmac.compare_digest(m.group(2).encode(), self.token.encode()):
                return None
            return self._refusal(401, "wrong token", "invalid_token")
        sid = request.cookies.get(SESSION_COOKIE)
        if sid and self._sessions.valid(sid):
            return None
        return self._refusal(401, "token required: open /?token=<token> once, or send Authorization: Bearer")

    def _login(self, request: web.BaseRequest) -> web.Response:
        """``/?token=``: a session cookie (never the token itself), then the clean URL."""
        given = request.query.getall("token")
        assert self.token is not None
        if len(given) != 1 or not hmac.compare_digest(given[0].encode(), self.token.encode()):
            return self._refusal(401, "wrong token", "invalid_token")
        resp = web.Response(status=303, headers={"Location": "/"})
        resp.set_cookie(SESSION_COOKIE, self._sessions.open(), httponly=True, samesite="Strict", path="/",
                        max_age=int(SESSION_TTL_S), secure=self.tls is not None)
        return resp

    def _dispatch(self, request: web.BaseRequest) -> web.Response | web.FileResponse:
        refused = self._host_allowed(request)
        if refused is not None:
            return refused
        if request.method not in ("GET", "HEAD"):
            return _text(405, "only GET and HEAD", {"Allow": "GET, HEAD"})
        path = request.path
        if len(request.raw_path) > _MAX_PATH:
            return _text(414, "path too long")
        if path == "/" and self.token and "token" in request.query:
            return self._login(request)
        refused = self._unauthorised(request)
        if refused is not None:
            return refused
        if path == "/":
            return web.Response(body=self.page, content_type="text/html", charset="utf-8")
        if path.startswith("/assets/"):
            found = self.assets.resolve_url_path(path.removeprefix("/assets/"))
            if found is None:
                return _text(404, "not found")
            return web.FileResponse(found, headers={"Cache-Control": "private, max-age=3600"})
        layer = path.removeprefix("/api/") if path.startswith("/api/") else None
        if layer == "status":
            return web.Response(body=json.dumps(self.store.status(), allow_nan=False).encode(),
                                content_type="application/json")
        if layer in LAYERS:
            return web.Response(body=self.store.layer_json(layer), content_type="application/geo+json")
        return _text(404, "not found")

    # ----------------------------------------------------------- lifecycle

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{'https' if self.tls else 'http'}://{host}:{self.port}/"

    def start(self) -> "LiveMapServer":
        if self._thread is not None:
            raise MapServerError("map server already started")
        loop = asyncio.new_event_loop()
        ready = threading.Event()
        failure: list[BaseException] = []

        async def startup() -> None:
            server = _Server(self._handle, loop=loop, headers=self._headers, access_log=None)
            runner = web.ServerRunner(server)
            await runner.setup()
            site = web.TCPSite(runner, self.host, self.port, reuse_address=True, ssl_context=self.tls)
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
    host: str | None = None,
    port: int | None = None,
) -> LiveMapServer:
    """Start the live map with the ``[map]`` settings (``host``/``port`` override them); the
    caller stops it (``server.stop()``). Used by ``closewatch run --serve-map`` and
    ``closewatch map serve``."""
    return LiveMapServer(
        store,
        host=settings.host if host is None else host,
        port=settings.port if port is None else port,
        token=settings.token,
        refresh_s=settings.refresh_s,
        zones=zones,
        outlines=outlines,
        tile_url=settings.tile_url,
        assets=assets,
        allowed_hosts=settings.allowed_hosts,
        tls=tls_context(settings),
    ).start()
