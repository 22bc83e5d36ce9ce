"""Offline map assets: Leaflet and its plugins from the npm registry, never from a CDN.

Operations centres are air-gapped: a map page must not make a single request off
the machine. folium, however, points every element at a CDN: each element class
lists ``default_js``/``default_css`` as ``(name, url)`` pairs. This module

* fetches the pinned npm packages (``maps/package.json`` and its lock file) with
  ``npm ci`` into ``$CLOSEWATCH_CACHE/map-assets`` at install time
  (:func:`fetch_assets`, ``closewatch map assets``; idempotent);
* rewrites a folium figure before it is rendered (:func:`localise`): every
  element's ``default_js``/``default_css`` is replaced *per instance* and the
  assets it needs are either inlined (``mode="inline"``: a self-contained HTML
  file that works from ``file://``) or linked to the local server
  (``mode="served"``: ``/assets/<package>/<file>``);
* refuses (:class:`~maps.errors.AssetsError`) any asset it does not know, so a new
  folium element cannot silently bring back a CDN link.

The jQuery, Bootstrap, Font Awesome, glyphicons and awesome-markers links that
``folium.Map`` lists are dropped: closewatch pages draw with Leaflet and their own
script (``maps/static``), never with ``folium.Popup`` (which needs jQuery) or
``folium.Icon`` (awesome-markers); :func:`localise` rejects those elements.
"""

from __future__ import annotations

import base64
import hashlib
import json
import logging
import mimetypes
import os
import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator, Literal

from branca.element import CssLink, Element, Figure, JavascriptLink

from maps.errors import AssetsError

__all__ = [
    "ASSETS",
    "Asset",
    "AssetStore",
    "OWN_ASSETS",
    "assets_dir",
    "cache_root",
    "fetch_assets",
    "localise",
]

log = logging.getLogger(__name__)

_HERE = Path(__file__).resolve().parent
PACKAGE_JSON = _HERE / "package.json"
PACKAGE_LOCK = _HERE / "package-lock.json"
STATIC_DIR = _HERE / "static"
_STAMP = ".closewatch-assets.json"


@dataclass(frozen=True, slots=True)
class Asset:
    """One file a page loads: ``package`` is the npm package (``None``: our own
    file in ``maps/static``), ``path`` the file inside it."""

    key: str
    package: str | None
    path: str
    kind: Literal["js", "css"]

    @property
    def url_path(self) -> str:
        """Where the map server serves it (relative URLs inside CSS keep working)."""
        return f"{self.package or '_closewatch'}/{self.path}"


# Every script and stylesheet a closewatch page may load, in load order.
ASSETS: tuple[Asset, ...] = (
    Asset("leaflet.css", "leaflet", "dist/leaflet.css", "css"),
    Asset("leaflet.js", "leaflet", "dist/leaflet.js", "js"),
    Asset("leaflet-realtime.js", "leaflet-realtime", "dist/leaflet-realtime.min.js", "js"),
    Asset("moment.js", "moment", "min/moment.min.js", "js"),
    Asset("leaflet.timeline.js", "leaflet.timeline", "dist/leaflet.timeline.js", "js"),
)
OWN_ASSETS: tuple[Asset, ...] = (
    Asset("closewatch-map.css", None, "closewatch-map.css", "css"),
    Asset("closewatch-map.js", None, "closewatch-map.js", "js"),
)
_BY_KEY = {a.key: a for a in ASSETS + OWN_ASSETS}

# folium's names for its links -> our asset, or None to drop the link.
_FOLIUM_LINKS: dict[str, str | None] = {
    "leaflet": "leaflet.js",
    "leaflet_css": "leaflet.css",
    "Leaflet_Realtime_js": "leaflet-realtime.js",
    "timeline": "leaflet.timeline.js",
    "moment": "moment.js",
    # listed by folium.Map for elements closewatch pages never use
    "jquery": None,
    "bootstrap": None,
    "bootstrap_css": None,
    "awesome_markers": None,
    "awesome_markers_css": None,
    "awesome_markers_font_css": None,
    "glyphicons_css": None,
    "awesome_rotate_css": None,
}
# folium elements whose generated script needs a dropped library.
_REFUSED_ELEMENTS = {
    "Popup": "folium.Popup needs jQuery and inserts raw HTML; closewatch builds popups in its own script",
    "Icon": "folium.Icon needs awesome-markers and Font Awesome; use a DivIcon",
}


