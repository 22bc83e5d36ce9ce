"""Host names and addresses as they appear in settings and in HTTP ``Host`` headers.

One parser for both, so the map server compares what the configuration allows with
what a browser sends in the same canonical form: lower case, no trailing dot, an IPv6
address compressed and without its brackets.

Grammar: RFC 9110 section 7.2 (``Host = uri-host [ ":" port ]``) with ``uri-host`` from
RFC 3986 section 3.2.2 (an IPv4 address, an IPv6 literal in brackets, or a registered
name); registered names are restricted to DNS labels (RFC 1123 section 2.1: letters,
digits and hyphens, 1 to 63 characters a label, 253 in all; underscores are tolerated).
"""

from __future__ import annotations

import ipaddress
import re

__all__ = ["LOOPBACK_NAMES", "canonical_host", "is_loopback_host", "split_host_port"]

LOOPBACK_NAMES = ("127.0.0.1", "localhost", "::1")
"""The loopback names the map server answers to by default (canonical form)."""

_LABEL = re.compile(r"(?!-)[a-z0-9_-]{1,63}(?<!-)")
_PORT = re.compile(r"[0-9]{1,5}")


def canonical_host(host: str) -> str:
    """``host`` (a name, an IPv4 address, or an IPv6 address with or without brackets) in
    canonical form; a ValueError says what is wrong."""
    h = host.strip()
    if h.startswith("[") and h.endswith("]"):
        try:
            return str(ipaddress.IPv6Address(h[1:-1]))
        except ValueError as e:
            raise ValueError(f"{host!r}: not an IPv6 address in brackets") from e
    if ":" in h:
        try:
            return str(ipaddress.IPv6Address(h))
        except ValueError as e:
            raise ValueError(f"{host!r}: not a host name or address") from e
    name = h.lower().removesuffix(".")
    if not name or len(name) > 253:
        raise ValueError(f"{host!r}: not a host name (1 to 253 characters)")
    if all(part.isdigit() for part in name.split(".")):
        try:
            return str(ipaddress.IPv4Address(name))
        except ValueError as e:
            raise ValueError(f"{host!r}: not an IPv4 address") from e
    if not all(_LABEL.fullmatch(label) for label in name.split(".")):
        raise ValueError(f"{host!r}: not a host name (letters, digits and hyphens between dots)")
    return name


def split_host_port(text: str) -> tuple[str, int | None]:
    """``"name"``, ``"name:8765"``, ``"[::1]"`` or ``"[::1]:8765"`` as (canonical host, port or
    None); a ValueError says what is wrong."""
    t = text.strip()
    port: str | None = None
    if t.startswith("["):
        end = t.find("]")
        if end < 0:
            raise ValueError(f"{text!r}: unclosed '[' of an IPv6 address")
        host, rest = t[: end + 1], t[end + 1 :]
        if rest:
            if not rest.startswith(":"):
                raise ValueError(f"{text!r}: unexpected {rest!r} after the IPv6 address")
            port = rest[1:]
    elif t.count(":") == 1:
        host, port = t.split(":")
    elif ":" in t:
        raise ValueError(f"{text!r}: an IPv6 address needs brackets ([::1]:8765)")
    else:
        host = t
    if port is None:
        return canonical_host(host), None
    if not _PORT.fullmatch(port) or not 0 < int(port) <= 65535:
        raise ValueError(f"{text!r}: port {port!r} is not a number from 1 to 65535")
    return canonical_host(host), int(port)


def is_loopback_host(host: str) -> bool:
    """Whether ``host`` names this machine only: ``localhost`` or a loopback address
    (127.0.0.0/8, ::1)."""
    try:
        h = canonical_host(host)
    except ValueError:
        return False
    if h == "localhost":
        return True
    try:
        return ipaddress.ip_address(h).is_loopback
    except ValueError:
        return False
