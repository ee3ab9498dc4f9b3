"""Certificates and keys for the local test control plane.

TEST HARNESS ONLY. Generates, with the ``cryptography`` package:

* a self-signed cluster CA (``ca.crt``/``ca.key``), used as ``--client-ca-file`` and ``--root-ca-file``;
* the kube-apiserver serving certificate for ``127.0.0.1``/``localhost``/``kubernetes.default.svc``;
* client certificates for the admin (``O=system:masters``) and for kube-controller-manager
  (``CN=system:kube-controller-manager``), each written into a kubeconfig, and the aggregation
  front-proxy client (``CN=front-proxy-client``; one CA signs everything, fine for a test cluster);
* the service-account signing key pair (``sa.key``/``sa.pub``).

EC P-256 keys keep generation fast (a few milliseconds each).
"""

from __future__ import annotations

import datetime as dt
import ipaddress
from dataclasses import dataclass
from pathlib import Path

import yaml
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

_VALIDITY = dt.timedelta(days=7)


@dataclass(frozen=True)
class Pki:
    """Paths of the generated certificate material."""

    dir: Path
    ca_crt: Path
    ca_key: Path
    apiserver_crt: Path
    apiserver_key: Path
    admin_crt: Path
    admin_key: Path
    kcm_crt: Path
    kcm_key: Path
    front_proxy_crt: Path
    front_proxy_key: Path
    sa_key: Path
    sa_pub: Path


def _key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


def _write_key(key: ec.EllipticCurvePrivateKey, path: Path) -> None:
    path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.TraditionalOpenSSL,
            serialization.NoEncryption(),
        )
    )
    path.chmod(0o600)


def _write_cert(cert: x509.Certificate, path: Path) -> None:
    path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))


def _name(common_name: str, organization: str | None = None) -> x509.Name:
    attrs = [x509.NameAttribute(NameOID.COMMON_NAME, common_name)]
    if organization:
        attrs.append(x509.NameAttribute(NameOID.ORGANIZATION_NAME, organization))
    return x509.Name(attrs)


def _issue(
    ca_cert: x509.Certificate,
    ca_key: ec.EllipticCurvePrivateKey,
    subject: x509.Name,
    key: ec.EllipticCurvePrivateKey,
    *,
    server: bool,
    dns_names: list[str] | None = None,
    ips: list[str] | None = None,
) -> x509.Certificate:
    now = dt.datetime.now(dt.UTC)
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(ca_cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + _VALIDITY)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=True,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=False,
                crl_sign=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(
            x509.ExtendedKeyUsage(
                [ExtendedKeyUsageOID.SERVER_AUTH if server else ExtendedKeyUsageOID.CLIENT_AUTH]
            ),
            critical=False,
        )
    )
    if server:
        sans: list[x509.GeneralName] = [x509.DNSName(n) for n in dns_names or []]
        sans += [x509.IPAddress(ipaddress.ip_address(i)) for i in ips or []]
        builder = builder.add_extension(x509.SubjectAlternativeName(sans), critical=False)
    return builder.sign(ca_key, hashes.SHA256())