def cache_root() -> Path:
    """``$CLOSEWATCH_CACHE``, default ``~/.cache/closewatch``."""
    env = os.environ.get("CLOSEWATCH_CACHE")
    return Path(env).expanduser() if env else Path.home() / ".cache" / "closewatch"


def assets_dir() -> Path:
    """Where ``closewatch map assets`` installs the npm packages."""
    return cache_root() / "map-assets"


def _lock_digest() -> str:
    h = hashlib.sha256()
    for p in (PACKAGE_JSON, PACKAGE_LOCK):
        h.update(p.read_bytes())
    return h.hexdigest()


def _complete(root: Path) -> bool:
    stamp = root / _STAMP
    try:
        recorded = json.loads(stamp.read_text())
    except (OSError, ValueError):
        return False
    if recorded.get("lock_sha256") != _lock_digest():
        return False
    return all((root / "node_modules" / a.package / a.path).is_file() for a in ASSETS if a.package)


def fetch_assets(dest: Path | None = None, *, npm: str = "npm", force: bool = False) -> Path:
    """Install the pinned npm packages into ``dest`` (default :func:`assets_dir`).

    Idempotent: when ``dest`` already holds the versions of the committed lock file
    nothing is run. Uses ``npm ci --ignore-scripts`` (exact versions from
    ``maps/package-lock.json``, no install scripts). Returns ``dest``.
    """
    root = (dest or assets_dir()).resolve()
    if not force and _complete(root):
        log.debug("map assets already present in %s", root)
        return root
    exe = shutil.which(npm)
    if exe is None:
        raise AssetsError(f"npm ({npm!r}) not found on PATH: install Node.js/npm to fetch the map assets")
    root.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(PACKAGE_JSON, root / "package.json")
    shutil.copyfile(PACKAGE_LOCK, root / "package-lock.json")
    cmd = [exe, "ci", "--ignore-scripts", "--no-audit", "--no-fund", "--omit=dev", "--loglevel=error"]
    log.info("fetching map assets into %s: %s", root, " ".join(cmd[1:]))
    try:
        proc = subprocess.run(cmd, cwd=root, capture_output=True, text=True, timeout=600, check=False)
    except (OSError, subprocess.TimeoutExpired) as e:
        raise AssetsError(f"npm ci in {root} failed to run: {e}") from e
    if proc.returncode != 0:
        tail = (proc.stderr or proc.stdout).strip().splitlines()[-10:]
        raise AssetsError(f"npm ci in {root} exited {proc.returncode}:\n" + "\n".join(tail))
    missing = [f"{a.package}/{a.path}" for a in ASSETS if a.package and not (root / "node_modules" / a.package / a.path).is_file()]
    if missing:
        raise AssetsError(f"npm ci in {root} did not install: {', '.join(missing)}")
    (root / _STAMP).write_text(json.dumps({"lock_sha256": _lock_digest()}))
    return root


class AssetStore:
    """The installed assets: file lookup, inlining, and the files the server may serve."""

    def __init__(self, root: Path | None = None) -> None:
        self.root = (root or assets_dir()).resolve()
        if not _complete(self.root):
            raise AssetsError(
                f"map assets missing or out of date in {self.root}: run `closewatch map assets` "
                "(or `make assets`)"
            )
        self._text_cache: dict[str, str] = {}

    def path(self, asset: Asset) -> Path:
        if asset.package is None:
            return STATIC_DIR / asset.path
        return self.root / "node_modules" / asset.package / asset.path

    def resolve_url_path(self, url_path: str) -> Path | None:
        """The file behind ``/assets/<url_path>``, or ``None`` when it is not one of
        ours (unknown package, traversal, not a file)."""
        if len(url_path) > 1024 or any(ord(c) < 0x20 or c in "\\\x7f" for c in url_path):
            return None  # a NUL, a control character or a backslash names no file of ours
        package, _, rest = url_path.partition("/")
        if package == "_closewatch":
            base = STATIC_DIR
        elif any(a.package == package for a in ASSETS):
            base = self.root / "node_modules" / package
        else:
            return None
        try:
            target = (base / rest).resolve()
            if not target.is_relative_to(base.resolve()) or not target.is_file():
                return None
        except (OSError, ValueError):  # a name too long for the file system, ...
            return None
        return target

    def text(self, asset: Asset) -> str:
        if asset.key not in self._text_cache:
            raw = self.path(asset).read_text(encoding="utf-8")
            if asset.kind == "css":
                raw = self._inline_css_urls(raw, self.path(asset).parent)
            self._text_cache[asset.key] = raw
        return self._text_cache[asset.key]

    @staticmethod
    def _inline_css_urls(css: str, base: Path) -> str:
        """``url(images/x.png)`` -> ``url(data:image/png;base64,...)`` so an inlined
        stylesheet requests nothing."""

        def repl(m: re.Match[str]) -> str:
            ref = m.group(2)
            if ref.startswith("data:") or ref.startswith("#"):
                return m.group(0)
            if "://" in ref or ref.startswith("//"):
                raise AssetsError(f"stylesheet in {base} refers to a remote resource {ref!r}")
            target = (base / ref.split("?")[0].split("#")[0]).resolve()
            if not target.is_file():
                raise AssetsError(f"stylesheet in {base} refers to {ref!r}, which is not installed")
            mime = mimetypes.guess_type(target.name)[0] or "application/octet-stream"
            data = base64.b64encode(target.read_bytes()).decode("ascii")
            return f"url(data:{mime};base64,{data})"

        return re.sub(r"url\(\s*(['\"]?)([^'\")]+)\1\s*\)", repl, css)


