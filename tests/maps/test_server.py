"""The live map server over real HTTP on 127.0.0.1: token, assets, endpoints, headers."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from typing import Any

import pytest

from config.settings import MapSettings
from maps.assets import AssetStore
from maps.errors import MapServerError
from maps.live import SituationStore
from maps.server import CSP, LiveMapServer, serve_live_map


def _get(url: str, headers: dict[str, str] | None = None) -> tuple[int, dict[str, str], bytes]:
    req = urllib.request.Request(url, headers=headers or {})
    try:
        with urllib.request.urlopen(req, timeout=10) as r:  # noqa: S310 - loopback only
            return r.status, dict(r.headers), r.read()
    except urllib.error.HTTPError as e:
        return e.code, dict(e.headers), e.read()


@pytest.fixture
def server(situation: Any, asset_store: AssetStore) -> Any:
    store = SituationStore(situation.zones)
    for ups in situation.tracks.values():
        store.apply_tracks(ups)
    with LiveMapServer(store, assets=asset_store) as srv:
        yield srv


def test_endpoints_and_headers(server: LiveMapServer) -> None:
    assert server.url.startswith("http://127.0.0.1:")
    status, headers, body = _get(server.url)
    assert status == 200 and headers["Content-Security-Policy"] == CSP
    assert b'<script src="/assets/leaflet/dist/leaflet.js">' in body
    status, headers, body = _get(server.url + "api/tracks")
    assert status == 200 and headers["Content-Type"].startswith("application/geo+json")
    assert len(json.loads(body)["features"]) == 5
    status, _h, body = _get(server.url + "api/status")
    assert json.loads(body)["tracks"] == 5
    assert _get(server.url + "assets/leaflet/dist/images/layers.png")[0] == 200
    assert _get(server.url + "assets/_closewatch/closewatch-map.js")[0] == 200
    for bad in ("assets/leaflet/../../package.json", "assets/_closewatch/..%2fassets.py", "api/secrets",
                "assets/left-pad/index.js"):
        assert _get(server.url + bad)[0] == 404, bad


def test_token_required_and_accepted(situation: Any, asset_store: AssetStore) -> None:
    with LiveMapServer(SituationStore(), token="t0ken-t0ken-t0ken", assets=asset_store) as srv:
        assert _get(srv.url + "api/status")[0] == 401
        assert _get(srv.url + "api/status", {"Authorization": "Bearer wrong"})[0] == 401
        assert _get(srv.url + "api/status", {"Authorization": "Bearer t0ken-t0ken-t0ken"})[0] == 200
        assert _get(srv.url + "api/status", {"Cookie": "closewatch_map_token=t0ken-t0ken-t0ken"})[0] == 401


def test_not_loopback_without_token_is_refused(asset_store: AssetStore) -> None:
    with pytest.raises(MapServerError, match="token"):
        LiveMapServer(SituationStore(), host="0.0.0.0", assets=asset_store)


def test_port_in_use_is_a_clear_error(server: LiveMapServer, asset_store: AssetStore) -> None:
    with pytest.raises(MapServerError, match="could not listen"):
        LiveMapServer(SituationStore(), port=server.port, assets=asset_store).start()


def test_serve_live_map_uses_the_settings(asset_store: AssetStore) -> None:
    srv = serve_live_map(SituationStore(), MapSettings(port=0, refresh_s=3.0), assets=asset_store)
    try:
        status, _h, body = _get(srv.url)
        assert status == 200 and b'"interval": 3000' in body
    finally:
        srv.stop()