def generate_pki(directory: Path) -> Pki:
    """Write a fresh CA, serving/client certificates and the service-account key pair into ``directory``."""
    directory.mkdir(parents=True, exist_ok=True)
    now = dt.datetime.now(dt.UTC)
    ca_key = _key()
    ca_name = _name("safe-synthesizer-test-ca")
    ca_cert = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + _VALIDITY)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    pki = Pki(
        dir=directory,
        ca_crt=directory / "ca.crt",
        ca_key=directory / "ca.key",
        apiserver_crt=directory / "apiserver.crt",
        apiserver_key=directory / "apiserver.key",
        admin_crt=directory / "admin.crt",
        admin_key=directory / "admin.key",
        kcm_crt=directory / "kube-controller-manager.crt",
        kcm_key=directory / "kube-controller-manager.key",
        front_proxy_crt=directory / "front-proxy-client.crt",
        front_proxy_key=directory / "front-proxy-client.key",
        sa_key=directory / "sa.key",
        sa_pub=directory / "sa.pub",
    )
    _write_cert(ca_cert, pki.ca_crt)
    _write_key(ca_key, pki.ca_key)

    server_key = _key()
    server_cert = _issue(
        ca_cert,
        ca_key,
        _name("kube-apiserver"),
        server_key,
        server=True,
        dns_names=[
            "localhost",
            "kubernetes",
            "kubernetes.default",
            "kubernetes.default.svc",
            "kubernetes.default.svc.cluster.local",
        ],
        ips=["127.0.0.1", "10.0.0.1"],
    )
    _write_cert(server_cert, pki.apiserver_crt)
    _write_key(server_key, pki.apiserver_key)

    for subject, crt, key_path in (
        (_name("safe-synth-admin", "system:masters"), pki.admin_crt, pki.admin_key),
        (_name("system:kube-controller-manager"), pki.kcm_crt, pki.kcm_key),
        (_name("front-proxy-client"), pki.front_proxy_crt, pki.front_proxy_key),
    ):
        client_key = _key()
        _write_cert(_issue(ca_cert, ca_key, subject, client_key, server=False), crt)
        _write_key(client_key, key_path)

    sa_key = _key()
    _write_key(sa_key, pki.sa_key)
    pki.sa_pub.write_bytes(
        sa_key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    )
    return pki


def write_kubeconfig(
    path: Path,
    server: str,
    ca_crt: Path,
    *,
    user: str,
    client_crt: Path | None = None,
    client_key: Path | None = None,
    token_file: Path | None = None,
    namespace: str | None = None,
) -> Path:
    """Write a kubeconfig for ``server`` with a client certificate or a bearer-token file."""
    user_entry: dict[str, str] = {}
    if client_crt and client_key:
        user_entry = {"client-certificate": str(client_crt), "client-key": str(client_key)}
    elif token_file:
        user_entry = {"tokenFile": str(token_file)}
    context: dict[str, str] = {"cluster": "safe-synth-test", "user": user}
    if namespace:
        context["namespace"] = namespace
    config = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [
            {
                "name": "safe-synth-test",
                "cluster": {"server": server, "certificate-authority": str(ca_crt)},
            }
        ],
        "users": [{"name": user, "user": user_entry}],
        "contexts": [{"name": "safe-synth-test", "context": context}],
        "current-context": "safe-synth-test",
    }
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    path.chmod(0o600)
    return path


def write_self_signed(cert_path: Path, key_path: Path, common_name: str, ips: list[str]) -> None:
    """A self-signed serving certificate (the node agent's log server; the apiserver does not verify it)."""
    now = dt.datetime.now(dt.UTC)
    key = _key()
    name = _name(common_name)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + _VALIDITY)
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address(i)) for i in ips]),
            critical=False,
        )
        .sign(key, hashes.SHA256())
    )
    cert_path.parent.mkdir(parents=True, exist_ok=True)
    _write_cert(cert, cert_path)
    _write_key(key, key_path)


def issue_serving_cert(
    ca_crt: Path, ca_key: Path, cert_path: Path, key_path: Path, common_name: str, ips: list[str]
) -> None:
    """A serving certificate signed by the cluster CA (``ca_crt``/``ca_key`` of ``generate_pki``), for
    servers the kube-apiserver calls and verifies, e.g. a webhook registered by URL on ``127.0.0.1``."""
    ca_cert = x509.load_pem_x509_certificate(ca_crt.read_bytes())
    signer = serialization.load_pem_private_key(ca_key.read_bytes(), password=None)
    assert isinstance(signer, ec.EllipticCurvePrivateKey)
    key = _key()
    cert = _issue(ca_cert, signer, _name(common_name), key, server=True, ips=ips)
    cert_path.parent.mkdir(parents=True, exist_ok=True)
    _write_cert(cert, cert_path)
    _write_key(key, key_path)
