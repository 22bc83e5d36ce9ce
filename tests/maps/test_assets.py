"""Offline assets: fetched from npm once, localised into pages, nothing remote."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import folium
import folium.plugins
import pytest

from maps import assets as assets_mod
from maps.assets import ASSETS, AssetStore, fetch_assets, localise
from maps.errors import AssetsError
from maps.page import check_offline


def test_fetch_is_idempotent_and_needs_no_npm_when_present(asset_store: AssetStore, monkeypatch) -> None:
    monkeypatch.setattr(shutil, "which", lambda _name: None)  # npm "gone": must not be needed
    assert fetch_assets(asset_store.root) == asset_store.root


def test_fetch_installs_the_pinned_versions(tmp_path: Path) -> None:
    root = fetch_assets(tmp_path / "assets")
    lock = json.loads((assets_mod.PACKAGE_LOCK).read_text())
    for a in ASSETS:
        assert a.package is not None
        installed = json.loads((root / "node_modules" / a.package / "package.json").read_text())
        assert installed["version"] == lock["packages"][f"node_modules/{a.package}"]["version"]
        assert (root / "node_modules" / a.package / a.path).is_file()


def test_missing_assets_name_the_command(tmp_path: Path) -> None:
    with pytest.raises(AssetsError, match="closewatch map assets"):
        AssetStore(tmp_path / "nothing-here")


def test_stale_install_is_refused(asset_store: AssetStore, tmp_path: Path) -> None:
    copy = tmp_path / "copy"
    shutil.copytree(asset_store.root, copy, symlinks=True)
    (copy / ".closewatch-assets.json").write_text(json.dumps({"lock_sha256": "an older lock"}))
    with pytest.raises(AssetsError, match="out of date"):
        AssetStore(copy)


def test_every_folium_cdn_link_is_replaced_inline(asset_store: AssetStore) -> None:
    m = folium.Map(tiles=None)
    folium.plugins.Realtime("/api/tracks.geojson").add_to(m)
    html = localise(m.get_root(), asset_store, mode="inline").render()
    check_offline(html, "test page")
    assert "cdn.jsdelivr" not in html and "cdnjs" not in html and "code.jquery" not in html
    assert "L.Realtime" in html or "L.realtime" in html
    # the class-level lists are untouched: other folium users keep their defaults
    assert any("cdn" in url for _n, url in folium.Map.default_js)


def test_served_links_point_at_the_local_server(asset_store: AssetStore) -> None:
    m = folium.Map(tiles=None)
    html = localise(m.get_root(), asset_store, mode="served", url_prefix="/assets").render()
    assert '<script src="/assets/leaflet/dist/leaflet.js"></script>' in html
    assert 'href="/assets/leaflet/dist/leaflet.css"' in html
    check_offline(html, "test page")


def test_inlined_stylesheet_embeds_its_images(asset_store: AssetStore) -> None:
    css = asset_store.text(next(a for a in ASSETS if a.key == "leaflet.css"))
    assert "url(images/" not in css
    assert "data:image/png;base64," in css


@pytest.mark.parametrize(
    ("make", "match"),
    [
        (lambda m: folium.plugins.Fullscreen().add_to(m), "not an offline asset"),
        (lambda m: folium.Marker([59, 25], popup="x").add_to(m), "Popup"),
        (lambda m: folium.Marker([59, 25], icon=folium.Icon()).add_to(m), "Icon"),
    ],
)
def test_unknown_or_unsafe_elements_are_refused(asset_store: AssetStore, make, match: str) -> None:
    m = folium.Map(tiles=None)
    make(m)
    with pytest.raises(AssetsError, match=match):
        localise(m.get_root(), asset_store, mode="inline")


def test_server_paths_stay_inside_the_packages(asset_store: AssetStore) -> None:
    assert asset_store.resolve_url_path("leaflet/dist/leaflet.js") is not None
    assert asset_store.resolve_url_path("leaflet/dist/images/layers.png") is not None
    assert asset_store.resolve_url_path("_closewatch/closewatch-map.js") is not None
    assert asset_store.resolve_url_path("leaflet/../../package.json") is None
    assert asset_store.resolve_url_path("left-pad/index.js") is None
    assert asset_store.resolve_url_path("_closewatch/../assets.py") is None


def test_check_offline_catches_remote_references() -> None:
    for bad in ('<script src="https://cdn.example/x.js"></script>', '<link rel="stylesheet" href="//x/y.css">',
                "<style>a{background:url(http://x/y.png)}</style>"):
        with pytest.raises(AssetsError):
            check_offline(bad, "t")
    check_offline('<a href="https://leafletjs.com">Leaflet</a>', "t")  # a link is not a request