class _InlineAsset(Element):
    """A ``<script>`` or ``<style>`` holding an asset's text."""

    def __init__(self, kind: Literal["js", "css"], text: str, label: str) -> None:
        super().__init__()
        self._name = "InlineAsset"
        self.kind = kind
        self.label = label
        if kind == "js":
            # "</script" would end the element early; "<\/script" means the same in JS.
            self.text = re.sub(r"</(script)", r"<\\/\1", text, flags=re.IGNORECASE)
        else:
            if re.search(r"</style", text, flags=re.IGNORECASE):
                raise AssetsError(f"stylesheet {label} contains '</style'")
            self.text = text

    def render(self, **kwargs: object) -> str:
        if self.kind == "js":
            return f"<script>/* {self.label} */\n{self.text}\n</script>"
        return f"<style>/* {self.label} */\n{self.text}\n</style>"


def _walk(element: Element) -> Iterator[Element]:
    yield element
    for child in list(element._children.values()):
        yield from _walk(child)


def _needed(figure: Figure) -> list[Asset]:
    wanted: list[Asset] = []
    for el in _walk(figure):
        name = type(el).__name__
        if getattr(el, "_name", None) in _REFUSED_ELEMENTS and name in _REFUSED_ELEMENTS:
            raise AssetsError(f"{name} in a closewatch page: {_REFUSED_ELEMENTS[name]}")
        for attr in ("default_js", "default_css"):
            links = getattr(el, attr, None)
            if not links:
                continue
            for link_name, url in links:
                if link_name not in _FOLIUM_LINKS:
                    raise AssetsError(
                        f"{name} wants {link_name!r} from {url}: not an offline asset of closewatch "
                        "(add it to maps/package.json and maps.assets.ASSETS)"
                    )
                key = _FOLIUM_LINKS[link_name]
                if key is not None:
                    wanted.append(_BY_KEY[key])
            # per instance: the class-level CDN list stays untouched for others
            setattr(el, attr, [])
    return wanted


def localise(
    figure: Figure,
    store: AssetStore,
    *,
    mode: Literal["inline", "served"],
    url_prefix: str = "/assets",
    extra: tuple[str, ...] = ("closewatch-map.css", "closewatch-map.js"),
) -> Figure:
    """Point every asset of ``figure`` at closewatch's own copies. Call it once,
    after the last element was added and before ``figure.render()``.

    ``extra`` names assets of :data:`ASSETS`/:data:`OWN_ASSETS` the page's own
    script needs besides what folium lists (our map script by default).
    """
    wanted = _needed(figure) + [_BY_KEY[k] for k in extra]
    ordered = [a for a in ASSETS + OWN_ASSETS if a in wanted]  # load order, no duplicates
    for asset in ordered:
        element: Element
        if mode == "inline":
            element = _InlineAsset(asset.kind, store.text(asset), asset.url_path)
        elif asset.kind == "js":
            element = JavascriptLink(f"{url_prefix}/{asset.url_path}")
        else:
            element = CssLink(f"{url_prefix}/{asset.url_path}")
        figure.header.add_child(element, name=f"closewatch_asset_{asset.key}")
    return figure
