"""TLS files named in the settings, loaded the way the clients and the map server load them.

:func:`server_context` is the map server's HTTPS context; :func:`check_client_files`
loads a Kafka client's CA, certificate and key into a throwaway context, so that
``closewatch config check`` finds a wrong path, a file that is not PEM, a key that does
not belong to its certificate or a wrong key password before a client meets them.
Errors are :class:`TlsFileError` (a ValueError) naming the file and the reason.
"""

from __future__ import annotations

import os
import ssl
from pathlib import Path

__all__ = ["TlsFileError", "check_client_files", "server_context"]


class TlsFileError(ValueError):
    """A TLS file named in the settings cannot be used (the message names it and why);
    ``role`` says which: ``cafile``, ``certfile`` or ``keyfile``."""

    def __init__(self, message: str, role: str) -> None:
        super().__init__(message)
        self.role = role


def _readable(path: str, role: str) -> None:
    p = Path(path)
    if not p.exists():
        raise TlsFileError(f"{path}: no such file", role)
    if p.is_dir():
        raise TlsFileError(f"{path}: is a directory, not a file", role)
    if not os.access(p, os.R_OK):
        raise TlsFileError(f"{path}: not readable (permission denied)", role)


class _EncryptedKey(Exception):
    pass


def _no_password() -> bytes:
    # Without a password OpenSSL would ask for one on the terminal: a service must not wait there.
    raise _EncryptedKey


def _encrypted_pem(keyfile: str) -> bool:
    """Whether the PEM key is encrypted (PKCS #8 ``ENCRYPTED PRIVATE KEY``, RFC 5958, or the
    legacy ``Proc-Type: 4,ENCRYPTED`` header of RFC 1421)."""
    try:
        with open(keyfile, "rb") as f:
            head = f.read(4096)
    except OSError:
        return False
    return b"-----BEGIN ENCRYPTED PRIVATE KEY-----" in head or b"Proc-Type: 4,ENCRYPTED" in head


def _load_identity(context: ssl.SSLContext, certfile: str, keyfile: str, password: str | None) -> None:
    _readable(certfile, "certfile")
    _readable(keyfile, "keyfile")
    try:
        context.load_cert_chain(certfile, keyfile, password if password is not None else _no_password)
    except _EncryptedKey as e:
        raise TlsFileError(f"{keyfile}: the key is encrypted and no password is configured", "keyfile") from e
    except (ssl.SSLError, OSError, ValueError) as e:
        text = str(e)
        if "KEY_VALUES_MISMATCH" in text:
            reason = "the key does not belong to the certificate"
        elif password is not None and _encrypted_pem(keyfile):
            reason = "the key cannot be decrypted with the configured password"
        else:
            reason = f"not a PEM certificate chain and private key ({text})"
        raise TlsFileError(f"{certfile} with {keyfile}: {reason}", "certfile") from e


def server_context(certfile: str, keyfile: str, password: str | None = None) -> ssl.SSLContext:
    """An HTTPS server context (TLS 1.2 or later) with the certificate chain and key (PEM)."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    _load_identity(context, certfile, keyfile, password)
    return context


def check_client_files(
    cafile: str | None, certfile: str | None, keyfile: str | None, password: str | None = None
) -> None:
    """Load a client's trusted CA file and its certificate and key (each optional)."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    if cafile is not None:
        _readable(cafile, "cafile")
        try:
            context.load_verify_locations(cafile=cafile)
        except (ssl.SSLError, OSError, ValueError) as e:
            raise TlsFileError(f"{cafile}: not a PEM certificate file ({e})", "cafile") from e
    if certfile is not None and keyfile is not None:
        _load_identity(context, certfile, keyfile, password)
