"""The live map server against hostile requests, over real sockets on 127.0.0.1: Host headers
(DNS rebinding, in real Chromium too), paths with NUL, traversal and overlong, odd methods and
bytes that are not HTTP, the Bearer scheme of RFC 6750 and the one login cookie, HTTPS with a
throwaway CA. Every response, errors included, carries the security headers."""

from __future__ import annotations

import socket
import ssl
import urllib.request
from http.cookies import SimpleCookie
from pathlib import Path
from typing import Any, Iterator

import pytest

from alerts.tls import LocalPki, make_local_pki
from browser_fixtures import launch_browser, screenshot, wait_until
from config.settings import MapSettings
from maps.assets import AssetStore
from maps.errors import MapServerError
from maps.live import SituationStore
from maps.server import CSP, SESSION_COOKIE, LiveMapServer, serve_live_map, tls_context

TOKEN = "Token-0123456789abcdef"
_SECURITY = {
    "content-security-policy": CSP,
    "x-content-type-options": "nosniff",
    "referrer-policy": "no-referrer",
    "x-frame-options": "DENY",
}


class Reply:
    def __init__(self, raw: bytes) -> None:
        head, _, self.body = raw.partition(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        self.status_line = lines[0]
        self.status = int(lines[0].split()[1]) if len(lines[0].split()) > 1 else 0
        self.headers: dict[str, str] = {}
        self.cookies: list[str] = []
        for line in lines[1:]:
            name, _, value = line.partition(":")
            if name.lower() == "set-cookie":
                self.cookies.append(value.strip())
            self.headers[name.strip().lower()] = value.strip()

    def assert_secure(self, what: str) -> None:
        for name, value in _SECURITY.items():
            assert self.headers.get(name) == value, f"{what}: {name} missing in {self.status_line} {self.headers}"
        assert self.headers.get("cache-control"), f"{what}: no Cache-Control"


def raw_request(port: int, data: bytes, *, tls: ssl.SSLContext | None = None) -> Reply:
    """Send bytes as they are (no client fixing up the Host header or the path) and read the reply."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as plain:
        sock = tls.wrap_socket(plain, server_hostname="localhost") if tls else plain
        sock.sendall(data)
        chunks = []
        while True:
            try:
                chunk = sock.recv(65536)
            except (ConnectionResetError, ssl.SSLError):
                break
            if not chunk:
                break
            chunks.append(chunk)
        return Reply(b"".join(chunks))


def get(port: int, path: str = "/api/status", host: str | None = "127.0.0.1", headers: dict[str, str] | None = None,
        *, tls: ssl.SSLContext | None = None) -> Reply:
    lines = [f"GET {path} HTTP/1.1"]
    if host is not None:
        lines.append(f"Host: {host}")
    lines += [f"{k}: {v}" for k, v in (headers or {}).items()] + ["Connection: close", "", ""]
    return raw_request(port, "\r\n".join(lines).encode("latin-1"), tls=tls)


@pytest.fixture
def open_server(asset_store: AssetStore) -> Iterator[LiveMapServer]:
    """The default: loopback, no token."""
    with LiveMapServer(SituationStore(), assets=asset_store, allowed_hosts=("map.ops.example", "proxy.ops.example:443")) as srv:
        yield srv


@pytest.fixture
def token_server(asset_store: AssetStore) -> Iterator[LiveMapServer]:
    with LiveMapServer(SituationStore(), token=TOKEN, assets=asset_store) as srv:
        yield srv


def test_host_allow_list(open_server: LiveMapServer) -> None:
    port = open_server.port
    for host in (f"127.0.0.1:{port}", f"localhost:{port}", f"LOCALHOST:{port}", f"localhost.:{port}", f"[::1]:{port}",
                 "127.0.0.1", f"map.ops.example:{port}", "map.ops.example", "proxy.ops.example:443"):
        r = get(port, host=host)
        assert r.status == 200, (host, r.status_line)
        r.assert_secure(host)
    for host in ("evil.example", f"evil.example:{port}", f"127.0.0.1.evil.example:{port}", f"localhost:{port + 1}",
                 f"map.ops.example.evil:{port}", "proxy.ops.example:8443", f"[::2]:{port}", "0.0.0.0", f"10.0.0.1:{port}"):
        r = get(port, host=host)
        assert r.status == 421, (host, r.status_line)
        assert b"does not answer to Host" in r.body
        r.assert_secure(host)
    for host in (None, "", "[::1", f"127.0.0.1:{port}:1", "127.0.0.1:99999", "a b", "\u00e9vil.example"):
        r = get(port, host=host)
        assert r.status == 400, (host, r.status_line)
        r.assert_secure(repr(host))
    two = raw_request(port, f"GET / HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nHost: evil.example\r\n\r\n".encode())
    assert two.status == 400
    two.assert_secure("two Host headers")


def test_hostile_paths_methods_and_bytes(open_server: LiveMapServer) -> None:
    port = open_server.port
    paths = {
        "/assets/_closewatch/%00": 404,
        "/assets/_closewatch/closewatch-map.js%00.png": 404,
        "/%00": 404,
        "/api/%00status": 404,
        "/assets/_closewatch/..%2f..%2fconfig%2fsettings.py": 404,
        "/assets/_closewatch/%2e%2e/%2e%2e/config/settings.py": 404,
        "/assets/leaflet/../../../../etc/passwd": 404,
        "/assets/_closewatch/..\\..\\config\\settings.py": 404,
        "/assets/_closewatch/%5c..%5cserver.py": 404,
        "//etc/passwd": 404,
        "/assets/%ff%fe": 404,
        "/assets/_closewatch/" + "a" * 300: 404,
        "/assets/_closewatch/" + "a/" * 1500: 414,
        "/api/status?x=%00": 200,
        "/api/tracks?token=": 200,  # no token configured: a query is nothing
    }
    for path, status in paths.items():
        r = get(port, path)
        assert r.status == status, (path[:80], r.status_line)
        r.assert_secure(path[:80])
    for method in ("POST", "PUT", "DELETE", "OPTIONS", "TRACE", "PATCH", "CONNECT"):
        r = raw_request(port, f"{method} /api/status HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 0\r\n"
                              "Connection: close\r\n\r\n".encode())
        assert r.status in (400, 405), (method, r.status_line)
        r.assert_secure(method)
    head = raw_request(port, b"HEAD /api/status HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
    assert head.status == 200 and head.body == b""
    head.assert_secure("HEAD")
    for junk in (b"GARBAGE\r\n\r\n", b"GET /" + b"a" * 20_000 + b" HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n",
                 b"GET /api/status HTTP/1.1\r\nHost: 127.0.0.1\r\nX: " + b"a" * 20_000 + b"\r\n\r\n",
                 b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03" + bytes(64) + b"\r\n\r\n",
                 b"GET /api/status HTTP/9.9\r\nHost: 127.0.0.1\r\n\r\n",
                 b"GET /api/status HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: -1\r\n\r\n"):
        r = raw_request(port, junk)
        assert 400 <= r.status < 600 and r.status != 500, (junk[:30], r.status_line)
        r.assert_secure(repr(junk[:30]))
    assert get(port).status == 200  # and it still serves


def test_bearer_per_rfc_6750(token_server: LiveMapServer) -> None:
    port = token_server.port
    for scheme in ("Bearer", "bearer", "BEARER", "BeArEr"):
        for sep in (" ", "  "):
            r = get(port, headers={"Authorization": f"{scheme}{sep}{TOKEN}"})
            assert r.status == 200, (scheme, sep, r.status_line)
            r.assert_secure(scheme)
    refused = {
        TOKEN: "invalid_request",  # a bare token
        f"Basic {TOKEN}": "invalid_request",
        f"Bearer{TOKEN}": "invalid_request",
        f"Bearer {TOKEN} extra": "invalid_request",
        "Bearer": "invalid_request",
        "Bearer wrong-token-000000000": "invalid_token",
        f"Bearer {TOKEN}x": "invalid_token",
        f"Bearer {TOKEN[:-1]}": "invalid_token",
    }
    for value, error in refused.items():
        r = get(port, headers={"Authorization": value})
        assert r.status == 401, (value, r.status_line)
        assert r.headers["www-authenticate"] == f'Bearer realm="closewatch map", error="{error}"', value
        r.assert_secure(value)
    none = get(port)
    assert none.status == 401 and none.headers["www-authenticate"] == 'Bearer realm="closewatch map"'
    # the token only in the header or through the one login: not in a query, not as a cookie
    for path in (f"/api/status?token={TOKEN}", f"/api/tracks?token={TOKEN}", f"/assets/_closewatch/closewatch-map.js?token={TOKEN}"):
        r = get(port, path)
        assert r.status == 400 and "invalid_request" in r.headers["www-authenticate"], path
    r = get(port, headers={"Cookie": f"{SESSION_COOKIE}={TOKEN}"})
    assert r.status == 401
    r = get(port, headers={"Cookie": f"closewatch_map_token={TOKEN}"})
    assert r.status == 401


def test_login_sets_a_session_cookie_not_the_token_and_redirects_to_the_clean_url(token_server: LiveMapServer) -> None:
    port = token_server.port
    wrong = get(port, "/?token=wrong-token-000000000")
    assert wrong.status == 401 and not wrong.cookies
    twice = get(port, f"/?token={TOKEN}&token={TOKEN}")
    assert twice.status == 401 and not twice.cookies
    login = get(port, f"/?token={TOKEN}")
    assert login.status == 303 and login.headers["location"] == "/"
    login.assert_secure("login")
    assert len(login.cookies) == 1
    cookie = SimpleCookie(login.cookies[0])[SESSION_COOKIE]
    assert cookie.value != TOKEN and len(cookie.value) >= 32
    assert cookie["httponly"] and cookie["samesite"] == "Strict" and cookie["path"] == "/" and not cookie["secure"]
    assert int(cookie["max-age"]) == 12 * 3600
    for path in ("/", "/api/status", "/assets/_closewatch/closewatch-map.js"):
        r = get(port, path, headers={"Cookie": f"{SESSION_COOKIE}={cookie.value}"})
        assert r.status == 200, path
        r.assert_secure(path)
    assert get(port, headers={"Cookie": f"{SESSION_COOKIE}={cookie.value}x"}).status == 401
    # a second login is a second session; the first stays valid
    other = SimpleCookie(get(port, f"/?token={TOKEN}").cookies[0])[SESSION_COOKIE].value
    assert other != cookie.value
    assert get(port, headers={"Cookie": f"{SESSION_COOKIE}={cookie.value}"}).status == 200


def test_rebinding_page_refused_in_chromium(open_server: LiveMapServer, browser: Any) -> None:
    """DNS rebinding as a browser meets it: a name of the attacker resolving to 127.0.0.1."""
    port = open_server.port
    rebinding = launch_browser(browser, "--host-resolver-rules=MAP rebind.evil.example 127.0.0.1")
    try:
        page = rebinding.new_page()
        resp = page.goto(f"http://rebind.evil.example:{port}/")
        assert resp is not None and resp.status == 421
        assert resp.headers["content-security-policy"] == CSP
        assert page.locator(".leaflet-container").count() == 0
        screenshot(page, "live-map-rebinding-refused")
        resp = page.goto(f"http://localhost:{port}/")
        assert resp is not None and resp.status == 200
        page.locator(".leaflet-container").wait_for()
    finally:
        rebinding.close()


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> LocalPki:
    """A throwaway CA and a server certificate for 127.0.0.1 and localhost (alerts.tls)."""
    return make_local_pki(tmp_path_factory.mktemp("map-pki"), client_key_password="client-Password")


def _client_context(pki: LocalPki) -> ssl.SSLContext:
    return ssl.create_default_context(cafile=str(pki.ca_cert))


def test_https_from_the_settings(pki: LocalPki, asset_store: AssetStore, situation: Any) -> None:
    settings = MapSettings(port=0, token=TOKEN, tls_certfile=str(pki.broker_cert), tls_keyfile=str(pki.broker_key))
    store = SituationStore(situation.zones)
    for ups in situation.tracks.values():
        store.apply_tracks(ups)
    server = serve_live_map(store, settings, assets=asset_store, zones=situation.zones)
    try:
        assert server.url.startswith("https://127.0.0.1:")
        tls = _client_context(pki)
        r = get(server.port, headers={"Authorization": f"Bearer {TOKEN}"}, tls=tls)
        assert r.status == 200 and b'"tracks": 5' in r.body
        r.assert_secure("https")
        assert r.headers["strict-transport-security"] == "max-age=31536000"
        login = get(server.port, f"/?token={TOKEN}", tls=tls)
        assert SimpleCookie(login.cookies[0])[SESSION_COOKIE]["secure"]
        # urllib with the CA trusted, by name
        req = urllib.request.Request(f"https://localhost:{server.port}/api/status",
                                     headers={"Authorization": f"Bearer {TOKEN}"})
        with urllib.request.urlopen(req, context=tls, timeout=10) as resp:  # noqa: S310 - loopback
            assert resp.status == 200
        # a client that does not trust the CA is refused by its own TLS check
        with pytest.raises(ssl.SSLCertVerificationError):
            get(server.port, tls=ssl.create_default_context())
        # plain HTTP to the HTTPS port gets no page
        assert b"tracks" not in raw_request(server.port, b"GET /api/status HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n").body
    finally:
        server.stop()


def test_https_page_in_chromium(pki: LocalPki, asset_store: AssetStore, situation: Any, browser: Any) -> None:
    """The live page over HTTPS, logged in with the token, in Chromium (certificate errors ignored
    for this test only: the throwaway CA is not in Chromium's store)."""
    store = SituationStore(situation.zones)
    for ups in situation.tracks.values():
        store.apply_tracks(ups)
    settings = MapSettings(port=0, token=TOKEN, refresh_s=0.5, tls_certfile=str(pki.broker_cert),
                           tls_keyfile=str(pki.broker_key))
    server = serve_live_map(store, settings, assets=asset_store, zones=situation.zones)
    insecure = launch_browser(browser, "--ignore-certificate-errors")
    try:
        page = insecure.new_page(viewport={"width": 1280, "height": 860})
        errors: list[str] = []
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        page.goto(f"https://localhost:{server.port}/?token={TOKEN}")
        assert page.url == f"https://localhost:{server.port}/"
        wait_until(page, "document.querySelectorAll('.cw-track').length === 5", 20)
        screenshot(page, "live-map-https")
        assert errors == []
    finally:
        insecure.close()
        server.stop()


def test_tls_files_that_do_not_fit_are_a_clear_error(pki: LocalPki, tmp_path: Path) -> None:
    with pytest.raises(MapServerError, match="the key does not belong to the certificate"):
        tls_context(MapSettings(tls_certfile=str(pki.broker_cert), tls_keyfile=str(pki.client_key),
                                tls_key_password="client-Password"))
    with pytest.raises(MapServerError, match="the key is encrypted and no password is configured"):
        tls_context(MapSettings(tls_certfile=str(pki.client_cert), tls_keyfile=str(pki.client_key)))
    with pytest.raises(MapServerError, match="map.tls_keyfile: .*no such file"):
        tls_context(MapSettings(tls_certfile=str(pki.broker_cert), tls_keyfile=str(tmp_path / "none.key")))


def test_off_loopback_needs_a_token_and_allowed_hosts_are_checked(asset_store: AssetStore) -> None:
    with pytest.raises(MapServerError, match="needs a token"):
        LiveMapServer(SituationStore(), host="0.0.0.0", assets=asset_store)
    with pytest.raises(MapServerError, match="allowed_hosts"):
        LiveMapServer(SituationStore(), assets=asset_store, allowed_hosts=("bad host",))
