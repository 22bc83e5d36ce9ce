"""A throwaway certificate authority for TLS to the local broker (tests and demos only).

:func:`make_local_pki` writes, in PEM (RFC 7468), a self-signed CA, a server
certificate for the local broker (subject alternative names ``127.0.0.1`` and
``localhost``, RFC 5280 section 4.2.1.6) and a client certificate for mutual TLS,
all signed by that CA, with ECDSA P-256 keys. The broker reads them through
Kafka's PEM key and trust stores (``ssl.keystore.type=PEM``, KIP-651), the
clients through ``kafka.ssl_cafile`` / ``ssl_certfile`` / ``ssl_keyfile``.

These certificates are for a cluster that lives as long as a test: a production
cluster's certificates come from the operations centre's own PKI. Needs the
``cryptography`` package (the ``test`` extra).
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

from alerts.errors import AlertsError

__all__ = ["LocalPki", "make_local_pki"]


@dataclass(frozen=True)
class LocalPki:
    """Paths of the PEM files :func:`make_local_pki` wrote.

    ``ca_cert``: what clients trust (``kafka.ssl_cafile``) and what the broker
    trusts for client certificates. ``broker_cert``/``broker_key``: the broker's
    certificate (chain: itself, then the CA) and its unencrypted PKCS #8 key.
    ``client_cert``/``client_key``: a client identity for mutual TLS; the key is
    encrypted with ``client_key_password`` when one was given.
    """

    directory: Path
    ca_cert: Path
    broker_cert: Path
    broker_key: Path
    client_cert: Path
    client_key: Path
    client_key_password: str | None = None


def _crypto() -> Any:
    try:
        import cryptography  # noqa: F401
    except ImportError as e:
        raise AlertsError(
            "making test certificates needs the 'cryptography' package: pip install -e '.[test]'"
        ) from e
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    return x509, hashes, serialization, ec, ExtendedKeyUsageOID, NameOID


def _write(path: Path, data: bytes, private: bool = False) -> Path:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600 if private else 0o644)
    with os.fdopen(fd, "wb") as f:
        f.write(data)
    return path


def make_local_pki(
    directory: str | Path,
    *,
    hosts: Sequence[str] = ("127.0.0.1", "localhost"),
    ca_name: str = "closewatch local test CA",
    client_name: str = "closewatch",
    client_key_password: str | None = None,
    valid_days: int = 2,
) -> LocalPki:
    """Write a CA, a broker certificate for ``hosts`` and a client certificate into ``directory``.

    ``hosts`` are IP addresses or DNS names, all put in the broker certificate's
    subject alternative names (clients check the address they dial against them).
    Private key files are created with mode 0600.
    """
    x509, hashes, serialization, ec, eku, name_oid = _crypto()
    out = Path(directory)
    out.mkdir(parents=True, exist_ok=True)
    now = dt.datetime.now(dt.timezone.utc) - dt.timedelta(minutes=5)  # tolerate small clock skew
    until = now + dt.timedelta(days=valid_days)

    def name(cn: str) -> Any:
        return x509.Name([x509.NameAttribute(name_oid.COMMON_NAME, cn),
                          x509.NameAttribute(name_oid.ORGANIZATION_NAME, "closewatch tests")])

    def key() -> Any:
        return ec.generate_private_key(ec.SECP256R1())

    ca_key = key()
    ca_subject = name(ca_name)
    ca_ski = x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key())
    ca = (
        x509.CertificateBuilder()
        .subject_name(ca_subject)
        .issuer_name(ca_subject)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now)
        .not_valid_after(until)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(x509.KeyUsage(digital_signature=True, key_cert_sign=True, crl_sign=True,
                                     content_commitment=False, key_encipherment=False, data_encipherment=False,
                                     key_agreement=False, encipher_only=False, decipher_only=False), critical=True)
        .add_extension(ca_ski, critical=False)
        .sign(ca_key, hashes.SHA256())
    )

    def leaf(cn: str, leaf_key: Any, sans: list[Any], usages: list[Any]) -> Any:
        builder = (
            x509.CertificateBuilder()
            .subject_name(name(cn))
            .issuer_name(ca_subject)
            .public_key(leaf_key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now)
            .not_valid_after(until)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.KeyUsage(digital_signature=True, key_cert_sign=False, crl_sign=False,
                                         content_commitment=False, key_encipherment=False, data_encipherment=False,
                                         key_agreement=True, encipher_only=False, decipher_only=False), critical=True)
            .add_extension(x509.ExtendedKeyUsage(usages), critical=False)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(leaf_key.public_key()), critical=False)
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ca_ski), critical=False)
        )
        if sans:
            builder = builder.add_extension(x509.SubjectAlternativeName(sans), critical=False)
        return builder.sign(ca_key, hashes.SHA256())

    sans: list[Any] = []
    for h in hosts:
        try:
            sans.append(x509.IPAddress(ipaddress.ip_address(h)))
        except ValueError:
            sans.append(x509.DNSName(h))
    broker_key = key()
    # The broker also dials itself (inter-broker listener): server and client use.
    broker = leaf(hosts[0] if hosts else "localhost", broker_key, sans,
                  [eku.SERVER_AUTH, eku.CLIENT_AUTH])
    client_key = key()
    client = leaf(client_name, client_key, [], [eku.CLIENT_AUTH])

    pem = serialization.Encoding.PEM
    pkcs8 = serialization.PrivateFormat.PKCS8
    plain = serialization.NoEncryption()
    client_enc = (serialization.BestAvailableEncryption(client_key_password.encode("utf-8"))
                  if client_key_password else plain)
    ca_pem = ca.public_bytes(pem)
    return LocalPki(
        directory=out,
        ca_cert=_write(out / "ca.pem", ca_pem),
        broker_cert=_write(out / "broker.pem", broker.public_bytes(pem) + ca_pem),
        broker_key=_write(out / "broker.key", broker_key.private_bytes(pem, pkcs8, plain), private=True),
        client_cert=_write(out / "client.pem", client.public_bytes(pem)),
        client_key=_write(out / "client.key", client_key.private_bytes(pem, pkcs8, client_enc), private=True),
        client_key_password=client_key_password,
    )
